//! `$regex` patterns are written for JavaScript's `RegExp` but run on the `regex` crate, whose
//! matching time is linear in the input (user-supplied attribute values never meet a
//! backtracking engine). This rewrites the common syntax whose meaning differs between the two.

use regex::{Regex, RegexBuilder};

/// Compiles a JavaScript pattern. Lookaround and backreferences are refused, as the `regex` crate
/// has neither; GrowthBook then treats the pattern as not matching.
pub(crate) fn compile(pattern: &str, ignore_case: bool) -> Result<Regex, String> {
    RegexBuilder::new(&translate(pattern)).case_insensitive(ignore_case).build().map_err(|error| describe(&error))
}

/// Outside character classes: `\d` and `\w` are ASCII in JavaScript (Unicode in `regex`), escaped
/// punctuation is always a literal (`\<` is a word boundary in `regex`), and a `{` that does not
/// start a quantifier is a literal (an error in `regex`).
fn translate(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut in_class = false;
    let mut rest = pattern;
    while let Some(c) = rest.chars().next() {
        rest = &rest[c.len_utf8()..];
        match c {
            '\\' => {
                let Some(escaped) = rest.chars().next() else {
                    out.push('\\');
                    break;
                };
                rest = &rest[escaped.len_utf8()..];
                match escaped {
                    'd' if !in_class => out.push_str("[0-9]"),
                    'D' if !in_class => out.push_str("[^0-9]"),
                    'w' if !in_class => out.push_str("[0-9A-Za-z_]"),
                    'W' if !in_class => out.push_str("[^0-9A-Za-z_]"),
                    punctuation if punctuation.is_ascii_punctuation() => {
                        out.push_str(&regex::escape(punctuation.encode_utf8(&mut [0; 4])));
                    }
                    other => {
                        out.push('\\');
                        out.push(other);
                    }
                }
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
            }
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            '{' if !in_class => match quantifier_length(rest) {
                Some(length) => {
                    out.push('{');
                    out.push_str(&rest[..length]);
                    rest = &rest[length..];
                }
                None => out.push_str("\\{"),
            },
            '}' if !in_class => out.push_str("\\}"),
            other => out.push(other),
        }
    }
    out
}

/// The length of `n}`, `n,}` or `n,m}` at the start of `rest` (what follows a `{`).
fn quantifier_length(rest: &str) -> Option<usize> {
    let bytes = rest.as_bytes();
    let mut at = 0;
    while at < bytes.len() && bytes[at].is_ascii_digit() {
        at += 1;
    }
    if at == 0 {
        return None;
    }
    if bytes.get(at) == Some(&b',') {
        at += 1;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
    }
    (bytes.get(at) == Some(&b'}')).then_some(at + 1)
}

/// The `regex` crate's errors span several lines with a caret diagram; keep the reason.
fn describe(error: &regex::Error) -> String {
    match error {
        regex::Error::Syntax(text) => {
            text.lines().rev().find_map(|line| line.strip_prefix("error: ")).unwrap_or("syntax error").to_owned()
        }
        regex::Error::CompiledTooBig(_) => "pattern is too large".to_owned(),
        _ => "unsupported pattern".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        compile(pattern, false).is_ok_and(|regex| regex.is_match(text))
    }

    #[test]
    fn digit_and_word_classes_are_ascii() {
        assert!(matches(r"^\d+$", "123"));
        assert!(!matches(r"^\d+$", "١٢٣"));
        assert!(matches(r"^\w+$", "abc_1"));
        assert!(!matches(r"^\w+$", "é"));
        assert!(matches(r"^\W$", "é"));
    }

    #[test]
    fn escaped_punctuation_is_literal() {
        assert!(matches(r"a\/b", "a/b"));
        assert!(matches(r"\<tag\>", "<tag>"));
        assert!(matches(r"\-\#\.", "-#."));
        assert!(matches(r"[\]\-]", "-"));
    }

    #[test]
    fn braces_that_are_not_quantifiers_are_literal() {
        assert!(matches(r#"^{"a":1}$"#, r#"{"a":1}"#));
        assert!(matches(r"^a{2}$", "aa"));
        assert!(matches(r"^a{1,}$", "aaa"));
        assert!(matches(r"^a{1,2}$", "aa"));
        assert!(!matches(r"^a{1,2}$", "aaa"));
    }

    #[test]
    fn ignoring_case_folds_by_unicode() {
        let regex = compile("(mobile|tablet)", true);
        assert!(regex.as_ref().is_ok_and(|regex| regex.is_match("Android MOBILE")));
        // fixme: JavaScript's `/k/i` does not fold the Kelvin sign (U+212A) into ASCII; `regex` does.
        assert!(compile("^k$", true).is_ok_and(|regex| regex.is_match("\u{212A}")));
    }

    #[test]
    fn invalid_patterns_explain_themselves() {
        let error = compile("/???***[)", false).err().unwrap_or_default();
        assert!(!error.is_empty());
        assert!(!error.contains('\n'), "{error}");
        assert!(compile("(?=lookahead)", false).is_err());
    }
}
