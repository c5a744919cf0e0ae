//! The features payload as outside SDKs fetch it, without the ids of whitelisted users and
//! devices: every `userId`/`deviceId` list in a condition becomes a list of SHA-256 hashes
//! matched against the `userIdSha256`/`deviceIdSha256` attributes (GrowthBook's secure
//! attributes: the app hashes the id with the salt and passes the hex digest). The raw ids stay
//! on the server; bucketing still uses the plain attributes, so values agree with Midship's own
//! evaluation. Patterns (`$regex`) cannot be hashed and stay as they are.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The attributes whose lists are hashed, and the attribute the hashes are matched against.
const HASHED_ATTRIBUTES: [(&str, &str); 2] = [("userId", "userIdSha256"), ("deviceId", "deviceIdSha256")];

/// Lower-case hex SHA-256 of `salt` followed by `value`, what the app passes.
pub fn hash_identifier(salt: &str, value: &str) -> String {
    hex::encode(Sha256::new().chain_update(salt).chain_update(value).finalize())
}

/// `features` with every whitelist of ids replaced by its hashes.
pub fn hide_identifiers(features: &Map<String, Value>, salt: &str) -> Map<String, Value> {
    features.iter().map(|(key, feature)| (key.clone(), hide_in(feature, salt))).collect()
}

fn hide_in(value: &Value, salt: &str) -> Value {
    match value {
        Value::Object(object) => {
            let mut hidden = Map::new();
            for (key, inner) in object {
                let hashed_name = HASHED_ATTRIBUTES.iter().find(|(plain, _)| plain == key).map(|(_, hashed)| *hashed);
                match (hashed_name, hashed_list(inner, salt)) {
                    (Some(hashed_name), Some(list)) => {
                        hidden.insert(hashed_name.to_owned(), list);
                    }
                    _ => {
                        hidden.insert(key.clone(), hide_in(inner, salt));
                    }
                }
            }
            Value::Object(hidden)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| hide_in(item, salt)).collect()),
        other => other.clone(),
    }
}

/// `{"$in": [ids]}` (or `$nin`) as the same operator over hashes; `None` for anything else.
fn hashed_list(condition: &Value, salt: &str) -> Option<Value> {
    let object = condition.as_object().filter(|object| object.len() == 1)?;
    let (operator, Value::Array(ids)) = object.iter().next()? else { return None };
    if operator != "$in" && operator != "$nin" {
        return None;
    }
    let hashes = ids
        .iter()
        .map(|id| id.as_str().map(|id| Value::String(hash_identifier(salt, id))))
        .collect::<Option<Vec<_>>>()?;
    Some(Value::Object(Map::from_iter([(operator.clone(), Value::Array(hashes))])))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn whitelists_become_hashes_and_patterns_stay() {
        let features = json!({ "vip": { "defaultValue": false, "rules": [{ "condition": { "$or": [
            { "userId": { "$in": ["alice-secret-vip"] } },
            { "deviceId": { "$in": ["DEV1"] } },
            { "userId": { "$regex": "^qa-" } },
        ] }, "force": true }] } });
        let hidden = Value::Object(hide_identifiers(features.as_object().unwrap(), "SALT"));
        let text = hidden.to_string();
        assert!(!text.contains("alice-secret-vip") && !text.contains("DEV1"), "{text}");
        let alternatives = &hidden["vip"]["rules"][0]["condition"]["$or"];
        assert_eq!(alternatives[0]["userIdSha256"]["$in"][0], hash_identifier("SALT", "alice-secret-vip"));
        assert_eq!(alternatives[1]["deviceIdSha256"]["$in"][0], hash_identifier("SALT", "DEV1"));
        assert_eq!(alternatives[2], json!({ "userId": { "$regex": "^qa-" } }));
        assert_eq!(hash_identifier("", "abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
