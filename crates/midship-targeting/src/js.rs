//! The JavaScript value semantics GrowthBook's reference evaluator leans on (string and number
//! conversion, truthiness, strict equality, relational comparison). Conditions are compared with
//! these rules so that a Midship condition matches exactly the users GrowthBook's SDKs would match.

use std::borrow::Cow;
use std::cmp::Ordering;

use serde_json::Value;

/// Nesting beyond which stringification and equality stop descending. JSON parsed by serde_json
/// is never this deep; the limit only keeps hand-built values from exhausting the stack.
const MAX_STRINGIFY_DEPTH: usize = 128;

/// The `null` that missing attributes read as (GrowthBook's `getPath` answers `null`).
pub(crate) static NULL: Value = Value::Null;

/// JavaScript has one number type; every JSON number becomes an `f64`.
pub(crate) fn number_of(number: &serde_json::Number) -> f64 {
    number.as_f64().unwrap_or(f64::NAN)
}

/// `!!value`.
pub(crate) fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(flag) => *flag,
        Value::Number(number) => {
            let number = number_of(number);
            number != 0.0 && !number.is_nan()
        }
        Value::String(text) => !text.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `String(value)`.
pub(crate) fn to_js_string(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        _ => {
            let mut out = String::new();
            write_js_string(value, &mut out, 0);
            Cow::Owned(out)
        }
    }
}

fn write_js_string(value: &Value, out: &mut String, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&format_number(number_of(number))),
        Value::String(text) => out.push_str(text),
        // `Array.prototype.join`: null elements become empty strings.
        Value::Array(items) => {
            if depth >= MAX_STRINGIFY_DEPTH {
                return;
            }
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                if !item.is_null() {
                    write_js_string(item, out, depth + 1);
                }
            }
        }
        Value::Object(_) => out.push_str("[object Object]"),
    }
}

/// `Number.prototype.toString()`: the shortest round-trip digits, in exponent form outside
/// `1e-7 < |x| < 1e21`.
pub(crate) fn format_number(number: f64) -> String {
    if number.is_nan() {
        return "NaN".to_owned();
    }
    if number == 0.0 {
        return "0".to_owned();
    }
    if number.is_infinite() {
        return if number > 0.0 { "Infinity" } else { "-Infinity" }.to_owned();
    }
    if number < 0.0 {
        return format!("-{}", format_number(-number));
    }
    const EXACT_INTEGER_LIMIT: f64 = 9_007_199_254_740_992.0;
    if number.fract() == 0.0 && number < EXACT_INTEGER_LIMIT {
        // Integers below 2^53 print as all their digits in both languages.
        return (number as u64).to_string();
    }
    // `{:e}` gives the shortest round-trip digits, e.g. `1.2345e6`.
    let scientific = format!("{number:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let Ok(exponent) = exponent.parse::<i64>() else {
        return scientific;
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digit_count = i64::try_from(digits.len()).unwrap_or(i64::MAX);
    let point = exponent + 1;
    if digit_count <= point && point <= 21 {
        let zeros = usize::try_from(point - digit_count).unwrap_or(0);
        format!("{digits}{}", "0".repeat(zeros))
    } else if 0 < point && point <= 21 {
        let split = usize::try_from(point).unwrap_or(0).min(digits.len());
        format!("{}.{}", &digits[..split], &digits[split..])
    } else if -6 < point && point <= 0 {
        let zeros = usize::try_from(-point).unwrap_or(0);
        format!("0.{}{digits}", "0".repeat(zeros))
    } else {
        let sign = if exponent >= 0 { '+' } else { '-' };
        let magnitude = exponent.unsigned_abs();
        if digits.len() <= 1 {
            format!("{digits}e{sign}{magnitude}")
        } else {
            format!("{}.{}e{sign}{magnitude}", &digits[..1], &digits[1..])
        }
    }
}

/// `Number(value)` (what `value * 1` computes).
pub(crate) fn to_js_number(value: &Value) -> f64 {
    match value {
        Value::Null => 0.0,
        Value::Bool(flag) => f64::from(u8::from(*flag)),
        Value::Number(number) => number_of(number),
        Value::String(text) => string_to_number(text),
        Value::Array(_) => string_to_number(&to_js_string(value)),
        Value::Object(_) => f64::NAN,
    }
}

/// JavaScript's `StrWhiteSpaceChar`: Unicode spaces and line terminators plus the BOM.
pub(crate) fn is_js_whitespace(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}'
}

