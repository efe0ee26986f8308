//! A pack's manifest: what `describe` returned, checked and kept in the store.
//!
//! `describe` output comes from third-party code, so every field is validated before the host
//! relies on it: names usable in workflows, a real version, unique actions, schemas that compile
//! and whose checks the host can bound. Counts and sizes are capped first and every check is
//! linear, so a hostile description costs the host little (the runtime caps the whole
//! description at 4 MiB before it gets here).

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::contract::PackInfo;
use crate::policy::grants::{Capability, Grant};
use crate::schema::Schema;

/// The checked description of a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Pack name.
    pub name: String,
    /// Semantic version.
    pub version: String,
    /// Vendor.
    pub vendor: String,
    /// Description.
    pub description: String,
    /// Actions, in the pack's order.
    pub actions: Vec<ActionSpec>,
    /// Destinations the pack asks to reach.
    pub destinations: Vec<Destination>,
}

/// One action of a pack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionSpec {
    /// Action name.
    pub name: String,
    /// Description.
    pub description: String,
    /// JSON Schema of the input.
    pub input_schema: Value,
    /// JSON Schema of the output.
    pub output_schema: Value,
    /// Whether a blind retry is harmless.
    pub idempotent: bool,
}

/// A destination a pack asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Destination {
    /// `http` or `ssh`.
    pub kind: String,
    /// Host pattern with optional port.
    pub pattern: String,
    /// Why the pack needs it.
    pub reason: String,
}

/// Most actions a pack may declare.
pub const MAX_ACTIONS: usize = 4096;
/// Most destinations a pack may ask for.
pub const MAX_DESTINATIONS: usize = 256;
/// Largest JSON Schema of one action's input or output.
pub const MAX_SCHEMA_BYTES: usize = 512 << 10;
/// Longest vendor, version and destination reason.
pub const MAX_SHORT_TEXT: usize = 256;
/// Longest description (of the pack or of an action).
pub const MAX_DESCRIPTION: usize = 4096;

/// Why a pack's description is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Bad pack name.
    #[error(
        "the pack calls itself {0:?}; a pack name is 1-64 lowercase letters, digits, `_` or `-`, \
         starting with a letter"
    )]
    Name(String),
    /// Bad version.
    #[error(
        "pack {pack:?} declares version {version:?}, which is not a semantic version ({reason})"
    )]
    Version {
        /// Pack name.
        pack: String,
        /// The version given.
        version: String,
        /// The parser's complaint.
        reason: String,
    },
    /// No actions.
    #[error("pack {0:?} declares no actions")]
    NoActions(String),
    /// Bad action name.
    #[error(
        "pack {pack:?} has an action named {action:?}; an action name is 1-64 lowercase letters, \
         digits or `_`, starting with a letter"
    )]
    ActionName {
        /// Pack name.
        pack: String,
        /// The action name given.
        action: String,
    },
    /// Two actions of the same name.
    #[error("pack {pack:?} declares the action {action:?} twice")]
    DuplicateAction {
        /// Pack name.
        pack: String,
        /// The duplicated name.
        action: String,
    },
    /// A schema that is not JSON or not a JSON Schema.
    #[error("pack {pack:?} action {action:?} has an invalid {which} schema: {reason}")]
    Schema {
        /// Pack name.
        pack: String,
        /// Action name.
        action: String,
        /// `input` or `output`.
        which: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// More of something than the host accepts.
    #[error("pack {pack:?} declares {count} {what}; the host accepts at most {max}")]
    TooMany {
        /// Pack name.
        pack: String,
        /// What there are too many of.
        what: &'static str,
        /// How many.
        count: usize,
        /// The cap.
        max: usize,
    },
    /// A text longer than the host accepts.
    #[error("pack {pack:?} has a {what} of {len} bytes; the host accepts at most {max}")]
    TooLong {
        /// Pack name.
        pack: String,
        /// Which text.
        what: String,
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A destination of an unknown kind.
    #[error(
        "pack {pack:?} asks for a destination of kind {kind:?}; the kinds are `http`, `ssh` and `catalog`"
    )]
    DestinationKind {
        /// Pack name.
        pack: String,
        /// The kind given.
        kind: String,
    },
    /// A destination whose pattern does not parse.
    #[error(
        "pack {pack:?} asks for the {kind} destination {pattern:?}, which is not valid: \
         {reason}; write [http://|https://]HOST[:PORT] for http, HOST[:PORT] or `inventory` for \
         ssh, `inventory` or a collection name for catalog (a native test calling \
         PackDef::validate() finds this before a build)"
    )]
    DestinationPattern {
        /// Pack name.
        pack: String,
        /// The destination's kind.
        kind: String,
        /// The pattern given.
        pattern: String,
        /// The parser's complaint.
        reason: String,
    },
}

