//! The pure rules of the http capability: which methods and URLs a pack may send, which headers
//! the host owns, what an origin is, and what a redirect turns a request into. No I/O here, so
//! every rule is tested as a table below.

use std::fmt;
use std::net::IpAddr;

use reqwest::Method;
use url::Url;

use crate::policy::grants::Scheme;

/// Methods a pack may use (the WIT contract's fixed list).
const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Headers the host sets itself or that only mean something to one connection. A pack setting
/// them could smuggle a second request (`Transfer-Encoding`, `Content-Length`), reach another
/// virtual host than the one checked (`Host`) or talk to a proxy.
const HOST_OWNED_HEADERS: [&str; 13] = [
    "host",
    // The host negotiates content encoding and decodes what it asked for, so masking always
    // sees the bytes the pack will see (a compressed echo would carry a credential past it).
    "accept-encoding",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authorization",
    "proxy-authenticate",
    "te",
    "trailer",
    "upgrade",
    "http2-settings",
];

/// Headers that ask for part of a response.
const PARTIAL_HEADERS: [&str; 2] = ["range", "if-range"];

/// Headers that describe a body: dropped with the body when a redirect turns a request into a
/// GET (as browsers do, per the Fetch standard).
const BODY_HEADERS: [&str; 4] = [
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
];

/// The method of a request, checked against the fixed list.
pub fn parse_method(text: &str) -> Result<Method, String> {
    let upper = text.to_ascii_uppercase();
    if !METHODS.contains(&upper.as_str()) {
        return Err(format!(
            "unknown http method {text:?}; use one of {}",
            METHODS.join(", ")
        ));
    }
    Method::from_bytes(upper.as_bytes()).map_err(|err| format!("http method {text:?}: {err}"))
}

/// Parses a request (or redirect) URL: absolute, `http` or `https`, with a host and without
/// user info (credentials travel only through the vault). The fragment is dropped: it is never
/// sent.
pub fn parse_url(text: &str) -> Result<Url, String> {
    let mut url = Url::parse(text).map_err(|err| format!("invalid url {text:?}: {err}"))?;
    if Scheme::parse(url.scheme()).is_none() {
        return Err(format!(
            "url {text:?} has scheme {:?}; only http and https are supported",
            url.scheme()
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "url {:?} carries user info; name a vault credential instead (request.credential)",
            Origin::of(&url).map_or_else(|_| url.scheme().to_owned(), |o| o.to_string())
        ));
    }
    if url.host().is_none() {
        return Err(format!("url {text:?} has no host"));
    }
    url.set_fragment(None);
    Ok(url)
}

/// Scheme, host and port: what a browser calls an origin, and what a credential's injection
/// follows across redirects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: Scheme,
    /// The host as the URL names it after normalisation: a lowercase name, an IPv4 address,
    /// or an IPv6 address without brackets.
    pub host: String,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The address when the host is an IP literal (in any spelling the URL parser accepts).
    pub ip: Option<IpAddr>,
}

impl Origin {
    /// The origin of a URL accepted by [`parse_url`].
    pub fn of(url: &Url) -> Result<Self, String> {
        let scheme = Scheme::parse(url.scheme())
            .ok_or_else(|| format!("unsupported scheme {:?}", url.scheme()))?;
        let (host, ip) = match url.host() {
            Some(url::Host::Domain(name)) => (name.to_ascii_lowercase(), None),
            Some(url::Host::Ipv4(ip)) => (ip.to_string(), Some(IpAddr::V4(ip))),
            Some(url::Host::Ipv6(ip)) => (ip.to_string(), Some(IpAddr::V6(ip))),
            None => return Err(format!("url {url} has no host")),
        };
        let port = url
            .port_or_known_default()
            .ok_or_else(|| format!("url {url} has no port"))?;
        Ok(Self {
            scheme,
            host,
            port,
            ip,
        })
    }

    /// The grant that would admit this origin.
    pub fn grant(&self) -> String {
        format!("http:{self}")
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = self.scheme.as_str();
        match self.ip.is_some_and(|ip| ip.is_ipv6()) {
            true => write!(f, "{scheme}://[{}]:{}", self.host, self.port),
            false => write!(f, "{scheme}://{}:{}", self.host, self.port),
        }
    }
}

/// Whether `name` (lowercase) is a header the host sets itself (transport, encoding).
pub fn is_host_owned(name: &str) -> bool {
    HOST_OWNED_HEADERS.contains(&name)
}

