//! Which network addresses a pack may reach: the checks shared by `http` and `ssh`, pure so
//! they are tested as tables.
//!
//! The host resolves names itself and checks every address it would connect to, so a granted
//! name pointing at a metadata endpoint or at the host's own loopback is refused. IP literals
//! are normalised first (`url`'s WHATWG host parser reads `2130706433`, `0x7f.1`, `0177.0.0.1`
//! and `127.1` as 127.0.0.1), and IPv6 forms that carry an IPv4 address (mapped, translated,
//! compatible, NAT64 well-known and local-use, 6to4, Teredo) are judged by that IPv4 address.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

use super::grants::{Capability, Grants};

/// How an address is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A public unicast address: reachable when the destination is granted.
    Public,
    /// Loopback, private, shared (CGNAT), unique-local or reserved: reachable only through a
    /// grant naming the address or its range.
    Internal(&'static str),
    /// Never reachable: unspecified, link-local (cloud metadata endpoints live there),
    /// multicast, broadcast.
    Forbidden(&'static str),
}

/// Parses a host as a URL would (IP literals normalised, names lowercased): `Ok(Some(ip))` for
/// an IP literal in any spelling, `Ok(None)` for a name.
pub fn parse_ip_literal(host: &str) -> Result<Option<IpAddr>, String> {
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(ip)) => Ok(Some(IpAddr::V4(ip))),
        Ok(url::Host::Ipv6(ip)) => Ok(Some(IpAddr::V6(ip))),
        Ok(url::Host::Domain(_)) => Ok(None),
        Err(err) => Err(format!("invalid host {host:?}: {err}")),
    }
}

/// The IPv4 addresses an IPv6 address may stand for: every embedding a translator, tunnel or
/// dual stack on the path could act on. Empty for a plain IPv6 address.
///
/// - IPv4-mapped `::ffff:a.b.c.d` and IPv4-translated `::ffff:0:a.b.c.d` (RFC 2765);
/// - the deprecated IPv4-compatible `::a.b.c.d`;
/// - NAT64 with the well-known prefix `64:ff9b::/96` (RFC 6052) and the local-use prefix
///   `64:ff9b:1::/48` (RFC 8215): a local translator may use any prefix length inside it, so the
///   IPv4 address is read at every position RFC 6052 allows for lengths 48 to 96;
/// - 6to4 `2002:AABB:CCDD::/48`;
/// - Teredo `2001:0::/32`: the server's address in clear and the client's (the one the relay
///   forwards to) XOR-obfuscated in the last 32 bits.
fn embedded_v4s(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let at = |i: [usize; 4]| Ipv4Addr::new(o[i[0]], o[i[1]], o[i[2]], o[i[3]]);
    let last = at([12, 13, 14, 15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return vec![v4];
    }
    if s[..4] == [0, 0, 0, 0] && s[4] == 0xffff && s[5] == 0 {
        return vec![last];
    }
    if s[..6] == [0, 0, 0, 0, 0, 0] {
        // `::` and `::1` are themselves (unspecified, loopback), not IPv4-compatible forms.
        return if matches!(s[6..], [0, 0] | [0, 1]) {
            Vec::new()
        } else {
            vec![last]
        };
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return vec![last];
    }
    if s[..3] == [0x64, 0xff9b, 1] {
        // RFC 6052 section 2.2: bits 64-71 (octet 8) are always skipped. A candidate in
        // 0.0.0.0/8 is the zero padding of another prefix length, not an address anyone could
        // reach, so it does not count.
        return [
            at([6, 7, 9, 10]),   // /48
            at([7, 9, 10, 11]),  // /56
            at([9, 10, 11, 12]), // /64
            last,                // /96
        ]
        .into_iter()
        .filter(|v4| v4.octets()[0] != 0)
        .collect();
    }
    if s[0] == 0x2002 {
        return vec![at([2, 3, 4, 5])];
    }
    if s[0] == 0x2001 && s[1] == 0 {
        let client = u32::from(last) ^ u32::MAX;
        return vec![at([4, 5, 6, 7]), Ipv4Addr::from(client)];
    }
    Vec::new()
}

/// Classifies `ip`. An IPv6 address embedding IPv4 addresses takes the strictest class of
/// them and of itself.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => {
            let embedded = embedded_v4s(v6);
            if embedded.is_empty() {
                return classify_v6(v6);
            }
            embedded
                .into_iter()
                .map(classify_v4)
                .max_by_key(|class| match class {
                    AddressClass::Public => 0,
                    AddressClass::Internal(_) => 1,
                    AddressClass::Forbidden(_) => 2,
                })
                .unwrap_or(AddressClass::Public)
        }
    }
}

