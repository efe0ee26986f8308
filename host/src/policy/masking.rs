//! Masking of secret values in everything the host stores or prints.
//!
//! Every secret the vault holds (and every token the host obtains with one) is registered here
//! with the forms it commonly travels in: as is; base64 (standard and URL-safe, padded or not,
//! and at each of the three alignments it takes inside a longer base64 text); percent-encoded;
//! JSON-escaped (minimally, and every character as `\uXXXX`); hex in both cases; UTF-16; and for
//! HTTP basic the base64 of `user:password`. Action outputs, pack logs, errors and capability
//! responses pass through [`Masker::mask`] before they reach a pack, the journal or a terminal,
//! so a server echoing a header or a device echoing a typed password does not leak the secret.
//!
//! Forms cannot be listed exhaustively (`%2f` and `%2F`, a `\u` escape on some characters and
//! not others), so after replacing the known forms the masker decodes percent, `\u`/`\x`
//! escapes and runs of hex digits in a copy of the text and looks for a secret there again: a
//! text that still reveals one is withheld whole ([`WITHHELD`]) rather than returned.
//!
//! What masking cannot see is said in the README's security section: a destination that
//! splits, encrypts or hashes what it receives can hand a credential back in a form no masker
//! recognises; credentials are bound to destinations for that reason.

use std::sync::RwLock;

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use zeroize::Zeroizing;

/// What replaces a secret.
pub const MASK: &str = "***";
/// What replaces a whole text that reveals a secret in a form the masker cannot cut out.
pub const WITHHELD: &str =
    "[withheld by orch: this text contained a stored credential in an encoded form]";
/// Secrets shorter than this are not masked (they would mangle ordinary text); the vault
/// refuses to store them.
pub const MIN_MASKED_LEN: usize = 4;

#[derive(Default)]
struct Patterns {
    /// Every form of every secret, longest first.
    patterns: Vec<Zeroizing<Vec<u8>>>,
    matcher: Option<AhoCorasick>,
    /// The raw secrets only, for the search in decoded copies.
    raw: Vec<Zeroizing<Vec<u8>>>,
    raw_matcher: Option<AhoCorasick>,
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

/// The forms `secret` travels in, itself included.
fn forms_of(secret: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut forms: Vec<Zeroizing<Vec<u8>>> = vec![Zeroizing::new(secret.to_vec())];
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        forms.push(Zeroizing::new(engine.encode(secret).into_bytes()));
    }
    // Inside a longer base64 text the secret starts at any byte offset: its encoding depends on
    // the offset modulo 3. The characters that depend on the secret's bits alone are the same
    // wherever the text starts.
    for engine in [
        &base64::engine::general_purpose::STANDARD_NO_PAD,
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ] {
        for offset in 0..3usize {
            let mut shifted = Zeroizing::new(vec![0u8; offset]);
            shifted.extend_from_slice(secret);
            let encoded = Zeroizing::new(engine.encode(&*shifted).into_bytes());
            let first = (8 * offset).div_ceil(6);
            let end = (8 * (offset + secret.len())) / 6;
            if end > first {
                forms.push(Zeroizing::new(encoded[first..end].to_vec()));
            }
        }
    }
    forms.push(Zeroizing::new(percent_encode(secret, false).into_bytes()));
    forms.push(Zeroizing::new(percent_encode(secret, true).into_bytes()));
    forms.push(Zeroizing::new(hex::encode(secret).into_bytes()));
    forms.push(Zeroizing::new(hex::encode_upper(secret).into_bytes()));
    if let Ok(text) = std::str::from_utf8(secret) {
        // As it appears inside a JSON string: minimally escaped, and every character escaped.
        if let Ok(json) = serde_json::to_string(text) {
            forms.push(Zeroizing::new(json.as_bytes()[1..json.len() - 1].to_vec()));
        }
        let mut lower = Zeroizing::new(String::new());
        let mut upper = Zeroizing::new(String::new());
        for unit in text.encode_utf16() {
            lower.push_str(&format!("\\u{unit:04x}"));
            upper.push_str(&format!("\\u{unit:04X}"));
        }
        forms.push(Zeroizing::new(lower.as_bytes().to_vec()));
        forms.push(Zeroizing::new(upper.as_bytes().to_vec()));
        let units: Vec<u16> = text.encode_utf16().collect();
        forms.push(Zeroizing::new(
            units.iter().flat_map(|u| u.to_le_bytes()).collect(),
        ));
        forms.push(Zeroizing::new(
            units.iter().flat_map(|u| u.to_be_bytes()).collect(),
        ));
    }
    forms
}

