//! Grants: what the operator lets a pack reach. Parsing and matching are pure so the rules are
//! tested as tables; the store keeps grants as their canonical text.
//!
//! Syntax (`orch pack grant PACK GRANT`):
//! - `http:[SCHEME://]HOST[:PORT]`: HTTP to HOST (a name, `*.domain`, an IP address or a CIDR
//!   range) on PORT (any port when omitted). Without a scheme only `https` is allowed: plain
//!   `http` must be named (`http:http://127.0.0.1:8080`).
//! - `ssh:HOST[:PORT]`: SSH to HOST on PORT (any port when omitted).
//! - `ssh:inventory`: SSH to any device of the inventory, at the address the inventory gives.
//! - `catalog:inventory`: read the inventory; `catalog:COLLECTION`: read and write the records
//!   of one collection (`catalog:configs`); `catalog:*`: every collection.
//!
//! Loopback and private addresses are reachable only through a grant that names the address or
//! its range (see [`Grants::admits_address`]); a host name that resolves there is refused.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use crate::policy::destination::Binding;

/// The capability a grant opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// The `http` import.
    Http,
    /// The `ssh` import.
    Ssh,
    /// The `catalog` import.
    Catalog,
}

impl Capability {
    /// The name used in grants and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Ssh => "ssh",
            Self::Catalog => "catalog",
        }
    }

    /// The WIT interface that needs this capability.
    pub fn interface(self) -> &'static str {
        match self {
            Self::Http => "orch:pack/http",
            Self::Ssh => "orch:pack/ssh",
            Self::Catalog => "orch:pack/catalog",
        }
    }

    /// The capability an imported interface (`orch:pack/http@0.1.0`,
    /// `wasi:http/outgoing-handler@0.2.6`) uses, if any: the standard http import is brokered
    /// under the same http grants as ours.
    pub fn of_import(import: &str) -> Option<Self> {
        let interface = import.split('@').next().unwrap_or(import);
        [Self::Http, Self::Ssh, Self::Catalog]
            .into_iter()
            .find(|c| c.interface() == interface)
            .or((interface == WASI_HTTP_OUTGOING).then_some(Self::Http))
    }
}

/// The standard outgoing HTTP interface, brokered like `orch:pack/http`.
pub const WASI_HTTP_OUTGOING: &str = "wasi:http/outgoing-handler";

/// URL schemes an http grant can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// `http`
    Http,
    /// `https`
    Https,
}

impl Scheme {
    /// The scheme's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    /// Parses `http` or `https` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "http" => Some(Self::Http),
            "https" => Some(Self::Https),
            _ => None,
        }
    }
}

/// Where a grant lets a pack go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A host pattern (with optional port), and for http the scheme.
    Host {
        /// For http grants; `None` for ssh.
        scheme: Option<Scheme>,
        /// Host and port pattern.
        binding: Binding,
    },
    /// The inventory: any device of it for ssh, reading it for catalog.
    Inventory,
    /// Records of one collection (catalog only); `*` for every collection.
    Collection(String),
}

/// One grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Which capability.
    pub capability: Capability,
    /// Where to.
    pub destination: Destination,
}

/// Why a grant text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid grant {text:?}: {reason}; expected http:[http://|https://]HOST[:PORT], \
     ssh:HOST[:PORT], ssh:inventory, catalog:inventory or catalog:COLLECTION (for example \
     http:https://*.service-now.com, ssh:10.0.0.0/24:22, catalog:configs)"
)]
pub struct BadGrant {
    /// The grant as given.
    pub text: String,
    /// What is wrong.
    pub reason: String,
}

impl FromStr for Grant {
    type Err = BadGrant;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = |reason: String| BadGrant {
            text: text.to_owned(),
            reason,
        };
        let (capability, rest) = text
            .split_once(':')
            .ok_or_else(|| bad("it does not start with http: or ssh:".to_owned()))?;
        let capability = match capability.to_ascii_lowercase().as_str() {
            "http" => Capability::Http,
            "ssh" => Capability::Ssh,
            "catalog" => Capability::Catalog,
            other => return Err(bad(format!("unknown capability {other:?}"))),
        };
        Grant::for_capability(capability, rest).map_err(|err| bad(err.reason))
    }
}