/// Whether `name` may name a pack: 1-64 lowercase letters, digits, `_` or `-`, starting with a
/// letter.
pub fn is_pack_name(name: &str) -> bool {
    is_name(name, &['_', '-'])
}

fn is_name(name: &str, extra: &[char]) -> bool {
    let mut chars = name.chars();
    (1..=64).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
}

impl Destination {
    /// The grant that would give the pack this destination, canonical.
    pub fn as_grant(&self) -> Option<Grant> {
        let capability = match self.kind.as_str() {
            "http" => Capability::Http,
            "ssh" => Capability::Ssh,
            "catalog" => Capability::Catalog,
            _ => return None,
        };
        Grant::for_capability(capability, &self.pattern).ok()
    }
}

impl Manifest {
    /// Checks `info` and turns it into a manifest.
    pub fn from_info(info: PackInfo) -> Result<Self, ManifestError> {
        let pack = info.name.clone();
        if !is_pack_name(&pack) {
            return Err(ManifestError::Name(pack));
        }
        if let Err(err) = semver::Version::parse(&info.version) {
            return Err(ManifestError::Version {
                pack,
                version: info.version,
                reason: err.to_string(),
            });
        }
        if info.actions.is_empty() {
            return Err(ManifestError::NoActions(pack));
        }
        let too_many = |what, count, max| {
            (count > max).then(|| ManifestError::TooMany {
                pack: info.name.clone(),
                what,
                count,
                max,
            })
        };
        if let Some(err) = too_many("actions", info.actions.len(), MAX_ACTIONS)
            .or_else(|| too_many("destinations", info.destinations.len(), MAX_DESTINATIONS))
        {
            return Err(err);
        }
        check_len(&pack, "version", &info.version, MAX_SHORT_TEXT)?;
        check_len(&pack, "vendor", &info.vendor, MAX_SHORT_TEXT)?;
        check_len(&pack, "description", &info.description, MAX_DESCRIPTION)?;
        let mut actions: Vec<ActionSpec> = Vec::with_capacity(info.actions.len());
        let mut seen: HashSet<String> = HashSet::with_capacity(info.actions.len());
        for action in info.actions {
            if !is_name(&action.name, &['_']) {
                return Err(ManifestError::ActionName {
                    pack,
                    action: action.name,
                });
            }
            if !seen.insert(action.name.clone()) {
                return Err(ManifestError::DuplicateAction {
                    pack,
                    action: action.name,
                });
            }
            let what = |field: &str| format!("{field} of action {:?}", action.name);
            check_len(
                &pack,
                &what("description"),
                &action.description,
                MAX_DESCRIPTION,
            )?;
            check_len(
                &pack,
                &what("input schema"),
                &action.input_schema,
                MAX_SCHEMA_BYTES,
            )?;
            check_len(
                &pack,
                &what("output schema"),
                &action.output_schema,
                MAX_SCHEMA_BYTES,
            )?;
            let input_schema = parse_schema(&pack, &action.name, "input", &action.input_schema)?;
            let output_schema = parse_schema(&pack, &action.name, "output", &action.output_schema)?;
            actions.push(ActionSpec {
                name: action.name,
                description: action.description,
                input_schema,
                output_schema,
                idempotent: action.idempotent,
            });
        }
        let mut destinations = Vec::with_capacity(info.destinations.len());
        for destination in info.destinations {
            check_len(
                &pack,
                "destination reason",
                &destination.reason,
                MAX_SHORT_TEXT,
            )?;
            check_len(
                &pack,
                "destination pattern",
                &destination.pattern,
                MAX_SHORT_TEXT,
            )?;
            let capability = match destination.kind.as_str() {
                "http" => Capability::Http,
                "ssh" => Capability::Ssh,
                "catalog" => Capability::Catalog,
                _ => {
                    return Err(ManifestError::DestinationKind {
                        pack,
                        kind: destination.kind,
                    });
                }
            };
            if let Err(err) = Grant::for_capability(capability, &destination.pattern) {
                return Err(ManifestError::DestinationPattern {
                    pack,
                    kind: destination.kind,
                    pattern: destination.pattern,
                    reason: err.reason,
                });
            }
            destinations.push(Destination {
                kind: destination.kind,
                pattern: destination.pattern,
                reason: destination.reason,
            });
        }
        Ok(Self {
            name: pack,
            version: info.version,
            vendor: info.vendor,
            description: info.description,
            actions,
            destinations,
        })
    }

    /// The action called `name`.
    pub fn action(&self, name: &str) -> Option<&ActionSpec> {
        self.actions.iter().find(|a| a.name == name)
    }

