//! A push's content: checks, `${name}` placeholders, and the payload each channel carries.

use std::collections::{BTreeMap, BTreeSet};

use midship_api::PushMessageBody;
use serde::Serialize;

use crate::PushError;

/// Longest payload, in bytes: APNs' limit, and within the long connection's 4096 characters.
pub const MAX_PAYLOAD_BYTES: usize = 4096;
pub const DEFAULT_EXPIRY_SECONDS: u32 = 3 * 86_400;
pub const MAX_EXPIRY_SECONDS: u32 = 7 * 86_400;
const STYLES: [&str; 3] = ["plain", "big_text", "image"];

fn invalid(field: &'static str, message: impl Into<String>) -> PushError {
    PushError::Invalid { field, message: message.into() }
}

/// Checks what does not depend on placeholder values.
pub fn validate(message: &PushMessageBody) -> Result<(), PushError> {
    if message.title.trim().is_empty() && message.content.trim().is_empty() && !message.silent {
        return Err(invalid("message", "a visible notification needs a title or content"));
    }
    let style = message.style.as_deref().unwrap_or("plain");
    if !STYLES.contains(&style) {
        return Err(invalid("style", format!("must be one of {}", STYLES.join(", "))));
    }
    if style == "image" && message.image_url.as_deref().is_none_or(str::is_empty) {
        return Err(invalid("image_url", "style image needs an image_url"));
    }
    if let Some(expiry) = message.expiry_seconds
        && !(1..=MAX_EXPIRY_SECONDS).contains(&expiry)
    {
        return Err(invalid("expiry_seconds", format!("must be 1 to {MAX_EXPIRY_SECONDS}")));
    }
    for key in message.ext.keys() {
        if key.is_empty() || key.len() > 64 {
            return Err(invalid("ext", "keys must be 1 to 64 bytes"));
        }
    }
    Ok(())
}

/// The `${name}` placeholders of a template message.
pub fn placeholders(message: &PushMessageBody) -> Result<BTreeSet<String>, PushError> {
    let mut names = BTreeSet::new();
    for text in texts(message) {
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| invalid("template", "a `${` has no closing `}`"))?;
            let name = &after[..end];
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(invalid("template", format!("placeholder `${{{name}}}` must be letters, digits and _")));
            }
            names.insert(name.to_owned());
            rest = &after[end + 1..];
        }
    }
    Ok(names)
}

fn texts(message: &PushMessageBody) -> impl Iterator<Item = &str> {
    [Some(&message.title), Some(&message.content), message.uri.as_ref(), message.image_url.as_ref()]
        .into_iter()
        .flatten()
        .chain(message.ext.values())
        .map(String::as_str)
}

/// Fills the placeholders. Every placeholder needs a value and every value a placeholder, so a
/// misspelt name is an error rather than a notification showing `${nmae}`.
pub fn render(template: &PushMessageBody, values: &BTreeMap<String, String>) -> Result<PushMessageBody, PushError> {
    let names = placeholders(template)?;
    if let Some(unknown) = values.keys().find(|name| !names.contains(*name)) {
        return Err(invalid("values", format!("the template has no placeholder `{unknown}`")));
    }
    if let Some(missing) = names.iter().find(|name| !values.contains_key(*name)) {
        return Err(invalid("values", format!("no value for placeholder `{missing}`")));
    }
    let fill = |text: &str| {
        values.iter().fold(text.to_owned(), |text, (name, value)| text.replace(&format!("${{{name}}}"), value))
    };
    Ok(PushMessageBody {
        title: fill(&template.title),
        content: fill(&template.content),
        uri: template.uri.as_deref().map(fill),
        ext: template.ext.iter().map(|(key, value)| (key.clone(), fill(value))).collect(),
        image_url: template.image_url.as_deref().map(fill),
        ..template.clone()
    })
}

/// What the own channel carries to the SDK (documented in docs/push.md). Only serialized: the
/// flattened message refuses unknown fields, so readers parse their own view of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum OwnChannelPayload {
    Message {
        task_id: String,
        msg_id: String,
        #[serde(flatten)]
        message: Box<PushMessageBody>,
        expires_at: i64,
    },
    /// Take down the notification of an earlier message.
    Revoke { task_id: String },
}

impl OwnChannelPayload {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("payloads serialize")
    }
}

/// Refuses a message whose payload would not fit a channel.
pub fn check_size(message: &PushMessageBody) -> Result<(), PushError> {
    let payload = OwnChannelPayload::Message {
        task_id: "T".repeat(40),
        msg_id: String::new(),
        message: Box::new(message.clone()),
        expires_at: i64::MAX,
    };
    let size = payload.to_json().len();
    if size > MAX_PAYLOAD_BYTES {
        return Err(PushError::TooLarge(format!(
            "the message takes {size} bytes; channels take at most {MAX_PAYLOAD_BYTES}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> PushMessageBody {
        PushMessageBody {
            title: "Hello ${name}".into(),
            content: "Your bill of ${amount} is due".into(),
            uri: Some("app://bills/${bill}".into()),
            ..PushMessageBody::default()
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())).collect()
    }

    #[test]
    fn placeholders_are_filled() {
        let rendered = render(&template(), &values(&[("name", "Ana"), ("amount", "€12"), ("bill", "7")])).unwrap();
        assert_eq!(rendered.title, "Hello Ana");
        assert_eq!(rendered.content, "Your bill of €12 is due");
        assert_eq!(rendered.uri.as_deref(), Some("app://bills/7"));
    }

    #[test]
    fn unknown_and_missing_placeholders_are_refused() {
        let unknown = render(&template(), &values(&[("name", "Ana"), ("amount", "1"), ("bill", "7"), ("nmae", "x")]));
        assert!(unknown.unwrap_err().to_string().contains("no placeholder `nmae`"));
        let missing = render(&template(), &values(&[("name", "Ana")]));
        assert!(missing.unwrap_err().to_string().contains("no value for placeholder `amount`"));
        let broken = PushMessageBody { title: "Hi ${name".into(), ..PushMessageBody::default() };
        assert!(placeholders(&broken).is_err());
    }

    #[test]
    fn oversized_messages_and_bad_styles_are_refused() {
        let big = PushMessageBody { title: "t".into(), content: "x".repeat(5000), ..PushMessageBody::default() };
        assert!(matches!(check_size(&big), Err(PushError::TooLarge(_))));
        let image = PushMessageBody { title: "t".into(), style: Some("image".into()), ..PushMessageBody::default() };
        assert!(validate(&image).is_err());
        let odd = PushMessageBody { title: "t".into(), style: Some("fancy".into()), ..PushMessageBody::default() };
        assert!(validate(&odd).is_err());
    }
}
