//! YAQL's tokens, as yaql 3's lexer cuts them (rules tried in its order: `$name`, numbers,
//! `name(`, bare words, quoted strings, then operators longest first).
//!
//! Two of its rules shape the language: a word directly followed by `(` is a function name, and
//! any other bare word (not `true`, `false`, `null` or a word operator) is a string, which is why
//! `ctx(x)` names the variable `x`.

use std::sync::Arc;

/// One token and the character position (0-based) where it starts.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub tok: Tok,
    pub pos: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Tok {
    Int(i64),
    Float(f64),
    Str(Arc<str>),
    /// A bare word: a string constant.
    Word(Arc<str>),
    /// `name(`: a function call starts.
    Func(Arc<str>),
    /// `$` (empty name) or `$name`.
    Dollar(Arc<str>),
    True,
    False,
    Null,
    /// An operator or punctuation, as written (`mod`, `and`, `->`, `[`, `,` …).
    Op(&'static str),
}

/// Operators made of symbols, longest first so `>=` wins over `>`.
const SYMBOLS: [&str; 21] = [
    "?.", "=~", "!~", ">=", "<=", "!=", "->", "=>", ".", "+", "-", "*", "/", ">", "<", "=", "[",
    "]", "{", "}", ",",
];
const WORD_OPS: [&str; 5] = ["mod", "in", "not", "and", "or"];

/// A lexical error: the character and its position.
#[derive(Clone, Debug)]
pub(crate) struct LexError {
    pub pos: usize,
    pub message: String,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn is_word_start(c: char) -> bool {
    is_word_char(c) && !c.is_numeric()
}

/// Cuts `code` into tokens.
pub(crate) fn lex(code: &str) -> Result<Vec<Token>, LexError> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |pos: usize, message: String| LexError { pos, message };
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        if matches!(c, ' ' | '\t' | '\r' | '\n') {
            i += 1;
            continue;
        }
        if c == '$' {
            i += 1;
            while i < chars.len() && is_word_char(chars[i]) {
                i += 1;
            }
            let name: String = chars[start + 1..i].iter().collect();
            out.push(Token {
                tok: Tok::Dollar(Arc::from(name)),
                pos: start,
            });
            continue;
        }
        // Numbers: \b\d+(\.?\d+)?\b (a word boundary on both sides).
        if c.is_ascii_digit() && (start == 0 || !is_word_char(chars[start - 1])) {
            let mut j = i;
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            let mut end = j;
            let mut float = false;
            if j + 1 < chars.len() && chars[j] == '.' && chars[j + 1].is_ascii_digit() {
                let mut k = j + 1;
                while k < chars.len() && chars[k].is_ascii_digit() {
                    k += 1;
                }
                if k >= chars.len() || !is_word_char(chars[k]) {
                    end = k;
                    float = true;
                }
            }
            if end == j && j < chars.len() && is_word_char(chars[j]) {
                return Err(err(start, format!("illegal character '{c}'")));
            }
            let text: String = chars[start..end].iter().collect();
            let tok = if float {
                Tok::Float(text.parse().map_err(|_| err(start, "bad number".into()))?)
            } else {
                Tok::Int(
                    text.parse()
                        .map_err(|_| err(start, format!("integer {text} is too large")))?,
                )
            };
            out.push(Token { tok, pos: start });
            i = end;
            continue;
        }
        if is_word_start(c) {
            let mut j = i;
            while j < chars.len() && is_word_char(chars[j]) {
                j += 1;
            }
            let word: String = chars[start..j].iter().collect();
            if j < chars.len() && chars[j] == '(' {
                out.push(Token {
                    tok: Tok::Func(Arc::from(word)),
                    pos: start,
                });
                i = j + 1;
                continue;
            }
            if word.starts_with("__") {
                return Err(err(start, format!("illegal character '{c}'")));
            }
            let tok = match word.as_str() {
                "true" => Tok::True,
                "false" => Tok::False,
                "null" => Tok::Null,
                w => match WORD_OPS.iter().find(|op| **op == w) {
                    Some(op) => Tok::Op(op),
                    None => Tok::Word(Arc::from(word)),
                },
            };
            out.push(Token { tok, pos: start });
            i = j;
            continue;
        }
        if c == '\'' || c == '"' || c == '`' {
            let mut j = i + 1;
            let mut raw = String::new();
            loop {
                let Some(&d) = chars.get(j) else {
                    return Err(err(start, format!("illegal character '{c}'")));
                };
                if d == '\\' {
                    let Some(&e) = chars.get(j + 1) else {
                        return Err(err(start, format!("illegal character '{c}'")));
                    };
                    raw.push(d);
                    raw.push(e);
                    j += 2;
                    continue;
                }
                if d == c {
                    break;
                }
                raw.push(d);
                j += 1;
            }
            let value = if c == '`' {
                raw.replace("\\`", "`")
            } else {
                decode_escapes(&raw).map_err(|m| err(start, m))?
            };
            out.push(Token {
                tok: Tok::Str(Arc::from(value)),
                pos: start,
            });
            i = j + 1;
            continue;
        }
        // '(' and ')' are literals of their own; '(' after a word was taken by Func above.
        if c == '(' {
            out.push(Token {
                tok: Tok::Op("("),
                pos: start,
            });
            i += 1;
            continue;
        }
        if c == ')' {
            out.push(Token {
                tok: Tok::Op(")"),
                pos: start,
            });
            i += 1;
            continue;
        }
        let rest = &chars[i..];
        let sym = SYMBOLS.iter().find(|s| {
            let sc: Vec<char> = s.chars().collect();
            rest.starts_with(&sc)
        });
        match sym {
            Some(s) => {
                out.push(Token {
                    tok: Tok::Op(s),
                    pos: start,
                });
                i += s.chars().count();
            }
            None => {
                let hint = match c {
                    '|' => {
                        " (Jinja's filters work in {{ }} only; in YAQL call a function, e.g. len(x))"
                    }
                    '~' => " (Jinja's `~`; in YAQL join strings with +)",
                    '%' => " (YAQL has no `%`; use mod)",
                    _ => "",
                };
                return Err(err(start, format!("illegal character '{c}'{hint}")));
            }
        }
    }
    Ok(out)
}

