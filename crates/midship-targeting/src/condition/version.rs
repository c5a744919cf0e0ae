//! GrowthBook's `paddedVersionString`: versions become strings whose plain string order is
//! version order, so `$vgt` and friends are string comparisons.

use serde_json::Value;

use crate::js;

/// Numeric parts are left-padded to five characters and a release without a pre-release tag gets
/// a `~` (the largest ASCII character) so that `1.0.0` sorts after `1.0.0-beta`.
pub(crate) fn padded_version(input: &Value) -> String {
    let formatted;
    let text = match input {
        Value::Number(number) => {
            formatted = js::format_number(js::number_of(number));
            formatted.as_str()
        }
        Value::String(text) if !text.is_empty() => text.as_str(),
        _ => "0",
    };
    let text = strip_prefix_and_build(text);
    let mut parts: Vec<&str> = text.split(['-', '.']).collect();
    if parts.len() == 3 {
        parts.push("~");
    }
    let mut out = String::with_capacity(parts.len() * 6);
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            out.push('-');
        }
        if !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()) {
            for _ in part.len()..5 {
                out.push(' ');
            }
        }
        out.push_str(part);
    }
    out
}

/// `.replace(/(^v|\+.*$)/g, "")`: drops a leading `v` and build metadata (`+` to the end, where
/// no line break follows, since `.` does not match one).
fn strip_prefix_and_build(text: &str) -> &str {
    let text = text.strip_prefix('v').unwrap_or(text);
    let build_start = text
        .match_indices('+')
        .map(|(at, _)| at)
        .find(|&at| !text[at..].chars().any(|c| matches!(c, '\n' | '\r' | '\u{2028}' | '\u{2029}')));
    match build_start {
        Some(at) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn pads_numeric_parts_and_marks_releases() {
        assert_eq!(padded_version(&json!("v1.2.3+build")), "    1-    2-    3-~");
        assert_eq!(padded_version(&json!("1.0.0-rc.1")), "    1-    0-    0-rc-    1");
        assert_eq!(padded_version(&json!(2)), "    2");
        assert_eq!(padded_version(&json!(null)), "    0");
        assert_eq!(padded_version(&json!("")), "    0");
        assert_eq!(padded_version(&json!("123456.1.1")), "123456-    1-    1-~");
    }
}
