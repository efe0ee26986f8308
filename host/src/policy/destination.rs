//! Destination bindings of a credential: `HOST[:PORT]` patterns, where HOST is a DNS name, a
//! `*.` wildcard over a domain's subdomains, an IP address or a CIDR range (IPv6 in brackets).
//! Parsing and matching are pure so the rules are tested as tables.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// The host part of a binding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    /// One DNS name, lowercase.
    Name(String),
    /// Any strict subdomain of this domain (`*.example.com` matches `a.example.com`, not
    /// `example.com`).
    Subdomains(String),
    /// One address.
    Ip(IpAddr),
    /// A range of addresses.
    Net(IpNet),
}

/// A destination a credential may be sent to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    host: HostPattern,
    /// `None`: any port.
    port: Option<u16>,
}

/// Why a binding pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid binding {pattern:?}: {reason}; expected HOST[:PORT] such as api.example.com, \
     *.example.com:443, 10.0.0.0/24:22 or [2001:db8::1]:443"
)]
pub struct BadBinding {
    /// The pattern as given.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for Binding {
    type Err = BadBinding;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| BadBinding {
            pattern: pattern.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, port) = if let Some(rest) = pattern.strip_prefix('[') {
            let (inside, after) = rest.split_once(']').ok_or_else(|| bad("missing ']'"))?;
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| bad("expected ':PORT' after ']'"))?,
                ),
            };
            if !inside.contains(':') {
                return Err(bad("brackets are only for IPv6 addresses"));
            }
            (inside, port)
        } else {
            match pattern.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (pattern, None),
            }
        };
        let port = port
            .map(|port| match port.parse::<u16>() {
                Ok(port) if port != 0 => Ok(port),
                _ => Err(bad("the port must be a number from 1 to 65535")),
            })
            .transpose()?;
        let host = parse_host(host).map_err(bad)?;
        Ok(Self { host, port })
    }
}

fn parse_host(host: &str) -> Result<HostPattern, &'static str> {
    if host.is_empty() {
        return Err("the host is empty");
    }
    if host.contains('/') {
        let net: IpNet = host.parse().map_err(|_| "not a valid CIDR range")?;
        return Ok(HostPattern::Net(net.trunc()));
    }
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(HostPattern::Ip(ip));
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, host),
    };
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    if name.contains('*') {
        return Err("'*' is only allowed as a whole first label ('*.example.com')");
    }
    let labels: Vec<&str> = name.split('.').collect();
    let valid_label = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if name.len() > 253 || !labels.iter().all(valid_label) {
        return Err("not a valid host name");
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("not a valid host name or IP address");
    }
    if wildcard && labels.len() < 2 {
        return Err("a wildcard needs a domain with at least two labels ('*.example.com')");
    }
    Ok(if wildcard {
        HostPattern::Subdomains(name)
    } else {
        HostPattern::Name(name)
    })
}

impl Binding {
    /// Whether a connection to `host` (a name or an IP address, as the request names it) on
    /// `port` is inside this binding. Names compare case-insensitively, ignoring a trailing dot;
    /// IP patterns only match IP hosts (the caller checks resolved addresses separately).
    pub fn matches(&self, host: &str, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        match &self.host {
            HostPattern::Ip(ip) => host.parse::<IpAddr>().is_ok_and(|h| h == *ip),
            HostPattern::Net(net) => host.parse::<IpAddr>().is_ok_and(|h| net.contains(&h)),
            HostPattern::Name(name) => normalise(host) == *name,
            HostPattern::Subdomains(domain) => {
                let host = normalise(host);
                host.strip_suffix(domain.as_str())
                    .and_then(|prefix| prefix.strip_suffix('.'))
                    .is_some_and(|prefix| !prefix.is_empty())
            }
        }
    }
}

