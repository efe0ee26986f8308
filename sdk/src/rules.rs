//! The host's rules for what a pack says about itself, mirrored so a pack's own tests catch what
//! `orch pack add` would refuse: pack and action names, the version, length and count caps, and
//! destination patterns. [`PackDef::validate`](crate::PackDef::validate) applies them all.
//!
//! Pure and dependency-free on purpose: the host's parser (`host/src/capabilities/grants.rs`,
//! `host/src/vault/binding.rs`, `host/src/packs/manifest.rs`) is the authority, and the table of
//! cases in `sdk/tests/destination_cases.json` is meant to be read by both sides' tests, so a
//! change to either shows up as a disagreement.

/// Most actions a pack may declare.
pub const MAX_ACTIONS: usize = 4096;
/// Most destinations a pack may ask for.
pub const MAX_DESTINATIONS: usize = 256;
/// Largest JSON Schema of one action's input or output, in bytes.
pub const MAX_SCHEMA_BYTES: usize = 512 << 10;
/// Longest version, vendor, destination pattern and destination reason, in bytes.
pub const MAX_SHORT_TEXT: usize = 256;
/// Longest description (of the pack or of an action), in bytes.
pub const MAX_DESCRIPTION: usize = 4096;
/// Longest pack or action name, in bytes.
pub const MAX_NAME: usize = 64;

/// Whether `name` is a pack name: 1-64 lowercase letters, digits, `_` or `-`, starting with a
/// letter.
pub fn is_pack_name(name: &str) -> bool {
    is_name(name, &['_', '-'])
}

/// Whether `name` is an action name: 1-64 lowercase letters, digits or `_`, starting with a
/// letter.
pub fn is_action_name(name: &str) -> bool {
    is_name(name, &['_'])
}

fn is_name(name: &str, extra: &[char]) -> bool {
    let mut chars = name.chars();
    (1..=MAX_NAME).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || extra.contains(&c))
}

/// Checks that `version` is a semantic version (`1.4.0`, `2.0.0-rc.1+build.5`), as the host's
/// `semver` parser does; the error says what is wrong.
pub fn check_version(version: &str) -> Result<(), String> {
    let (version, build) = match version.split_once('+') {
        Some((version, build)) => (version, Some(build)),
        None => (version, None),
    };
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Err("expected MAJOR.MINOR.PATCH, such as 1.4.0".to_owned());
    }
    for part in parts {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("{part:?} is not a number"));
        }
        if part.len() > 1 && part.starts_with('0') {
            return Err(format!("{part:?} has a leading zero"));
        }
        if part.parse::<u64>().is_err() {
            return Err(format!("{part:?} is too large"));
        }
    }
    if let Some(pre) = pre {
        for identifier in pre.split('.') {
            check_identifier(identifier, "pre-release")?;
            let numeric = identifier.bytes().all(|b| b.is_ascii_digit());
            if numeric && identifier.len() > 1 && identifier.starts_with('0') {
                return Err(format!(
                    "pre-release identifier {identifier:?} has a leading zero"
                ));
            }
        }
    }
    if let Some(build) = build {
        for identifier in build.split('.') {
            check_identifier(identifier, "build metadata")?;
        }
    }
    Ok(())
}

fn check_identifier(identifier: &str, what: &str) -> Result<(), String> {
    if identifier.is_empty() {
        return Err(format!("empty {what} identifier"));
    }
    if !identifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return Err(format!(
            "{what} identifier {identifier:?} has characters other than letters, digits and '-'"
        ));
    }
    Ok(())
}

/// Checks a destination the way `orch pack add` does: `kind` is `http`, `ssh` or `catalog`, and
/// `pattern` parses as that kind's grant. The error says what is wrong and what is expected.
///
/// ```
/// use orch_sdk::rules::check_destination;
///
/// assert!(check_destination("http", "https://*.service-now.com:443").is_ok());
/// assert!(check_destination("ssh", "inventory").is_ok());
/// let err = check_destination("http", "https://api.example.com/v1").unwrap_err();
/// assert!(err.contains("a destination names a host, not a path"));
/// ```
pub fn check_destination(kind: &str, pattern: &str) -> Result<(), String> {
    if pattern.len() > MAX_SHORT_TEXT {
        return Err(format!(
            "the pattern is {} bytes; the host accepts at most {MAX_SHORT_TEXT}",
            pattern.len()
        ));
    }
    match kind {
        "catalog" => check_catalog(pattern),
        "ssh" => check_ssh(pattern),
        "http" => check_http(pattern),
        other => Err(format!(
            "unknown kind {other:?}; the kinds are `http`, `ssh` and `catalog`"
        )),
    }
}

