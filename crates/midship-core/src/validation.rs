//! Input rules shared by the admin API, the CLI and the console.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Human-given names (apps, tenants, tokens): 1 to 64 characters, not all spaces, no control
/// characters; stored without surrounding spaces.
pub fn display_name(field: &'static str, name: &str) -> Result<String, ValidationError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ValidationError::new(field, "must not be empty"));
    }
    if name.chars().count() > 64 {
        return Err(ValidationError::new(field, "must be at most 64 characters"));
    }
    if name.chars().any(char::is_control) {
        return Err(ValidationError::new(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

/// Machine names (workspaces): what clients and scripts type, so lower-case letters, digits, `-`
/// and `_`, starting with a letter, at most 32 characters.
pub fn slug(field: &'static str, name: &str) -> Result<String, ValidationError> {
    let valid_start = name.chars().next().is_some_and(|first| first.is_ascii_lowercase());
    let valid_chars = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
    if !valid_start || !valid_chars || name.len() > 32 {
        return Err(ValidationError::new(
            field,
            format!("`{name}` must be 1 to 32 of a-z, 0-9, - and _, starting with a letter"),
        ));
    }
    Ok(name.to_owned())
}

/// The longest id a caller may give.
pub const MAX_CALLER_ID_CHARS: usize = 128;

/// Ids a caller gives (userIds, utdids, message ids): 1 to 128 printable characters.
pub fn caller_id(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() || value.chars().count() > MAX_CALLER_ID_CHARS || value.chars().any(char::is_control) {
        return Err(ValidationError::new(field, format!("must be 1 to {MAX_CALLER_ID_CHARS} printable characters")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(display_name("name", "  Bank App ").unwrap(), "Bank App");
        assert!(display_name("name", "   ").is_err());
        assert!(display_name("name", &"x".repeat(65)).is_err());
        assert!(display_name("name", "a\u{7}b").is_err());
    }

    #[test]
    fn caller_ids_are_printable_and_bounded() {
        assert!(caller_id("id", "alice@bank").is_ok());
        assert!(caller_id("id", "").is_err());
        assert!(caller_id("id", &"x".repeat(129)).is_err());
        assert!(caller_id("id", "a\nb").is_err());
    }

    #[test]
    fn slugs_are_lower_case_words() {
        assert!(slug("workspace", "prod").is_ok());
        assert!(slug("workspace", "pre-prod_2").is_ok());
        assert!(slug("workspace", "Prod").is_err());
        assert!(slug("workspace", "2prod").is_err());
        assert!(slug("workspace", "").is_err());
    }
}