    /// Action names, comma-separated, for error messages.
    pub fn action_names(&self) -> String {
        self.actions
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn check_len(pack: &str, what: &str, text: &str, max: usize) -> Result<(), ManifestError> {
    if text.len() > max {
        return Err(ManifestError::TooLong {
            pack: pack.to_owned(),
            what: what.to_owned(),
            len: text.len(),
            max,
        });
    }
    Ok(())
}

fn parse_schema(
    pack: &str,
    action: &str,
    which: &'static str,
    text: &str,
) -> Result<Value, ManifestError> {
    let error = |reason: String| ManifestError::Schema {
        pack: pack.to_owned(),
        action: action.to_owned(),
        which,
        reason,
    };
    let schema: Value =
        serde_json::from_str(text).map_err(|err| error(format!("not JSON: {err}")))?;
    Schema::compile(&schema).map_err(error)?;
    Ok(schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::orch::pack::types::{ActionInfo, Destination as WitDestination};

    fn info() -> PackInfo {
        PackInfo {
            name: "netdev".into(),
            version: "1.2.0".into(),
            vendor: "Acme".into(),
            description: "devices".into(),
            actions: vec![ActionInfo {
                name: "get_config".into(),
                description: "get".into(),
                input_schema: r#"{"type":"object"}"#.into(),
                output_schema: "true".into(),
                idempotent: true,
            }],
            destinations: vec![WitDestination {
                kind: "ssh".into(),
                pattern: "inventory".into(),
                reason: "devices".into(),
            }],
        }
    }

    /// The SDK's `PackDef::validate` promises the verdicts of `pack add`: both read this table
    /// (`sdk/tests/destination_cases.json`), so the two sets of rules cannot drift apart.
    #[test]
    fn destination_patterns_are_judged_as_the_sdk_judges_them() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../sdk/tests/destination_cases.json"
        );
        let table: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let cases = table["cases"].as_array().unwrap();
        assert!(cases.len() > 20, "{path} lists the cases");
        let mut disagreements = Vec::new();
        for case in cases {
            let mut pack = info();
            pack.destinations = vec![WitDestination {
                kind: case["kind"].as_str().unwrap().into(),
                pattern: case["pattern"].as_str().unwrap().into(),
                reason: "a case of the shared table".into(),
            }];
            let accepted = Manifest::from_info(pack).is_ok();
            if accepted != case["accepted"].as_bool().unwrap() {
                disagreements.push(format!("{case} (host: accepted={accepted})"));
            }
        }
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }

    #[test]
    fn a_bad_destination_is_named_once_with_the_fix() {
        let mut pack = info();
        pack.destinations[0].kind = "http".into();
        pack.destinations[0].pattern = "https://api.example.com/v1".into();
        let err = Manifest::from_info(pack).unwrap_err().to_string();
        assert_eq!(err.matches("api.example.com").count(), 1, "{err}");
        assert!(err.contains("PackDef::validate()"), "{err}");
    }

    #[test]
    fn accepts_a_well_formed_description() {
        let manifest = Manifest::from_info(info()).unwrap();
        assert_eq!(
            manifest.action("get_config").unwrap().input_schema["type"],
            "object"
        );
        assert_eq!(manifest.action_names(), "get_config");
    }

    #[test]
    fn rejects_bad_names_versions_duplicates_and_schemas() {
        let mut bad = info();
        bad.name = "Net Dev".into();
        assert!(matches!(
            Manifest::from_info(bad),
            Err(ManifestError::Name(_))
        ));

        let mut bad = info();
        bad.version = "one".into();
        assert!(matches!(
            Manifest::from_info(bad),
            Err(ManifestError::Version { .. })
        ));

        let mut bad = info();
        bad.actions.push(bad.actions[0].clone());
        assert!(matches!(
            Manifest::from_info(bad),
            Err(ManifestError::DuplicateAction { .. })
        ));

        let mut bad = info();
        bad.actions[0].input_schema = "{not json".into();
        let err = Manifest::from_info(bad).unwrap_err().to_string();
        assert!(err.contains("invalid input schema: not JSON"), "{err}");

        let mut bad = info();
        bad.actions = (0..=MAX_ACTIONS)
            .map(|i| ActionInfo {
                name: format!("a{i}"),
                ..info().actions[0].clone()
            })
            .collect();
        let err = Manifest::from_info(bad).unwrap_err().to_string();
        assert!(
            err.contains("4097 actions") && err.contains("at most 4096"),
            "{err}"
        );

        let mut bad = info();
        bad.actions[0].input_schema =
            format!(r#"{{"description":"{}"}}"#, "x".repeat(MAX_SCHEMA_BYTES));
        let err = Manifest::from_info(bad).unwrap_err().to_string();
        assert!(
            err.contains("input schema of action \"get_config\""),
            "{err}"
        );

        let mut bad = info();
        bad.vendor = "v".repeat(MAX_SHORT_TEXT + 1);
        assert!(matches!(
            Manifest::from_info(bad),
            Err(ManifestError::TooLong { .. })
        ));

        let mut bad = info();
        bad.destinations[0].kind = "ftp".into();
        assert!(matches!(
            Manifest::from_info(bad),
            Err(ManifestError::DestinationKind { .. })
        ));
    }
}