fn check_catalog(pattern: &str) -> Result<(), String> {
    let valid = pattern.eq_ignore_ascii_case("inventory")
        || pattern == "*"
        || (!pattern.is_empty()
            && pattern.len() <= MAX_NAME
            && pattern
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'));
    if valid {
        Ok(())
    } else {
        Err(
            "a catalog destination is `inventory`, `*` or a collection name of 1-64 lowercase \
             letters, digits, '_' and '-' (such as `configs`)"
                .to_owned(),
        )
    }
}

fn check_ssh(pattern: &str) -> Result<(), String> {
    if pattern.eq_ignore_ascii_case("inventory") {
        return Ok(());
    }
    if pattern.contains("://") {
        return Err("an ssh destination takes no scheme; write HOST[:PORT]".to_owned());
    }
    check_binding(pattern)
}

fn check_http(pattern: &str) -> Result<(), String> {
    let host = match pattern.split_once("://") {
        Some((scheme, host)) => {
            if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
                return Err(format!(
                    "unknown scheme {scheme:?}; write http:// or https:// (or nothing, for https)"
                ));
            }
            host
        }
        None => pattern,
    };
    let host = host.strip_suffix('/').unwrap_or(host);
    if host.contains('/') && !looks_like_cidr(host) {
        return Err(
            "a destination names a host, not a path: drop everything from the first '/' (the \
             grant covers every path on the host)"
                .to_owned(),
        );
    }
    check_binding(host)
}

/// Whether `host` (possibly with a `:PORT`, possibly bracketed) is a CIDR range.
fn looks_like_cidr(host: &str) -> bool {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    is_cidr(host.trim_start_matches('[').trim_end_matches(']'))
}

fn is_cidr(text: &str) -> bool {
    let Some((address, prefix)) = text.split_once('/') else {
        return false;
    };
    let Ok(address) = address.parse::<std::net::IpAddr>() else {
        return false;
    };
    let max = if address.is_ipv4() { 32 } else { 128 };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u8>().is_ok_and(|len| len <= max)
}

const BINDING_HINT: &str = "expected HOST[:PORT] such as api.example.com, *.example.com:443, 10.0.0.0/24:22 or \
     [2001:db8::1]:443";

/// `HOST[:PORT]`, where HOST is a DNS name, `*.domain`, an IP address or a CIDR range (IPv6 in
/// brackets), as the host's credential bindings and grants parse it.
fn check_binding(pattern: &str) -> Result<(), String> {
    let bad = |reason: &str| Err(format!("{reason}; {BINDING_HINT}"));
    let (host, port) = if let Some(rest) = pattern.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return bad("missing ']'");
        };
        let port = if after.is_empty() {
            None
        } else if let Some(port) = after.strip_prefix(':') {
            Some(port)
        } else {
            return bad("expected ':PORT' after ']'");
        };
        if !inside.contains(':') {
            return bad("brackets are only for IPv6 addresses");
        }
        (inside, port)
    } else {
        match pattern.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (pattern, None),
        }
    };
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(port) if port != 0) {
            return bad("the port must be a number from 1 to 65535");
        }
    }
    match check_host(host) {
        Ok(()) => Ok(()),
        Err(reason) => bad(reason),
    }
}

fn check_host(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("the host is empty");
    }
    if host.contains('/') {
        return if is_cidr(host) {
            Ok(())
        } else {
            Err("not a valid CIDR range")
        };
    }
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(());
    }
    let (wildcard, name) = match host.strip_prefix("*.") {
        Some(name) => (true, name),
        None => (false, host),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_hosts_rules() {
        for good in ["netdev", "n", "service-now_2", &"a".repeat(64)] {
            assert!(is_pack_name(good), "{good}");
        }
        for bad in [
            "",
            "Netdev",
            "2net",
            "-net",
            "net dev",
            "net.dev",
            &"a".repeat(65),
        ] {
            assert!(!is_pack_name(bad), "{bad}");
        }
        assert!(is_action_name("get_running_config2"));
        assert!(!is_action_name("get-config"));
        assert!(!is_action_name("_get"));
    }

    #[test]
    fn versions_are_semver() {
        for good in [
            "0.1.0",
            "1.4.0",
            "10.20.30",
            "1.0.0-rc.1",
            "1.0.0-alpha-1+build.007",
        ] {
            assert_eq!(check_version(good), Ok(()), "{good}");
        }
        for bad in [
            "one",
            "1.0",
            "1.0.0.0",
            "01.0.0",
            "1.0.0-",
            "1.0.0-01",
            "1.0.0+",
            "1.0.0-a..b",
            "v1.0.0",
            " 1.0.0",
            "1.0.0-a_b",
            "99999999999999999999.0.0",
        ] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
    }
}