fn in_v4(ip: Ipv4Addr, net: &str) -> bool {
    net.parse::<Ipv4Net>().is_ok_and(|net| net.contains(&ip))
}

fn in_v6(ip: Ipv6Addr, net: &str) -> bool {
    net.parse::<Ipv6Net>().is_ok_and(|net| net.contains(&ip))
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    if ip.is_unspecified() || in_v4(ip, "0.0.0.0/8") {
        Forbidden("an unspecified address")
    } else if ip.is_link_local() {
        Forbidden("a link-local address (cloud metadata endpoints live there)")
    } else if ip.is_multicast() {
        Forbidden("a multicast address")
    } else if ip.is_broadcast() {
        Forbidden("the broadcast address")
    } else if ip.is_loopback() {
        Internal("a loopback address")
    } else if ip.is_private() {
        Internal("a private address")
    } else if in_v4(ip, "100.64.0.0/10") {
        Internal("a shared (carrier-grade NAT) address")
    } else if in_v4(ip, "192.0.0.0/24")
        || in_v4(ip, "192.0.2.0/24")
        || in_v4(ip, "198.18.0.0/15")
        || in_v4(ip, "198.51.100.0/24")
        || in_v4(ip, "203.0.113.0/24")
        || in_v4(ip, "240.0.0.0/4")
    {
        Internal("a reserved address")
    } else {
        Public
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    if ip.is_unspecified() {
        Forbidden("an unspecified address")
    } else if in_v6(ip, "fe80::/10") {
        Forbidden("a link-local address")
    } else if ip.is_multicast() {
        Forbidden("a multicast address")
    } else if ip.is_loopback() {
        Internal("a loopback address")
    } else if in_v6(ip, "fc00::/7") {
        Internal("a unique-local (private) address")
    } else if in_v6(ip, "fec0::/10") || in_v6(ip, "2001:db8::/32") || in_v6(ip, "100::/64") {
        Internal("a reserved address")
    } else {
        Public
    }
}

/// Refuses `ip` (reached as `host`) when it is an address the host never connects to, whatever
/// the grants or the inventory say; other addresses pass.
pub fn refuse_forbidden(host: &str, ip: IpAddr) -> Result<(), String> {
    let ip = ip.to_canonical();
    match classify(ip) {
        AddressClass::Forbidden(what) => Err(format!(
            "{host} is {ip}, {what}; the host never connects there"
        )),
        AddressClass::Public | AddressClass::Internal(_) => Ok(()),
    }
}

/// Checks that `capability` may connect to `ip`:`port` reached as `host` (the name or literal
/// the pack gave, for the message). Public addresses pass (the name was checked against the
/// grant before resolution); internal ones need a grant naming the address or its range;
/// forbidden ones never pass.
pub fn check_address(
    grants: &Grants,
    capability: Capability,
    host: &str,
    ip: IpAddr,
    port: u16,
) -> Result<(), String> {
    refuse_forbidden(host, ip)?;
    let ip = ip.to_canonical();
    match classify(ip) {
        AddressClass::Public | AddressClass::Forbidden(_) => Ok(()),
        AddressClass::Internal(what) => {
            if grants.admits_address(capability, ip, port) {
                Ok(())
            } else {
                Err(format!(
                    "{host} is {ip}, {what}, which only a grant naming the address opens; if \
                     that is intended, run: orch pack grant PACK {}:{}",
                    capability.as_str(),
                    suggested_pattern(capability, ip, port)
                ))
            }
        }
    }
}

fn suggested_pattern(capability: Capability, ip: IpAddr, port: u16) -> String {
    let host = match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    };
    match capability {
        Capability::Http => format!("http://{host}:{port}"),
        Capability::Ssh | Capability::Catalog => format!("{host}:{port}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_obfuscated_ip_literals() {
        for (host, expected) in [
            ("127.0.0.1", "127.0.0.1"),
            ("2130706433", "127.0.0.1"),
            ("0x7f.1", "127.0.0.1"),
            ("0177.0.0.1", "127.0.0.1"),
            ("127.1", "127.0.0.1"),
            ("0xa9fea9fe", "169.254.169.254"),
            ("2852039166", "169.254.169.254"),
            ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1"),
            ("[::ffff:a9fe:a9fe]", "::ffff:169.254.169.254"),
        ] {
            let ip = parse_ip_literal(host)
                .unwrap()
                .unwrap_or_else(|| panic!("{host} is a name"));
            assert_eq!(ip.to_string(), expected, "{host}");
        }
        assert_eq!(parse_ip_literal("api.example.com").unwrap(), None);
        assert!(parse_ip_literal("bad host").is_err());
    }

    #[test]
    fn classifies_addresses() {
        for (ip, class) in [
            ("8.8.8.8", "public"),
            ("2606:4700::1111", "public"),
            ("127.0.0.1", "internal"),
            ("127.9.9.9", "internal"),
            ("10.1.2.3", "internal"),
            ("172.16.0.1", "internal"),
            ("192.168.1.1", "internal"),
            ("100.64.0.1", "internal"),
            ("::1", "internal"),
            ("fd00::1", "internal"),
            ("::ffff:127.0.0.1", "internal"),
            ("::ffff:10.0.0.1", "internal"),
            ("64:ff9b::7f00:1", "internal"),
            ("2002:7f00:1::", "internal"),
            ("169.254.169.254", "forbidden"),
            ("::ffff:169.254.169.254", "forbidden"),
            ("64:ff9b::a9fe:a9fe", "forbidden"),
            // IPv4-translated (RFC 2765).
            ("::ffff:0:7f00:1", "internal"),
            ("::ffff:0:a9fe:a9fe", "forbidden"),
            ("::ffff:0:808:808", "public"),
            // Local-use NAT64 (RFC 8215), the IPv4 address at each RFC 6052 position.
            ("64:ff9b:1::a9fe:a9fe", "forbidden"),
            ("64:ff9b:1:a9fe:a9:fe00::", "forbidden"),
            ("64:ff9b:1:808:8:808:a00:1", "internal"),
            ("64:ff9b:1::808:808", "public"),
            // 6to4 and Teredo (client 169.254.169.254 XOR-obfuscated: 5601:5601).
            ("2002:a9fe:a9fe::1", "forbidden"),
            ("2001:0:808:808::5601:5601", "forbidden"),
            ("2001:0:a9fe:a9fe::f7f7:f7f7", "forbidden"),
            ("2001:0:808:808::f7f7:f7f7", "public"),
            ("fe80::1", "forbidden"),
            ("0.0.0.0", "forbidden"),
            ("::", "forbidden"),
            ("224.0.0.1", "forbidden"),
            ("ff02::1", "forbidden"),
            ("255.255.255.255", "forbidden"),
        ] {
            let got = match classify(ip.parse().unwrap()) {
                AddressClass::Public => "public",
                AddressClass::Internal(_) => "internal",
                AddressClass::Forbidden(_) => "forbidden",
            };
            assert_eq!(got, class, "{ip}");
        }
    }

    #[test]
    fn internal_addresses_need_an_address_grant_and_forbidden_ones_never_pass() {
        let by_name = Grants::from_texts(["http:http://localhost"]);
        let by_address =
            Grants::from_texts(["http:http://127.0.0.1", "http:http://169.254.0.0/16"]);
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        let metadata: IpAddr = "169.254.169.254".parse().unwrap();
        let err = check_address(&by_name, Capability::Http, "localhost", loopback, 80).unwrap_err();
        assert!(
            err.contains("loopback") && err.contains("orch pack grant"),
            "{err}"
        );
        assert!(check_address(&by_address, Capability::Http, "127.0.0.1", loopback, 80).is_ok());
        assert!(
            check_address(
                &by_address,
                Capability::Http,
                "[::ffff:127.0.0.1]",
                mapped,
                80
            )
            .is_ok()
        );
        let err = check_address(&by_address, Capability::Http, "m", metadata, 80).unwrap_err();
        assert!(err.contains("link-local"), "{err}");
        assert!(
            check_address(
                &Grants::none(),
                Capability::Ssh,
                "x",
                "8.8.8.8".parse().unwrap(),
                22
            )
            .is_ok()
        );
    }
}