/// `Number(text)`: decimal literals, `Infinity`, and `0x`/`0o`/`0b` integers; blank is zero.
pub(crate) fn string_to_number(text: &str) -> f64 {
    let trimmed = text.trim_matches(is_js_whitespace);
    if trimmed.is_empty() {
        return 0.0;
    }
    match trimmed {
        "Infinity" | "+Infinity" => return f64::INFINITY,
        "-Infinity" => return f64::NEG_INFINITY,
        _ => {}
    }
    let bytes = trimmed.as_bytes();
    if bytes.len() > 2 && bytes[0] == b'0' {
        let radix = match bytes[1] {
            b'x' | b'X' => Some(16),
            b'o' | b'O' => Some(8),
            b'b' | b'B' => Some(2),
            _ => None,
        };
        if let Some(radix) = radix {
            return parse_radix_digits(&trimmed[2..], radix).unwrap_or(f64::NAN);
        }
    }
    if is_decimal_literal(trimmed) { trimmed.parse::<f64>().unwrap_or(f64::NAN) } else { f64::NAN }
}

/// All of `digits` in `radix`, or `None` if any is not a digit.
fn parse_radix_digits(digits: &str, radix: u32) -> Option<f64> {
    if digits.is_empty() {
        return None;
    }
    digits
        .chars()
        .try_fold(0.0_f64, |total, c| c.to_digit(radix).map(|digit| total * f64::from(radix) + f64::from(digit)))
}

/// `StrDecimalLiteral`: `[+-] (digits [. [digits]] | . digits) [(e|E) [+-] digits]`.
fn is_decimal_literal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    if matches!(bytes.first(), Some(b'+' | b'-')) {
        at += 1;
    }
    let integer_start = at;
    while at < bytes.len() && bytes[at].is_ascii_digit() {
        at += 1;
    }
    let mut digit_count = at - integer_start;
    if at < bytes.len() && bytes[at] == b'.' {
        at += 1;
        let fraction_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        digit_count += at - fraction_start;
    }
    if digit_count == 0 {
        return false;
    }
    if at < bytes.len() && matches!(bytes[at], b'e' | b'E') {
        at += 1;
        if at < bytes.len() && matches!(bytes[at], b'+' | b'-') {
            at += 1;
        }
        let exponent_start = at;
        while at < bytes.len() && bytes[at].is_ascii_digit() {
            at += 1;
        }
        if at == exponent_start {
            return false;
        }
    }
    at == bytes.len()
}

/// `parseInt(text)`: leading whitespace, a sign, then as many digits as there are (hexadecimal
/// after `0x`); `None` where JavaScript gives `NaN`.
pub(crate) fn parse_int(text: &str) -> Option<f64> {
    let mut rest = text.trim_start_matches(is_js_whitespace);
    let mut sign = 1.0;
    if let Some(after) = rest.strip_prefix('-') {
        sign = -1.0;
        rest = after;
    } else if let Some(after) = rest.strip_prefix('+') {
        rest = after;
    }
    let mut radix = 10;
    if let Some(after) = rest.strip_prefix("0x").or_else(|| rest.strip_prefix("0X")) {
        radix = 16;
        rest = after;
    }
    let digits: &str = rest.find(|c: char| !c.is_digit(radix)).map_or(rest, |end| &rest[..end]);
    parse_radix_digits(digits, radix).map(|magnitude| sign * magnitude)
}

/// `a === b`. Arrays and objects compare by identity in JavaScript, so a value from the
/// condition never equals one from the attributes.
pub(crate) fn strict_equals(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => number_of(a) == number_of(b),
        (Value::String(a), Value::String(b)) => a == b,
        _ => false,
    }
}

/// `JSON.stringify(a) === JSON.stringify(b)`, except that object keys compare as sets
/// (serde_json does not keep key order).
pub(crate) fn json_equals(a: &Value, b: &Value) -> bool {
    json_equals_within(a, b, 0)
}

fn json_equals_within(a: &Value, b: &Value, depth: usize) -> bool {
    if depth > MAX_STRINGIFY_DEPTH {
        return false;
    }
    match (a, b) {
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| json_equals_within(a, b, depth + 1))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter().all(|(key, a)| b.get(key).is_some_and(|b| json_equals_within(a, b, depth + 1)))
        }
        _ => strict_equals(a, b),
    }
}

