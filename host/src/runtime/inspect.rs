//! Checks that a file is a pack before anything runs: a WebAssembly component (not a core
//! module, not something else), exporting the handler of a contract version this host speaks,
//! importing only what the host provides.

use wasmtime::Engine;
use wasmtime::component::Component;
use wasmtime::component::types::ComponentExtern;

use crate::contract::{CONTRACT, HANDLER_INTERFACE};

/// Why a file cannot be a pack.
#[derive(Debug, thiserror::Error)]
pub enum ComponentError {
    /// Not WebAssembly at all.
    #[error(
        "not a WebAssembly file (it does not start with the `\\0asm` magic bytes); a pack is a \
         component built with `cargo build --target wasm32-wasip2`"
    )]
    NotWasm,
    /// WebAssembly text instead of binary.
    #[error(
        "this is WebAssembly text (.wat), not a binary; convert it with `wasm-tools parse` and \
         make a component with `wasm-tools component new`"
    )]
    WasmText,
    /// A core module instead of a component.
    #[error(
        "this is a core WebAssembly module, not a component; build the pack with \
         `cargo build --target wasm32-wasip2` (or wrap the module with `wasm-tools component new`)"
    )]
    CoreModule,
    /// A binary of an unknown WebAssembly version or layer.
    #[error("unsupported WebAssembly binary (version/layer bytes {0:02x?}); expected a component")]
    UnknownEncoding([u8; 4]),
    /// Built against another major or minor version of our contract.
    #[error(
        "the component was built against {found}, but this host speaks {CONTRACT}; rebuild the \
         pack with an orch-sdk for {CONTRACT} or upgrade orch"
    )]
    IncompatibleContract {
        /// The interface name the component uses.
        found: String,
    },
    /// A component of some other world.
    #[error(
        "the component does not export `{HANDLER_INTERFACE}`, so it is not an orch pack (it \
         exports: {exports}); build it against the `pack` world of {CONTRACT}: a Rust pack \
         exports it with `orch_sdk::export_pack!(YourPack);` at the top level of its library \
         (a forgotten export_pack! compiles but exports nothing)"
    )]
    OtherWorld {
        /// What it exports instead, comma-separated.
        exports: String,
    },
    /// Imports something the host does not lend.
    #[error(
        "the component imports {imports}, which this host does not provide; a pack may import \
         only orch:pack interfaces and WASI"
    )]
    UnsupportedImports {
        /// The imports in question, comma-separated.
        imports: String,
    },
    /// wasmtime refused the binary (invalid, or uses features that are off).
    #[error("the component is invalid: {0:#}")]
    Invalid(anyhow::Error),
}

/// Checks the binary's header, before handing it to the compiler.
pub fn check_header(bytes: &[u8]) -> Result<(), ComponentError> {
    const MAGIC: &[u8; 4] = b"\0asm";
    const CORE_MODULE: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
    const COMPONENT: [u8; 4] = [0x0d, 0x00, 0x01, 0x00];
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(256)]);
        if text.trim_start().starts_with("(module") || text.trim_start().starts_with("(component") {
            return Err(ComponentError::WasmText);
        }
        return Err(ComponentError::NotWasm);
    }
    let mut layer = [0u8; 4];
    layer.copy_from_slice(&bytes[4..8]);
    match layer {
        COMPONENT => Ok(()),
        CORE_MODULE => Err(ComponentError::CoreModule),
        other => Err(ComponentError::UnknownEncoding(other)),
    }
}

/// What a component imports and exports, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Imported interface or function names (`orch:pack/log@0.1.0`, `wasi:random/random@0.2.6`).
    pub imports: Vec<String>,
    /// Exported names.
    pub exports: Vec<String>,
}

/// Lists what `component` imports and exports.
pub fn shape(engine: &Engine, component: &Component) -> Shape {
    let ty = component.component_type();
    let names = |items: &mut dyn Iterator<Item = (&str, ComponentExtern<'_>)>| {
        let mut names: Vec<String> = items.map(|(name, _)| name.to_owned()).collect();
        names.sort();
        names
    };
    Shape {
        imports: names(&mut ty.imports(engine)),
        exports: names(&mut ty.exports(engine)),
    }
}

/// Checks that `shape` is a pack of our contract whose imports the host can satisfy.
pub fn check_contract(shape: &Shape) -> Result<(), ComponentError> {
    if !shape.exports.iter().any(|e| e == HANDLER_INTERFACE) {
        if let Some(found) = shape
            .exports
            .iter()
            .find(|e| e.starts_with("orch:pack/handler@"))
        {
            return Err(ComponentError::IncompatibleContract {
                found: found.clone(),
            });
        }
        let exports = if shape.exports.is_empty() {
            "nothing".to_owned()
        } else {
            shape.exports.join(", ")
        };
        return Err(ComponentError::OtherWorld { exports });
    }
    if let Some(found) = shape
        .imports
        .iter()
        .find(|i| i.starts_with("orch:pack/") && !same_contract_minor(i))
    {
        return Err(ComponentError::IncompatibleContract {
            found: found.clone(),
        });
    }
    let unsupported: Vec<&str> = shape
        .imports
        .iter()
        .filter(|i| !(i.starts_with("wasi:") || i.starts_with("orch:pack/")))
        .map(String::as_str)
        .collect();
    if !unsupported.is_empty() {
        return Err(ComponentError::UnsupportedImports {
            imports: unsupported.join(", "),
        });
    }
    Ok(())
}

/// True for `orch:pack/<iface>@0.1.x`: patch releases of the contract are compatible.
fn same_contract_minor(name: &str) -> bool {
    name.split_once('@')
        .is_some_and(|(_, version)| version.starts_with("0.1."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(imports: &[&str], exports: &[&str]) -> Shape {
        Shape {
            imports: imports.iter().map(|s| s.to_string()).collect(),
            exports: exports.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn recognises_text_core_modules_and_garbage() {
        assert!(matches!(
            check_header(b"hello world"),
            Err(ComponentError::NotWasm)
        ));
        assert!(matches!(
            check_header(b"(module)"),
            Err(ComponentError::WasmText)
        ));
        assert!(matches!(
            check_header(b"\0asm\x01\0\0\0"),
            Err(ComponentError::CoreModule)
        ));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
    }

    #[test]
    fn accepts_a_pack_importing_log_and_wasi() {
        let s = shape(
            &["orch:pack/log@0.1.0", "wasi:random/random@0.2.6"],
            &["orch:pack/handler@0.1.0"],
        );
        assert!(check_contract(&s).is_ok());
    }

    #[test]
    fn names_the_version_of_an_incompatible_contract() {
        let s = shape(&["orch:pack/log@2.0.0"], &["orch:pack/handler@2.0.0"]);
        let err = check_contract(&s).unwrap_err().to_string();
        assert!(err.contains("orch:pack/handler@2.0.0"), "{err}");
        assert!(err.contains("orch:pack@0.1.0"), "{err}");
    }

    #[test]
    fn rejects_other_worlds_and_foreign_imports() {
        let s = shape(&[], &["run"]);
        assert!(matches!(
            check_contract(&s),
            Err(ComponentError::OtherWorld { .. })
        ));
        let s = shape(&["acme:secret/door@1.0.0"], &["orch:pack/handler@0.1.0"]);
        let err = check_contract(&s).unwrap_err().to_string();
        assert!(err.contains("acme:secret/door@1.0.0"), "{err}");
    }
}