fn build(patterns: &[Zeroizing<Vec<u8>>]) -> Option<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(patterns.iter().map(|p| p.as_slice()))
        .ok()
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
        self.add_forms(Some(secret), forms_of(secret));
    }

    /// Registers the HTTP basic form of `user`:`password` (its base64) besides the password.
    pub fn add_basic(&self, user: &str, password: &[u8]) {
        self.add(password);
        let mut pair = Zeroizing::new(format!("{user}:").into_bytes());
        pair.extend_from_slice(password);
        let encoded = base64::engine::general_purpose::STANDARD.encode(&*pair);
        self.add_forms(None, vec![Zeroizing::new(encoded.into_bytes())]);
    }

    fn add_forms(&self, raw: Option<&[u8]>, forms: Vec<Zeroizing<Vec<u8>>>) {
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
            inner.matcher = build(&inner.patterns);
        }
        if let Some(raw) = raw
            && !inner.raw.iter().any(|p| p.as_slice() == raw)
        {
            inner.raw.push(Zeroizing::new(raw.to_vec()));
            inner.raw_matcher = build(&inner.raw);
        }
    }

    /// Whether no secret is registered (then masking is a no-op).
    pub fn is_empty(&self) -> bool {
        self.inner
            .read()
            .map_or(true, |inner| inner.patterns.is_empty())
    }

    /// How many secrets are registered (each with its forms).
    pub fn secrets(&self) -> usize {
        self.inner.read().map_or(0, |inner| inner.raw.len())
    }

    /// `text` with every registered secret replaced by [`MASK`], or [`WITHHELD`] when a secret
    /// is still readable in it once decoded.
    pub fn mask(&self, text: &str) -> String {
        match self.run(text.as_bytes()) {
            Masked::Clean => text.to_owned(),
            Masked::Replaced(masked) => String::from_utf8(masked)
                .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned()),
            Masked::Withheld => WITHHELD.to_owned(),
        }
    }

    /// Masks `text` in place.
    pub fn mask_in_place(&self, text: &mut String) {
        match self.run(text.as_bytes()) {
            Masked::Clean => {}
            Masked::Replaced(masked) => {
                *text = String::from_utf8(masked)
                    .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned());
            }
            Masked::Withheld => *text = WITHHELD.to_owned(),
        }
    }

    /// `bytes` with every registered secret replaced by [`MASK`], or [`WITHHELD`] when a secret
    /// is still readable in them once decoded.
    pub fn mask_bytes(&self, bytes: Vec<u8>) -> Vec<u8> {
        match self.run(&bytes) {
            Masked::Clean => bytes,
            Masked::Replaced(masked) => masked,
            Masked::Withheld => WITHHELD.as_bytes().to_vec(),
        }
    }

    /// `bytes` masked, or `None` when a secret is still readable in them once decoded (the
    /// caller refuses to pass them on, with its own error).
    pub fn mask_or_refuse(&self, bytes: Vec<u8>) -> Option<Vec<u8>> {
        match self.run(&bytes) {
            Masked::Clean => Some(bytes),
            Masked::Replaced(masked) => Some(masked),
            Masked::Withheld => None,
        }
    }

    fn run(&self, haystack: &[u8]) -> Masked {
        let Ok(inner) = self.inner.read() else {
            return Masked::Clean;
        };
        let Some(matcher) = inner.matcher.as_ref() else {
            return Masked::Clean;
        };
        let replaced = matcher.is_match(haystack).then(|| {
            let replacements = vec![MASK.as_bytes(); inner.patterns.len()];
            matcher.replace_all_bytes(haystack, &replacements)
        });
        let after = replaced.as_deref().unwrap_or(haystack);
        if let Some(raw) = inner.raw_matcher.as_ref()
            && decoded_views(after).iter().any(|view| raw.is_match(view))
        {
            return Masked::Withheld;
        }
        match replaced {
            Some(masked) => Masked::Replaced(masked),
            None => Masked::Clean,
        }
    }
}

enum Masked {
    Clean,
    Replaced(Vec<u8>),
    Withheld,
}

