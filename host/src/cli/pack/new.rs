//! `orch pack new NAME --lang rust|python|js`: scaffolds a pack that builds with one documented
//! command, passes `orch pack check`, and shows in its tests how to test actions that use http
//! and ssh natively (the SDK's scripted test host). The templates are in
//! `host/templates/pack-new/`.

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::packs::PackError;
use crate::packs::manifest::is_pack_name;

/// Refuses with a usage error (exit status 2) saying what to do instead.
macro_rules! refuse {
    ($($arg:tt)*) => {
        return Err(PackError::Refused(format!($($arg)*)).into())
    };
}

/// The languages a pack can be scaffolded in.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Language {
    /// A Rust crate on the orch-sdk crate.
    Rust,
    /// A Python module on the orch_sdk package, built with componentize-py.
    Python,
    /// A JavaScript module on the orch-sdk package, bundled with esbuild and built with
    /// componentize-js.
    Js,
}

/// The Rust template: (path in the new crate, text with `{{…}}` placeholders).
const RUST_TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../../templates/pack-new/rust/Cargo.toml"),
    ),
    (
        "src/lib.rs",
        include_str!("../../../templates/pack-new/rust/src/lib.rs"),
    ),
    (
        "README.md",
        include_str!("../../../templates/pack-new/rust/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../../templates/pack-new/rust/gitignore"),
    ),
];

/// The Python template: (path in the new directory, text with `{{…}}` placeholders).
const PYTHON_TEMPLATE: &[(&str, &str)] = &[
    (
        "app.py",
        include_str!("../../../templates/pack-new/python/app.py"),
    ),
    (
        "test_app.py",
        include_str!("../../../templates/pack-new/python/test_app.py"),
    ),
    (
        "README.md",
        include_str!("../../../templates/pack-new/python/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../../templates/pack-new/python/gitignore"),
    ),
];

/// The JavaScript template: (path in the new directory, text with `{{…}}` placeholders).
const JS_TEMPLATE: &[(&str, &str)] = &[
    (
        "package.json",
        include_str!("../../../templates/pack-new/js/package.json"),
    ),
    (
        "pack.js",
        include_str!("../../../templates/pack-new/js/pack.js"),
    ),
    (
        "pack.test.js",
        include_str!("../../../templates/pack-new/js/pack.test.js"),
    ),
    (
        "README.md",
        include_str!("../../../templates/pack-new/js/README.md"),
    ),
    (
        ".gitignore",
        include_str!("../../../templates/pack-new/js/gitignore"),
    ),
];

/// Where the SDK was when this `orch` was built: a checkout's `sdk/` directory (the Rust crate;
/// the Python package is its `python/`, the contract its `wit/`).
const BUILT_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../sdk");

pub fn run(
    name: &str,
    language: Language,
    dir: Option<&Path>,
    sdk: Option<&str>,
) -> anyhow::Result<ExitCode> {
    if !is_pack_name(name) {
        refuse!(
            "{name:?} cannot name a pack: use 1-64 lowercase letters, digits, `_` or `-`, \
             starting with a letter (for example acme-firewall)"
        );
    }
    let dir = dir.map_or_else(|| PathBuf::from(name), Path::to_path_buf);
    if fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some()) {
        refuse!(
            "{} already exists and is not empty; choose another directory with --dir",
            dir.display()
        );
    }
    let (template, placeholders, next) = match language {
        Language::Rust => {
            let sdk = sdk_dependency(sdk)?;
            let crate_name = name.replace('-', "_");
            let next = format!(
                "Rust, on orch-sdk {sdk})\n\nnext:\n  cd {shown}\n  rustup target add \
                 wasm32-wasip2     # once per machine\n  cargo test\n  cargo build --target \
                 wasm32-wasip2 --release\n  orch pack check \
                 target/wasm32-wasip2/release/{crate_name}.wasm\n  orch pack add \
                 target/wasm32-wasip2/release/{crate_name}.wasm",
                shown = dir.display()
            );
            let placeholders = vec![
                ("{{package}}", name.to_owned()),
                ("{{crate}}", crate_name),
                ("{{sdk}}", sdk),
            ];
            (RUST_TEMPLATE, placeholders, next)
        }
        Language::Js => {
            let sdk = js_sdk(sdk)?;
            let wit = fs::canonicalize(sdk.join("../wit"))
                .with_context(|| format!("resolving {}/../wit", sdk.display()))?;
            let (sdk, wit) = (sdk.display().to_string(), wit.display().to_string());
            // Both land in package.json's strings: refuse what would need escaping there.
            if [&sdk, &wit].iter().any(|p| p.contains(['"', '\\'])) {
                refuse!(
                    "the SDK's path {sdk} holds a quote or a backslash, which package.json \
                     cannot take as is; move the orch checkout or pass --sdk with another copy \
                     of sdk/js"
                );
            }
            let next = format!(
                "JavaScript, on orch-sdk in {sdk})\n\nnext:\n  cd {shown}\n  npm install     \
                 # once: the SDK (linked), componentize-js and esbuild, pinned\n  npm test\n  \
                 npm run build\n  orch pack check {name}.wasm\n  orch pack add {name}.wasm",
                shown = dir.display()
            );
            (JS_TEMPLATE, vec![("{{sdk}}", sdk), ("{{wit}}", wit)], next)
        }
        Language::Python => {
            let sdk = python_sdk(sdk)?;
            let wit = sdk.join("../wit");
            let (sdk, wit) = (sdk.display().to_string(), wit.display().to_string());
            let next = format!(
                "Python, on orch_sdk in {sdk})\n\nnext:\n  cd {shown}\n  python3 -m venv .venv \
                 && .venv/bin/pip install componentize-py==0.25.1   # once\n  \
                 PYTHONPATH={sdk} python3 -m unittest\n  .venv/bin/componentize-py -d {wit} -w \
                 pack-with-wasi-http componentize app -p . -p {sdk} -o {name}.wasm\n  orch pack check \
                 {name}.wasm\n  orch pack add {name}.wasm",
                shown = dir.display()
            );
            (
                PYTHON_TEMPLATE,
                vec![("{{sdk}}", sdk), ("{{wit}}", wit)],
                next,
            )
        }
    };
    for (path, text) in template {
        let mut text = text.replace("{{name}}", name);
        for (placeholder, value) in &placeholders {
            text = text.replace(placeholder, value);
        }
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    writeln!(
        std::io::stdout().lock(),
        "created pack {name} in {} ({next}",
        dir.display()
    )?;
    Ok(ExitCode::SUCCESS)
}