impl Grant {
    /// Parses the destination part of a grant for `capability` (the text after `http:` or
    /// `ssh:`, also the form a pack's `describe` uses for the destinations it asks for).
    pub fn for_capability(capability: Capability, pattern: &str) -> Result<Self, BadGrant> {
        let bad = |reason: String| BadGrant {
            text: format!("{}:{pattern}", capability.as_str()),
            reason,
        };
        let destination = match capability {
            Capability::Catalog if pattern.eq_ignore_ascii_case("inventory") => {
                Destination::Inventory
            }
            Capability::Catalog => {
                let valid = pattern == "*"
                    || (!pattern.is_empty()
                        && pattern.len() <= 64
                        && pattern.bytes().all(|b| {
                            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
                        }));
                if !valid {
                    return Err(bad(
                        "a catalog collection is lowercase letters, digits, '_' and '-', or '*'"
                            .to_owned(),
                    ));
                }
                Destination::Collection(pattern.to_owned())
            }
            Capability::Ssh if pattern.eq_ignore_ascii_case("inventory") => Destination::Inventory,
            Capability::Ssh => {
                if pattern.contains("://") {
                    return Err(bad("an ssh grant takes no scheme".to_owned()));
                }
                Destination::Host {
                    scheme: None,
                    binding: pattern.parse().map_err(|err| bad(format!("{err}")))?,
                }
            }
            Capability::Http => {
                let (scheme, host) = match pattern.split_once("://") {
                    Some((scheme, host)) => (
                        Scheme::parse(scheme).ok_or_else(|| {
                            bad(format!("unknown scheme {scheme:?} (http or https)"))
                        })?,
                        host,
                    ),
                    None => (Scheme::Https, pattern),
                };
                let host = host.strip_suffix('/').unwrap_or(host);
                if host.contains('/') && !looks_like_cidr(host) {
                    return Err(bad("a grant names a host, not a path".to_owned()));
                }
                Destination::Host {
                    scheme: Some(scheme),
                    binding: host.parse().map_err(|err| bad(format!("{err}")))?,
                }
            }
        };
        Ok(Self {
            capability,
            destination,
        })
    }

    /// Whether a request to `host` on `port` (and `scheme`, for http) is inside this grant, by
    /// name. Resolved addresses are checked separately with [`Grants::admits_address`].
    pub fn admits(&self, scheme: Option<Scheme>, host: &str, port: u16) -> bool {
        match &self.destination {
            Destination::Inventory | Destination::Collection(_) => false,
            Destination::Host {
                scheme: granted,
                binding,
            } => (granted.is_none() || *granted == scheme) && binding.matches(host, port),
        }
    }
}

fn looks_like_cidr(host: &str) -> bool {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<ipnet::IpNet>()
        .is_ok()
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.destination {
            Destination::Inventory => write!(f, "{}:inventory", self.capability.as_str()),
            Destination::Collection(name) => write!(f, "catalog:{name}"),
            Destination::Host {
                scheme: Some(scheme),
                binding,
            } => write!(
                f,
                "{}:{}://{binding}",
                self.capability.as_str(),
                scheme.as_str()
            ),
            Destination::Host {
                scheme: None,
                binding,
            } => write!(f, "{}:{binding}", self.capability.as_str()),
        }
    }
}

/// Every grant one pack holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants {
    grants: Vec<Grant>,
}

