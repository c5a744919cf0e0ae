//! The rules of values the admin API takes, as OpenAPI schemas (`#[schema(schema_with = …)]`), so
//! the document states exactly what the server's validators (`midship_core::validation` and the
//! services) accept. The contract test (`crates/midship/tests/it/api_contract.rs`) holds both to it.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaFormat, SchemaType, Type};
use utoipa::openapi::{KnownFormat, Object};

/// No control characters (Unicode Cc: U+0000–001F, U+007F–009F).
const PRINTABLE: &str = r"^[^\x00-\x1f\x7f-\x9f]*$";

fn text(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).description(Some(description))
}

/// A name people give (apps, tenants, tokens): 1 to 64 characters, not only spaces, no control
/// characters (`midship_core::validation::display_name`); surrounding spaces are dropped.
pub fn display_name() -> Object {
    display_name_rule().build()
}

/// A [`display_name`], or null (the same as absent: unchanged).
pub fn optional_display_name() -> Object {
    display_name_rule().schema_type(SchemaType::from_iter([Type::String, Type::Null])).build()
}

fn display_name_rule() -> ObjectBuilder {
    text("1 to 64 characters, not only spaces, no control characters")
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some(r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$"))
}

/// A machine name (workspaces): `midship_core::validation::slug`.
pub fn slug() -> Object {
    text("1 to 32 of a-z, 0-9, `-` and `_`, starting with a letter").pattern(Some(r"^[a-z][a-z0-9_-]{0,31}$")).build()
}

/// An id a caller gives (userIds, utdids, message ids): `midship_core::validation::caller_id`.
pub fn caller_id() -> Object {
    caller_id_rule().build()
}

fn caller_id_rule() -> ObjectBuilder {
    text("1 to 128 characters, no control characters")
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(PRINTABLE))
}

/// Words kept with a decision (approvals): at most 500 characters, no control characters.
pub fn comment() -> Object {
    text("at most 500 characters, no control characters").max_length(Some(500)).pattern(Some(PRINTABLE)).build()
}

/// A [`caller_id`], or null (the same as absent).
pub fn optional_caller_id() -> Object {
    caller_id_rule().schema_type(SchemaType::from_iter([Type::String, Type::Null])).build()
}

/// A platform name in any letter case, as sync's `os_type` takes it; or null.
pub fn os_type() -> Object {
    let names = ["android", "ios", "harmony", "h5", "miniprogram"];
    let any_case = |name: &str| -> String {
        name.chars()
            .map(|c| {
                if c.is_ascii_alphabetic() {
                    format!("[{}{}]", c.to_ascii_lowercase(), c.to_ascii_uppercase())
                } else {
                    c.to_string()
                }
            })
            .collect()
    };
    let alternatives: Vec<String> = names.iter().map(|name| any_case(name)).collect();
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("a platform, in any letter case"))
        .pattern(Some(format!("^({})$", alternatives.join("|"))))
        .build()
}

/// A list of workspace names: 1 to 16, each a [`slug`], none twice.
/// Workspace names to create, or `null` (as when absent) for the default ones.
pub fn workspace_names() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(slug())
        .min_items(Some(1))
        .max_items(Some(16))
        .unique_items(true)
        .build()
}

fn one_of(description: &str, values: &[&str]) -> Object {
    text(description).enum_values(Some(values.iter().copied())).build()
}

pub fn platform() -> Object {
    one_of("a platform", &["android", "ios", "harmony", "h5", "miniprogram"])
}

/// Platforms, each once or more (duplicates count once).
pub fn platforms() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new().items(platform()).build()
}

/// A person's login (`midship_core::people::normalize_login`): letters, digits and `. _ @ + -`,
/// compared without case.
pub fn login() -> Object {
    text("1 to 120 letters, digits or . _ @ + - (an email address works); compared without case")
        .min_length(Some(1))
        .max_length(Some(120))
        .pattern(Some(r"^[A-Za-z0-9._@+-]{1,120}$"))
        .build()
}

const ROLES: [&str; 4] = ["admin", "developer", "operator", "viewer"];

pub fn role() -> Object {
    one_of("a role", &ROLES)
}

/// A [`role`], or null (the same as absent: unchanged).
pub fn optional_role() -> Object {
    let values = ROLES.iter().map(|role| serde_json::Value::from(*role)).chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .description(Some("a role, or null"))
        .enum_values(Some(values))
        .build()
}

/// An upload policy's `kinds`: a policy per event kind, `*` for every kind not named.
pub fn policy_kinds() -> Object {
    let kinds: Vec<&str> = crate::EVENT_KINDS.into_iter().chain([crate::EVERY_OTHER_KIND]).collect();
    ObjectBuilder::new()
        .additional_properties(Some(utoipa::openapi::RefOr::Ref(utoipa::openapi::Ref::from_schema_name("KindPolicy"))))
        .property_names(Some(one_of("an event kind, or `*`", &kinds)))
        .build()
}

/// A day, `YYYY-MM-DD` (UTC).
pub fn day() -> Object {
    text("a day, YYYY-MM-DD (UTC)").format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))).build()
}

fn limit(default: u32, max: u32) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(1))
        .maximum(Some(max))
        .description(Some(format!("items per page, 1 to {max} (default {default})")))
        .build()
}

/// `limit` of the lists paged with `cursor`.
pub fn page_limit() -> Object {
    limit(50, 200)
}

/// `cursor` of a list keyed by a number (the audit log's `seq`, configuration versions).
pub fn number_cursor() -> Object {
    text("`next_cursor` of the previous page").pattern(Some(r"^([0-9]{1,18})?$")).build()
}
