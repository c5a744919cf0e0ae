//! Forcing a variation from the page URL (`?my-experiment=1`), which GrowthBook's `run` honours
//! so that QA can open any variation by link.

use crate::js;

/// The variation forced for experiment `id` by `url`'s query string, if it names a valid one.
/// Follows GrowthBook's `getQueryStringOverride`: the first `id=` pair counts, its value is read
/// with `parseInt` (so `1.5` is `1`), and values are not URL-decoded.
pub fn get_query_string_override(id: &str, url: &str, num_variations: usize) -> Option<usize> {
    let search = url.split('?').nth(1).filter(|search| !search.is_empty())?;
    let search = strip_anchor(search);
    let (_, value) = search
        .split('&')
        .map(|pair| {
            let mut parts = pair.split('=');
            (parts.next().unwrap_or_default(), parts.next())
        })
        .find(|(key, _)| *key == id)?;
    let variation = js::parse_int(value?)?;
    let limit = num_variations as f64;
    // `-0 >= 0` holds in JavaScript too, and `-0` is variation 0.
    (variation >= 0.0 && variation < limit).then_some(variation as usize)
}

/// `.replace(/#.*/, "")`: from the first `#` up to a line break (`.` stops there).
fn strip_anchor(search: &str) -> std::borrow::Cow<'_, str> {
    let Some(start) = search.find('#') else {
        return search.into();
    };
    let after = &search[start..];
    match after.find(['\n', '\r', '\u{2028}', '\u{2029}']) {
        Some(end) => format!("{}{}", &search[..start], &after[end..]).into(),
        None => search[..start].into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_first_matching_pair() {
        let url = "http://example.com?foo=bar&my-test=1&my-test=0#anchor";
        assert_eq!(get_query_string_override("my-test", url, 2), Some(1));
        assert_eq!(get_query_string_override("my-test", "http://x?my-test", 2), None);
        assert_eq!(get_query_string_override("my-test", "http://x?my-test=-0", 2), Some(0));
        assert_eq!(get_query_string_override("my-test", "http://x?my-test=1#a", 1), None);
    }
}