/// Python's `unicode-escape` of the sequences yaql decodes; any other backslash stays as written
/// (so `'\d+'` reaches a regex intact).
fn decode_escapes(raw: &str) -> Result<String, String> {
    let chars: Vec<char> = raw.chars().collect();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    let hex = |s: &[char]| -> Option<char> {
        let t: String = s.iter().collect();
        u32::from_str_radix(&t, 16).ok().and_then(char::from_u32)
    };
    while i < chars.len() {
        let c = chars[i];
        if c != '\\' || i + 1 >= chars.len() {
            out.push(c);
            i += 1;
            continue;
        }
        let e = chars[i + 1];
        let simple = match e {
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(s) = simple {
            out.push(s);
            i += 2;
            continue;
        }
        let width = match e {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if width > 0 && i + 2 + width <= chars.len() {
            match hex(&chars[i + 2..i + 2 + width]) {
                Some(h) => {
                    out.push(h);
                    i += 2 + width;
                    continue;
                }
                None => return Err(format!("bad escape \\{e} in a string")),
            }
        }
        if e.is_digit(8) {
            let mut j = i + 1;
            while j < chars.len() && j < i + 4 && chars[j].is_digit(8) {
                j += 1;
            }
            let t: String = chars[i + 1..j].iter().collect();
            if let Some(ch) = u32::from_str_radix(&t, 8).ok().and_then(char::from_u32) {
                out.push(ch);
                i = j;
                continue;
            }
        }
        if e == 'N' {
            return Err("\\N{…} escapes are not supported; write the character itself".into());
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<Tok> {
        lex(s).expect("lexes").into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_before_a_parenthesis_are_functions_others_are_strings() {
        assert_eq!(
            toks("ctx(x).y"),
            vec![
                Tok::Func("ctx".into()),
                Tok::Word("x".into()),
                Tok::Op(")"),
                Tok::Op("."),
                Tok::Word("y".into())
            ]
        );
        assert_eq!(
            toks("a mod b"),
            vec![Tok::Word("a".into()), Tok::Op("mod"), Tok::Word("b".into())]
        );
    }

    #[test]
    fn numbers_strings_and_dollars() {
        assert_eq!(
            toks(r#"1 2.5 'a\'b' "\n" `x\d` $ $x"#),
            vec![
                Tok::Int(1),
                Tok::Float(2.5),
                Tok::Str("a'b".into()),
                Tok::Str("\n".into()),
                Tok::Str("x\\d".into()),
                Tok::Dollar("".into()),
                Tok::Dollar("x".into())
            ]
        );
        assert_eq!(toks(r"'\d+'"), vec![Tok::Str("\\d+".into())]);
    }

    #[test]
    fn illegal_characters_carry_their_position() {
        let e = lex("1 + %").expect_err("illegal");
        assert_eq!(e.pos, 4);
        assert!(lex("__x").is_err());
        assert!(lex("1a").is_err());
    }
}