/// Copies of `text` with escapes decoded, where a secret the known forms missed would show:
/// percent and `\u`/`\x` escapes decoded (any case, any mix), and runs of hex digits decoded.
/// Empty when `text` has nothing to decode (the common case costs one scan).
fn decoded_views(text: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut views = Vec::new();
    if text.contains(&b'%') || text.windows(2).any(|w| w == b"\\u" || w == b"\\x") {
        views.push(Zeroizing::new(unescape(text)));
    }
    let hex = hex_runs(text);
    if !hex.is_empty() {
        views.push(Zeroizing::new(hex));
    }
    views
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// `text` with `%XX`, `\xXX` and `\uXXXX` escapes decoded (a `\u` escape to UTF-8, surrogate
/// pairs joined).
fn unescape(text: &[u8]) -> Vec<u8> {
    let hex_at = |i: usize, n: usize| -> Option<u32> {
        let digits = text.get(i..i + n)?;
        digits.iter().try_fold(0u32, |acc, &d| {
            hex_value(d).map(|v| acc * 16 + u32::from(v))
        })
    };
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'%'
            && let Some(v) = hex_at(i + 1, 2)
        {
            out.push(v as u8);
            i += 3;
            continue;
        }
        if text[i] == b'\\'
            && text.get(i + 1) == Some(&b'x')
            && let Some(v) = hex_at(i + 2, 2)
        {
            out.push(v as u8);
            i += 4;
            continue;
        }
        if text[i] == b'\\'
            && text.get(i + 1) == Some(&b'u')
            && let Some(unit) = hex_at(i + 2, 4)
        {
            let mut consumed = 6;
            let mut code = unit;
            if (0xD800..0xDC00).contains(&unit)
                && text.get(i + 6..i + 8) == Some(b"\\u")
                && let Some(low) = hex_at(i + 8, 4)
                && (0xDC00..0xE000).contains(&low)
            {
                code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                consumed = 12;
            }
            let mut buf = [0u8; 4];
            let ch = char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER);
            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
            i += consumed;
            continue;
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

/// Every run of at least `2 * MIN_MASKED_LEN` hex digits in `text`, decoded (an odd run is read
/// from its first digit and from its second), runs separated by a zero byte.
fn hex_runs(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < text.len() {
        if hex_value(text[start]).is_none() {
            start += 1;
            continue;
        }
        let end = text[start..]
            .iter()
            .position(|b| hex_value(*b).is_none())
            .map_or(text.len(), |n| start + n);
        if end - start >= 2 * MIN_MASKED_LEN {
            for skip in 0..2 {
                for pair in text[start + skip..end].chunks_exact(2) {
                    if let (Some(hi), Some(lo)) = (hex_value(pair[0]), hex_value(pair[1])) {
                        out.push(hi * 16 + lo);
                    }
                }
                out.push(0);
            }
        }
        start = end;
    }
    out
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

    #[test]
    fn masks_hex_unicode_escapes_and_utf16_forms() {
        let masker = Masker::new();
        let secret = "tok/en-9f3";
        masker.add(secret.as_bytes());
        let all_escaped: String = secret
            .chars()
            .map(|c| format!("\\u{:04X}", c as u32))
            .collect();
        let utf16: Vec<u8> = secret.encode_utf16().flat_map(u16::to_le_bytes).collect();
        for text in [
            format!("x={}", hex::encode(secret)),
            format!("x={}", hex::encode_upper(secret)),
            format!("{{\"echo\": \"{all_escaped}\"}}"),
            format!("{{\"echo\": \"{}\"}}", all_escaped.to_lowercase()),
        ] {
            let masked = masker.mask(&text);
            assert!(masked.contains(MASK), "{text} -> {masked}");
            assert!(!masked.contains(&hex::encode(secret)), "{masked}");
        }
        let masked = masker.mask_bytes(utf16.clone());
        assert_ne!(masked, utf16);
    }

    #[test]
    fn masks_a_secret_inside_a_longer_base64_text_at_any_offset() {
        let masker = Masker::new();
        masker.add(b"hunter22-secret");
        for prefix in ["", "a", "ab", "abc", "Authorization: Bearer "] {
            let text = format!("{prefix}hunter22-secret and more");
            let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
            let masked = masker.mask(&encoded);
            assert!(masked.contains(MASK), "{prefix:?}: {encoded} -> {masked}");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(masked.replace(MASK, "AAAA").trim_end_matches('='))
                .unwrap_or_default();
            assert!(
                !String::from_utf8_lossy(&decoded).contains("hunter22-secret"),
                "{prefix:?}"
            );
        }
    }

    #[test]
    fn withholds_a_text_revealing_a_secret_in_mixed_escapes() {
        let masker = Masker::new();
        masker.add(b"pa/ss<word>");
        for text in [
            // Some characters escaped, others not; lowercase percent digits.
            r#"{"echo":"pa\u002fss\u003cword\u003e"}"#.to_owned(),
            "q=pa%2fss%3Cword%3e".to_owned(),
            // Hex in mixed case.
            format!(
                "h={}",
                "70612F73733C776F72643E"
                    .to_lowercase()
                    .replacen("2f", "2F", 1)
            ),
            r"\x70\x61/ss<word>".to_owned(),
        ] {
            assert_eq!(masker.mask(&text), WITHHELD, "{text}");
            assert_eq!(
                masker.mask_or_refuse(text.clone().into_bytes()),
                None,
                "{text}"
            );
        }
        assert_eq!(masker.mask("100% fine \\u0041"), "100% fine \\u0041");
        assert_eq!(masker.mask("deadbeefdeadbeef"), "deadbeefdeadbeef");
    }
}