/// Checks the pack's headers: names and values must be valid HTTP, and none may be one the host
/// owns. `credential_header` is the header the host injects for the named credential
/// (`authorization`, or the `header` kind's name), refused too so a pack cannot shadow or
/// duplicate it.
pub fn check_headers(
    headers: &[(String, String)],
    credential_header: Option<&str>,
) -> Result<(), String> {
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if is_host_owned(&lower) {
            return Err(format!(
                "header {name:?} is set by the host; remove it from the request"
            ));
        }
        if credential_header.is_some() && PARTIAL_HEADERS.contains(&lower.as_str()) {
            return Err(format!(
                "header {name:?} asks for part of a response, which a request carrying a \
                 credential may not do: a partial echo would cut the credential into pieces no \
                 masking recognises; ask for the whole response"
            ));
        }
        if credential_header.is_some_and(|h| h.eq_ignore_ascii_case(&lower)) {
            return Err(format!(
                "header {name:?} is injected by the host from the request's credential; remove \
                 it from the request"
            ));
        }
        reqwest::header::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("invalid header name {name:?}"))?;
        // The value is not quoted back: a pack may have put a secret of its own there.
        reqwest::header::HeaderValue::from_str(value)
            .map_err(|_| format!("header {name:?} has an invalid value (control characters?)"))?;
    }
    Ok(())
}

/// Statuses the host follows as redirects (when a `Location` is present).
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// What the next hop of a redirect sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextHop {
    /// The method to use.
    pub method: Method,
    /// Whether the body (and the headers describing it) is kept.
    pub keep_body: bool,
}

/// The request a redirect with `status` turns `method` into: 303 becomes GET (HEAD stays HEAD),
/// 301 and 302 turn a POST into a GET (what every client does), 307 and 308 keep both method
/// and body.
pub fn next_hop(status: u16, method: &Method) -> NextHop {
    let to_get = match status {
        303 => *method != Method::HEAD,
        301 | 302 => *method == Method::POST,
        _ => false,
    };
    if to_get {
        NextHop {
            method: Method::GET,
            keep_body: false,
        }
    } else {
        NextHop {
            method: method.clone(),
            keep_body: true,
        }
    }
}

/// The pack's headers without the ones describing a body (after a redirect dropped the body).
pub fn without_body_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !BODY_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect()
}

/// Headers that carry the pack's own credentials, dropped when a redirect changes the origin
/// (as browsers do): a server redirecting elsewhere must not collect them.
const CREDENTIAL_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// The pack's headers without its own credentials (after a redirect to another origin).
pub fn without_credential_headers(headers: &[(String, String)]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(name, _)| !CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
        .cloned()
        .collect()
}