impl Grants {
    /// Grants from their stored texts; a text that no longer parses is skipped with a warning
    /// (it grants nothing), so a stricter parser never widens what a pack may do.
    pub fn from_texts<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let grants = texts
            .into_iter()
            .filter_map(|text| match text.parse::<Grant>() {
                Ok(grant) => Some(grant),
                Err(err) => {
                    tracing::warn!("ignoring a stored grant: {err}");
                    None
                }
            })
            .collect();
        Self { grants }
    }

    /// No grants at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// The grants, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.grants.iter()
    }

    /// Whether any grant opens `capability`.
    pub fn has(&self, capability: Capability) -> bool {
        self.grants.iter().any(|g| g.capability == capability)
    }

    /// Whether `capability` may reach `host`:`port` (by name, before resolution).
    pub fn admits(
        &self,
        capability: Capability,
        scheme: Option<Scheme>,
        host: &str,
        port: u16,
    ) -> bool {
        self.grants
            .iter()
            .any(|g| g.capability == capability && g.admits(scheme, host, port))
    }

    /// Whether the ssh grants include the whole inventory.
    pub fn admits_inventory(&self) -> bool {
        self.grants
            .iter()
            .any(|g| g.capability == Capability::Ssh && g.destination == Destination::Inventory)
    }

    /// Whether the pack may read the inventory through the catalog.
    pub fn admits_inventory_reads(&self) -> bool {
        self.grants
            .iter()
            .any(|g| g.capability == Capability::Catalog && g.destination == Destination::Inventory)
    }

    /// Whether the pack may read and write the records of `collection`.
    pub fn admits_collection(&self, collection: &str) -> bool {
        self.grants.iter().any(|g| {
            g.capability == Capability::Catalog
                && matches!(&g.destination, Destination::Collection(c) if c == "*" || c == collection)
        })
    }

    /// Whether an IP or CIDR grant of `capability` names `ip` on `port`: what loopback and
    /// private addresses need.
    pub fn admits_address(&self, capability: Capability, ip: IpAddr, port: u16) -> bool {
        self.grants.iter().any(|g| {
            g.capability == capability
                && matches!(&g.destination, Destination::Host { binding, .. } if binding.covers_address(ip, port))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_name_their_capability() {
        assert_eq!(
            Capability::of_import("orch:pack/http@0.1.0"),
            Some(Capability::Http)
        );
        assert_eq!(
            Capability::of_import("wasi:http/outgoing-handler@0.2.6"),
            Some(Capability::Http)
        );
        assert_eq!(
            Capability::of_import("orch:pack/ssh@0.1.0"),
            Some(Capability::Ssh)
        );
        assert_eq!(Capability::of_import("wasi:http/types@0.2.6"), None);
        assert_eq!(Capability::of_import("orch:pack/log@0.1.0"), None);
        assert_eq!(Capability::of_import("orch:pack/httpx@0.1.0"), None);
    }

    #[test]
    fn parses_and_shows_grants_canonically() {
        for (text, shown) in [
            ("http:api.example.com", "http:https://api.example.com"),
            (
                "http:https://*.Service-Now.com:443",
                "http:https://*.service-now.com:443",
            ),
            ("http:http://127.0.0.1:8080/", "http:http://127.0.0.1:8080"),
            ("http:http://10.0.0.0/8", "http:http://10.0.0.0/8"),
            ("ssh:10.0.0.0/24:22", "ssh:10.0.0.0/24:22"),
            ("ssh:Inventory", "ssh:inventory"),
            ("SSH:[::1]:2222", "ssh:[::1]:2222"),
        ] {
            let grant: Grant = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(grant.to_string(), shown, "{text}");
            assert_eq!(
                shown.parse::<Grant>().unwrap(),
                grant,
                "round trip of {shown}"
            );
        }
    }

    #[test]
    fn refuses_malformed_grants() {
        for text in [
            "api.example.com",
            "ftp:api.example.com",
            "http:ftp://api.example.com",
            "http:https://api.example.com/v1/path",
            "ssh:https://host",
            "ssh:",
            "http:*",
        ] {
            let err = text.parse::<Grant>().unwrap_err();
            assert!(err.to_string().contains("expected http:"), "{text}: {err}");
        }
    }

    #[test]
    fn http_grants_match_scheme_host_and_port() {
        let grants = Grants::from_texts([
            "http:*.example.com:443",
            "http:http://127.0.0.1:8080",
            "ssh:10.0.0.0/24:22",
        ]);
        let http = Some(Scheme::Http);
        let https = Some(Scheme::Https);
        for (capability, scheme, host, port, expected) in [
            (Capability::Http, https, "api.example.com", 443, true),
            (Capability::Http, http, "api.example.com", 443, false),
            (Capability::Http, https, "api.example.com", 8443, false),
            (Capability::Http, https, "example.com", 443, false),
            (Capability::Http, http, "127.0.0.1", 8080, true),
            (Capability::Http, https, "127.0.0.1", 8080, false),
            (Capability::Http, http, "127.0.0.1", 8081, false),
            (Capability::Ssh, None, "10.0.0.5", 22, true),
            (Capability::Ssh, None, "10.0.0.5", 2222, false),
            (Capability::Http, http, "10.0.0.5", 22, false),
        ] {
            assert_eq!(
                grants.admits(capability, scheme, host, port),
                expected,
                "{capability:?} {scheme:?} {host}:{port}"
            );
        }
    }

    #[test]
    fn private_addresses_need_a_grant_that_names_them() {
        let grants = Grants::from_texts(["http:http://localhost:8080", "http:http://10.0.0.0/8"]);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(grants.admits(Capability::Http, Some(Scheme::Http), "localhost", 8080));
        assert!(!grants.admits_address(Capability::Http, loopback, 8080));
        assert!(grants.admits_address(Capability::Http, "10.1.2.3".parse().unwrap(), 80));
        assert!(!grants.admits_address(Capability::Ssh, "10.1.2.3".parse().unwrap(), 22));
    }

    #[test]
    fn catalog_grants_name_the_inventory_or_a_collection() {
        let grants = Grants::from_texts(["catalog:inventory", "catalog:configs"]);
        assert!(grants.admits_inventory_reads());
        assert!(grants.admits_collection("configs"));
        assert!(!grants.admits_collection("tickets"));
        assert!(!grants.admits_inventory());
        assert!(Grants::from_texts(["catalog:*"]).admits_collection("tickets"));
        assert!(!Grants::from_texts(["catalog:*"]).admits_inventory_reads());
        for bad in ["catalog:", "catalog:Configs", "catalog:a/b"] {
            assert!(bad.parse::<Grant>().is_err(), "{bad}");
        }
    }

    #[test]
    fn inventory_grant_is_ssh_only() {
        assert!(Grants::from_texts(["ssh:inventory"]).admits_inventory());
        assert!(
            "http:inventory"
                .parse::<Grant>()
                .is_ok_and(|g| g.destination != Destination::Inventory)
        );
        assert!(!Grants::from_texts(["ssh:10.0.0.1"]).admits_inventory());
    }
}