/// The dependency line for `orch-sdk`: a path to an SDK directory, a git URL, or the SDK of
/// the checkout this `orch` was built from.
fn sdk_dependency(given: Option<&str>) -> anyhow::Result<String> {
    if let Some(given) = given {
        if given.starts_with("https://") || given.starts_with("ssh://") || given.ends_with(".git") {
            return Ok(format!("{{ git = {} }}", toml_string(given)));
        }
        return sdk_path(Path::new(given));
    }
    sdk_path(Path::new(BUILT_SDK)).map_err(|_| {
        PackError::Refused(format!(
            "cannot find the orch SDK this orch was built with ({BUILT_SDK}); pass --sdk with \
             the sdk/ directory of an orch checkout, or a git URL of the orch repository"
        ))
        .into()
    })
}

/// The directory of the Python `orch_sdk` package's parent: given (`--sdk`, the `sdk/python`
/// directory of an orch checkout), or the one of the checkout this `orch` was built from.
fn python_sdk(given: Option<&str>) -> anyhow::Result<PathBuf> {
    let dir = given.map_or_else(|| Path::new(BUILT_SDK).join("python"), PathBuf::from);
    if !dir.join("orch_sdk").join("__init__.py").is_file() || !dir.join("../wit").is_dir() {
        refuse!(
            "{} is not the orch Python SDK (no orch_sdk package beside a wit/ contract); pass \
             --sdk with the sdk/python directory of an orch checkout",
            dir.display()
        );
    }
    fs::canonicalize(&dir).with_context(|| format!("resolving {}", dir.display()))
}

/// The JavaScript SDK's directory: given (`--sdk`, the `sdk/js` directory of an orch
/// checkout), or the one of the checkout this `orch` was built from.
fn js_sdk(given: Option<&str>) -> anyhow::Result<PathBuf> {
    let dir = given.map_or_else(|| Path::new(BUILT_SDK).join("js"), PathBuf::from);
    let is_sdk = fs::read_to_string(dir.join("package.json"))
        .is_ok_and(|text| text.contains("\"name\": \"orch-sdk\""));
    if !is_sdk || !dir.join("component.js").is_file() || !dir.join("../wit").is_dir() {
        refuse!(
            "{} is not the orch JavaScript SDK (no package.json naming orch-sdk with its \
             component.js, beside a wit/ contract); pass --sdk with the sdk/js directory of an \
             orch checkout",
            dir.display()
        );
    }
    fs::canonicalize(&dir).with_context(|| format!("resolving {}", dir.display()))
}

fn sdk_path(dir: &Path) -> anyhow::Result<String> {
    let Ok(manifest) = fs::read_to_string(dir.join("Cargo.toml")) else {
        refuse!(
            "{} is not the orch SDK (no Cargo.toml); pass --sdk with the sdk/ directory of an \
             orch checkout",
            dir.display()
        );
    };
    if !manifest.contains("name = \"orch-sdk\"") {
        refuse!(
            "{} is not the orch SDK (its Cargo.toml names another crate); pass --sdk with the \
             sdk/ directory of an orch checkout",
            dir.display()
        );
    }
    let absolute = fs::canonicalize(dir).with_context(|| format!("resolving {}", dir.display()))?;
    Ok(format!(
        "{{ path = {} }}",
        toml_string(&absolute.display().to_string())
    ))
}

/// `text` as a TOML basic string.
fn toml_string(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_strings_are_quoted_and_escaped() {
        assert_eq!(toml_string(r#"/a "b"\c"#), r#""/a \"b\"\\c""#);
        assert_eq!(toml_string("a\nb"), r#""a\u000ab""#);
    }

    #[test]
    fn the_sdk_is_a_path_a_git_url_or_refused() {
        assert!(
            sdk_dependency(None)
                .expect("built sdk")
                .starts_with("{ path = ")
        );
        assert_eq!(
            sdk_dependency(Some("https://git.example.com/orch.git")).expect("git"),
            r#"{ git = "https://git.example.com/orch.git" }"#
        );
        let err = sdk_dependency(Some("/nonexistent")).expect_err("no sdk there");
        assert!(err.to_string().contains("--sdk"), "{err}");
    }
}