/// The URL a `Location` header points to, resolved against the current URL and checked like a
/// request URL.
pub fn redirect_target(current: &Url, location: &str) -> Result<Url, String> {
    let joined = current
        .join(location)
        .map_err(|err| format!("the redirect location is not a valid url: {err}"))?;
    parse_url(joined.as_str()).map_err(|err| format!("the redirect goes to a refused url: {err}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_the_fixed_methods() {
        assert_eq!(parse_method("get").unwrap(), Method::GET);
        assert_eq!(parse_method("PATCH").unwrap(), Method::PATCH);
        for bad in ["CONNECT", "TRACE", "FOO", "", "GET "] {
            let err = parse_method(bad).unwrap_err();
            assert!(err.contains("unknown http method"), "{bad}: {err}");
        }
    }

    #[test]
    fn parses_only_http_urls_without_user_info() {
        let url = parse_url("HTTPS://API.Example.com/v1?q=1#frag").unwrap();
        assert_eq!(url.as_str(), "https://api.example.com/v1?q=1");
        for (bad, expected) in [
            ("ftp://example.com/", "only http and https"),
            ("file:///etc/passwd", "only http and https"),
            ("https://user:pw@example.com/", "user info"),
            ("https://user@example.com/", "user info"),
            ("/relative", "invalid url"),
            ("http://", "invalid url"),
        ] {
            let err = parse_url(bad).unwrap_err();
            assert!(err.contains(expected), "{bad}: {err}");
            assert!(!err.contains("pw@"), "{bad}: the password is quoted: {err}");
        }
    }

    #[test]
    fn origins_normalise_obfuscated_hosts_and_default_ports() {
        for (url, origin) in [
            ("http://2130706433:8080/", "http://127.0.0.1:8080"),
            ("http://0x7f.1/", "http://127.0.0.1:80"),
            ("http://127.1:1/", "http://127.0.0.1:1"),
            ("http://[::ffff:127.0.0.1]/", "http://[::ffff:127.0.0.1]:80"),
            ("https://API.example.com/x", "https://api.example.com:443"),
        ] {
            let parsed = parse_url(url).unwrap();
            assert_eq!(Origin::of(&parsed).unwrap().to_string(), origin, "{url}");
        }
        let a = Origin::of(&parse_url("https://a.example.com/x").unwrap()).unwrap();
        let same = Origin::of(&parse_url("https://A.example.com:443/y").unwrap()).unwrap();
        let other_port = Origin::of(&parse_url("https://a.example.com:8443/").unwrap()).unwrap();
        let other_scheme = Origin::of(&parse_url("http://a.example.com:443/").unwrap()).unwrap();
        assert_eq!(a, same);
        assert_ne!(a, other_port);
        assert_ne!(a, other_scheme);
        assert_eq!(a.grant(), "http:https://a.example.com:443");
    }

    #[test]
    fn refuses_headers_the_host_owns() {
        let h = |name: &str, value: &str| vec![(name.to_owned(), value.to_owned())];
        assert!(check_headers(&h("Accept", "application/json"), None).is_ok());
        assert!(check_headers(&h("Authorization", "Bearer mine"), None).is_ok());
        for name in [
            "Host",
            "content-length",
            "Transfer-Encoding",
            "Connection",
            "Upgrade",
            "Proxy-Authorization",
            "Accept-Encoding",
            "TE",
        ] {
            let err = check_headers(&h(name, "x"), None).unwrap_err();
            assert!(err.contains("set by the host"), "{name}: {err}");
        }
        let err = check_headers(&h("authorization", "x"), Some("authorization")).unwrap_err();
        assert!(err.contains("injected by the host"), "{err}");
        let err = check_headers(&h("X-API-Key", "x"), Some("x-api-key")).unwrap_err();
        assert!(err.contains("injected by the host"), "{err}");
        let err = check_headers(&h("bad name", "x"), None).unwrap_err();
        assert!(err.contains("invalid header name"), "{err}");
        assert!(check_headers(&h("Range", "bytes=0-3"), None).is_ok());
        let err = check_headers(&h("Range", "bytes=0-3"), Some("authorization")).unwrap_err();
        assert!(err.contains("part of a response"), "{err}");
        let err = check_headers(&h("X-A", "secret\r\nInjected: 1"), None).unwrap_err();
        assert!(
            err.contains("invalid value") && !err.contains("secret"),
            "{err}"
        );
    }

    #[test]
    fn redirects_turn_posts_into_gets_as_clients_do() {
        let get = |keep_body| NextHop {
            method: Method::GET,
            keep_body,
        };
        let same = |method: Method| NextHop {
            method,
            keep_body: true,
        };
        for (status, method, expected) in [
            (303, Method::POST, get(false)),
            (303, Method::PUT, get(false)),
            (303, Method::HEAD, same(Method::HEAD)),
            (301, Method::POST, get(false)),
            (302, Method::POST, get(false)),
            (302, Method::PUT, same(Method::PUT)),
            (301, Method::GET, same(Method::GET)),
            (307, Method::POST, same(Method::POST)),
            (308, Method::DELETE, same(Method::DELETE)),
        ] {
            assert_eq!(next_hop(status, &method), expected, "{status} {method}");
        }
        assert!(is_redirect(308) && is_redirect(301) && !is_redirect(304) && !is_redirect(300));
        let kept = without_body_headers(&[
            ("Content-Type".into(), "application/json".into()),
            ("Accept".into(), "*/*".into()),
        ]);
        assert_eq!(kept, vec![("Accept".to_owned(), "*/*".to_owned())]);
        let kept = without_credential_headers(&[
            ("Authorization".into(), "Bearer mine".into()),
            ("Cookie".into(), "session=1".into()),
            ("Accept".into(), "*/*".into()),
        ]);
        assert_eq!(kept, vec![("Accept".to_owned(), "*/*".to_owned())]);
    }

    #[test]
    fn resolves_redirect_locations_and_refuses_odd_ones() {
        let current = parse_url("http://a.example.com:8080/x/y?q=1").unwrap();
        for (location, expected) in [
            ("/z", "http://a.example.com:8080/z"),
            ("z", "http://a.example.com:8080/x/z"),
            ("//b.example.com/", "http://b.example.com/"),
            ("https://c.example.com/p#f", "https://c.example.com/p"),
        ] {
            assert_eq!(
                redirect_target(&current, location).unwrap().as_str(),
                expected,
                "{location}"
            );
        }
        for location in ["ftp://x/", "http://u:p@b.example.com/", "http://[bad/"] {
            assert!(redirect_target(&current, location).is_err(), "{location}");
        }
    }
}
