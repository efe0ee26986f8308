//! Masking of secret values in everything the host stores or prints.
//!
//! Every secret the host opens from the vault (and every token it obtains with one) is
//! registered here with the forms it commonly travels in: as is, base64 (standard and URL-safe,
//! padded or not), percent-encoded, and for HTTP basic the base64 of `user:password`. Action
//! outputs, pack logs, errors and capability responses pass through [`Masker::mask`] before they
//! reach a pack, the journal or a terminal, so a server echoing a header or a device echoing a
//! typed password does not leak the secret.

use std::sync::RwLock;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use zeroize::Zeroizing;

/// What replaces a secret.
pub const MASK: &str = "***";
/// Secrets shorter than this are not masked (they would mangle ordinary text); the vault
/// refuses to store them.
pub const MIN_MASKED_LEN: usize = 4;

#[derive(Default)]
struct Patterns {
    patterns: Vec<Zeroizing<Vec<u8>>>,
    matcher: Option<AhoCorasick>,
}

/// The process's set of secrets to mask.
#[derive(Default)]
pub struct Masker {
    inner: RwLock<Patterns>,
}

impl std::fmt::Debug for Masker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Masker(..)")
    }
}

impl Masker {
    /// An empty masker.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `secret` and its encoded forms.
    pub fn add(&self, secret: &[u8]) {
        if secret.len() < MIN_MASKED_LEN {
            return;
        }
        let mut forms: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(secret.to_vec())];
        for engine in [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            forms.push(Zeroizing::new(engine.encode(secret).into_bytes()));
        }
        forms.push(Zeroizing::new(percent_encode(secret, false).into_bytes()));
        forms.push(Zeroizing::new(percent_encode(secret, true).into_bytes()));
        // As it appears inside a JSON string (quotes, backslashes, control characters escaped).
        if let Ok(text) = std::str::from_utf8(secret)
            && let Ok(json) = serde_json::to_string(text)
        {
            forms.push(Zeroizing::new(json.as_bytes()[1..json.len() - 1].to_vec()));
        }
        self.add_forms(forms);
    }

    /// Registers the HTTP basic form of `user`:`password` (its base64) besides the password.
    pub fn add_basic(&self, user: &str, password: &[u8]) {
        self.add(password);
        let mut pair = Zeroizing::new(format!("{user}:").into_bytes());
        pair.extend_from_slice(password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&*pair);
        self.add_forms(vec![Zeroizing::new(encoded.into_bytes())]);
    }

    fn add_forms(&self, forms: Vec<Zeroizing<Vec<u8>>>) {
        let Ok(mut inner) = self.inner.write() else {
            return;
        };
        let mut changed = false;
        for form in forms {
            if form.len() >= MIN_MASKED_LEN && !inner.patterns.iter().any(|p| **p == *form) {
                inner.patterns.push(form);
                changed = true;
            }
        }
        if changed {
            // Longest first so a longer form (base64 of user:password) wins over a shorter one
            // it contains.
            inner.patterns.sort_by_key(|p| std::cmp::Reverse(p.len()));
            inner.matcher = AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(inner.patterns.iter().map(|p| p.as_slice()))
                .ok();
        }
    }

    /// Whether no secret is registered (then masking is a no-op).
    pub fn is_empty(&self) -> bool {
        self.inner
            .read()
            .map_or(true, |inner| inner.patterns.is_empty())
    }

    /// `text` with every registered secret replaced by [`MASK`].
    pub fn mask(&self, text: &str) -> String {
        match self.matcher_run(text.as_bytes()) {
            Some(masked) => String::from_utf8(masked)
                .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()),
            None => text.to_owned(),
        }
    }

    /// Masks `text` in place.
    pub fn mask_in_place(&self, text: &mut String) {
        if let Some(masked) = self.matcher_run(text.as_bytes()) {
            *text = String::from_utf8(masked)
                .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
        }
    }

    /// `bytes` with every registered secret replaced by [`MASK`].
    pub fn mask_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        self.matcher_run(&bytes).unwrap_or(bytes)
    }

    /// `None` when nothing matched (the common case: no copy).
    fn matcher_run(&self, haystack: &[u8]) -> Option<Vec<u8>> {
        let inner = self.inner.read().ok()?;
        let matcher = inner.matcher.as_ref()?;
        if !matcher.is_match(haystack) {
            return None;
        }
        let replacements = vec![MASK.as_bytes(); inner.patterns.len()];
        Some(matcher.replace_all_bytes(haystack, &replacements))
    }
}

/// Percent-encoding as query strings and form bodies carry it (`plus` for spaces as `+`).
fn percent_encode(bytes: &[u8], plus: bool) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &b in bytes {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' if plus => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_a_secret_in_its_plain_base64_and_url_encoded_forms() {
        let masker = Masker::new();
        masker.add(b"s3cr3t/pa ss+word");
        let b64 = base64::engine::general_purpose::STANDARD.encode("s3cr3t/pa ss+word");
        for text in [
            "token s3cr3t/pa ss+word here".to_owned(),
            format!("Authorization: Basic {b64}"),
            "q=s3cr3t%2Fpa%20ss%2Bword".to_owned(),
            "q=s3cr3t%2Fpa+ss%2Bword".to_owned(),
        ] {
            let masked = masker.mask(&text);
            assert!(masked.contains(MASK), "{text} -> {masked}");
            assert!(!masked.contains("s3cr3t"), "{text} -> {masked}");
            assert!(!masked.contains(&b64), "{text} -> {masked}");
        }
        assert_eq!(masker.mask("nothing secret"), "nothing secret");
    }

    #[test]
    fn masks_a_secret_escaped_inside_json() {
        let masker = Masker::new();
        masker.add(br#"pa"ss\word"#);
        let json = serde_json::json!({ "echo": r#"pa"ss\word"# }).to_string();
        assert_eq!(masker.mask(&json), r#"{"echo":"***"}"#);
    }

    #[test]
    fn masks_the_basic_auth_pair() {
        let masker = Masker::new();
        masker.add_basic("admin", b"hunter22");
        let pair = base64::engine::general_purpose::STANDARD.encode("admin:hunter22");
        assert_eq!(masker.mask(&format!("Basic {pair}")), "Basic ***");
    }

    #[test]
    fn ignores_secrets_too_short_to_mask() {
        let masker = Masker::new();
        masker.add(b"ab");
        assert!(masker.is_empty());
        assert_eq!(masker.mask("abc"), "abc");
    }

    #[test]
    fn masks_bytes_that_are_not_utf8() {
        let masker = Masker::new();
        masker.add(b"topsecret");
        let masked = masker.mask_bytes(b"\xff\xfetopsecret\xff".to_vec());
        assert_eq!(masked, b"\xff\xfe***\xff");
    }
}