/// GrowthBook's `getType`.
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value after `ToPrimitive`, as the relational operators see it.
#[derive(Debug, Clone)]
pub(crate) enum Primitive<'a> {
    Text(Cow<'a, str>),
    Number(f64),
}

impl Primitive<'_> {
    pub(crate) fn of(value: &Value) -> Primitive<'_> {
        match value {
            Value::String(_) | Value::Array(_) | Value::Object(_) => Primitive::Text(to_js_string(value)),
            other => Primitive::Number(to_js_number(other)),
        }
    }

    pub(crate) fn into_owned(self) -> Primitive<'static> {
        match self {
            Primitive::Text(text) => Primitive::Text(Cow::Owned(text.into_owned())),
            Primitive::Number(number) => Primitive::Number(number),
        }
    }

    fn number(&self) -> f64 {
        match self {
            Primitive::Text(text) => string_to_number(text),
            Primitive::Number(number) => *number,
        }
    }

    /// JavaScript's abstract relational comparison: strings compare as strings, anything else as
    /// numbers; `None` where a `NaN` makes every comparison false.
    pub(crate) fn compare(&self, other: &Primitive<'_>) -> Option<Ordering> {
        match (self, other) {
            (Primitive::Text(a), Primitive::Text(b)) => Some(compare_strings(a, b)),
            _ => self.number().partial_cmp(&other.number()),
        }
    }
}

/// JavaScript string order: by UTF-16 code unit, which differs from Rust's (code point) order
/// only between astral characters and U+E000..U+FFFF.
pub(crate) fn compare_strings(a: &str, b: &str) -> Ordering {
    let mut a_chars = a.chars();
    let mut b_chars = b.chars();
    loop {
        match (a_chars.next(), b_chars.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                let mut a_units = [0_u16; 2];
                let mut b_units = [0_u16; 2];
                return a.encode_utf16(&mut a_units).cmp(&b.encode_utf16(&mut b_units));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_print_like_javascript() {
        let cases = [
            (1.0, "1"),
            (-1.5, "-1.5"),
            (0.1, "0.1"),
            (123_456_789.0, "123456789"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (0.000_001, "0.000001"),
            (18_446_744_073_709_551_616.0, "18446744073709552000"),
            (f64::NAN, "NaN"),
            (-0.0, "0"),
        ];
        for (number, expected) in cases {
            assert_eq!(format_number(number), expected, "{number}");
        }
    }

    #[test]
    fn strings_convert_to_numbers_like_javascript() {
        assert_eq!(string_to_number(" 8 "), 8.0);
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number("0x1F"), 31.0);
        assert_eq!(string_to_number(".5"), 0.5);
        assert_eq!(string_to_number("5."), 5.0);
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        for not_a_number in ["inf", "nan", "1e", "abc", "1 2", "0x", "--1", "."] {
            assert!(string_to_number(not_a_number).is_nan(), "{not_a_number}");
        }
    }

    #[test]
    fn values_convert_to_strings_like_javascript() {
        assert_eq!(to_js_string(&json!(null)), "null");
        assert_eq!(to_js_string(&json!([1, null, [2, "a"]])), "1,,2,a");
        assert_eq!(to_js_string(&json!({"a": 1})), "[object Object]");
        assert_eq!(to_js_string(&json!(2.5)), "2.5");
        assert_eq!(to_js_number(&json!([])), 0.0);
        assert_eq!(to_js_number(&json!(["7"])), 7.0);
    }

    #[test]
    fn parse_int_reads_a_prefix() {
        assert_eq!(parse_int("2.054"), Some(2.0));
        assert_eq!(parse_int("  -1x"), Some(-1.0));
        assert_eq!(parse_int("0x1g"), Some(1.0));
        assert_eq!(parse_int("foo"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn strings_order_by_utf16_code_units() {
        assert_eq!(compare_strings("a", "b"), Ordering::Less);
        assert_eq!(compare_strings("ab", "a"), Ordering::Greater);
        // U+1F600 is a surrogate pair (0xD83D ...), below U+FF5E in UTF-16.
        assert_eq!(compare_strings("\u{1F600}", "\u{FF5E}"), Ordering::Less);
    }
}