impl Binding {
    /// Whether this is an IP or CIDR pattern whose range holds `ip`, on `port`. Loopback and
    /// private addresses are reachable only through such a pattern: naming the address is the
    /// operator's explicit consent, a host name that happens to resolve there is not.
    pub fn covers_address(&self, ip: IpAddr, port: u16) -> bool {
        if self.port.is_some_and(|p| p != port) {
            return false;
        }
        match &self.host {
            HostPattern::Ip(pattern) => pattern.to_canonical() == ip.to_canonical(),
            HostPattern::Net(net) => net.contains(&ip.to_canonical()),
            HostPattern::Name(_) | HostPattern::Subdomains(_) => false,
        }
    }
}

fn normalise(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

impl fmt::Display for Binding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v6 = match &self.host {
            HostPattern::Ip(ip) => ip.is_ipv6(),
            HostPattern::Net(net) => matches!(net, IpNet::V6(_)),
            _ => false,
        };
        let host = match &self.host {
            HostPattern::Name(name) => name.clone(),
            HostPattern::Subdomains(domain) => format!("*.{domain}"),
            HostPattern::Ip(ip) => ip.to_string(),
            HostPattern::Net(net) => net.to_string(),
        };
        match (v6, self.port) {
            (true, Some(port)) => write!(f, "[{host}]:{port}"),
            (true, None) => write!(f, "[{host}]"),
            (false, Some(port)) => write!(f, "{host}:{port}"),
            (false, None) => write!(f, "{host}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_and_normalises_valid_patterns() {
        for (pattern, shown) in [
            ("api.example.com", "api.example.com"),
            ("API.Example.COM.", "api.example.com"),
            ("*.example.com:443", "*.example.com:443"),
            ("10.0.0.0/24:22", "10.0.0.0/24:22"),
            ("10.0.0.7/24", "10.0.0.0/24"),
            ("192.0.2.1:8080", "192.0.2.1:8080"),
            ("[2001:db8::1]:443", "[2001:db8::1]:443"),
            ("[fd00::/8]", "[fd00::/8]"),
            ("localhost", "localhost"),
        ] {
            let binding: Binding = pattern.parse().unwrap_or_else(|e| panic!("{pattern}: {e}"));
            assert_eq!(binding.to_string(), shown, "{pattern}");
        }
    }

    #[test]
    fn refuses_malformed_patterns() {
        for pattern in [
            "",
            ":443",
            "api.example.com:",
            "api.example.com:0",
            "api.example.com:70000",
            "api.example.com:https",
            "*",
            "*.com",
            "a.*.example.com",
            "ex*ample.com",
            "-bad.example.com",
            "under score.example.com",
            "10.0.0.0/33",
            "300.1.1.1",
            "[api.example.com]:443",
            "[2001:db8::1",
            "https://api.example.com",
        ] {
            let err = pattern.parse::<Binding>().unwrap_err();
            assert!(
                err.to_string().contains("expected HOST[:PORT]"),
                "{pattern}: {err}"
            );
        }
    }

    #[test]
    fn binding_matches_host_and_port() {
        for (pattern, host, port, expected) in [
            ("api.example.com", "api.example.com", 443, true),
            ("api.example.com", "API.example.com.", 8443, true),
            ("api.example.com", "evil.api.example.com", 443, false),
            ("api.example.com", "api.example.com.evil.net", 443, false),
            ("api.example.com:443", "api.example.com", 80, false),
            ("*.example.com:443", "a.example.com", 443, true),
            ("*.example.com:443", "a.b.example.com", 443, true),
            ("*.example.com:443", "example.com", 443, false),
            ("*.example.com:443", "badexample.com", 443, false),
            ("*.example.com:443", "a.example.com", 80, false),
            ("10.0.0.0/24:22", "10.0.0.9", 22, true),
            ("10.0.0.0/24:22", "10.0.1.9", 22, false),
            ("10.0.0.0/24:22", "10.0.0.9", 2222, false),
            ("10.0.0.0/24", "ten.example.com", 22, false),
            ("192.0.2.1", "192.0.2.1", 80, true),
            ("[2001:db8::1]:443", "[2001:db8::1]", 443, true),
            ("[2001:db8::/32]", "2001:db8::42", 22, true),
        ] {
            let binding: Binding = pattern.parse().unwrap();
            assert_eq!(
                binding.matches(host, port),
                expected,
                "{pattern} vs {host}:{port}"
            );
        }
    }
}
