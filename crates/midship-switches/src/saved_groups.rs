//! Whitelists in the features payload as GrowthBook saved groups (SDK spec 0.7): each hashed list
//! of ids goes out once, under `savedGroups`, and every condition that used it names it with
//! `$inGroup` (or `$notInGroup` for `$nin`). A 100,000-id whitelist used by several switches or
//! rules is sent once, and SDKs compile it once. Run after `secure_attributes::hide_identifiers`,
//! so the groups hold hashes, never ids.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The attributes whose lists become saved groups: the hashed whitelists.
const GROUPED_ATTRIBUTES: [&str; 2] = ["userIdSha256", "deviceIdSha256"];

/// `features` with their whitelists moved into saved groups, and the groups (id → list).
pub fn extract_saved_groups(features: &Map<String, Value>) -> (Map<String, Value>, Map<String, Value>) {
    let mut groups = BTreeMap::new();
    let features = features.iter().map(|(key, feature)| (key.clone(), group_in(feature, &mut groups))).collect();
    (features, groups.into_iter().collect())
}

fn group_in(value: &Value, groups: &mut BTreeMap<String, Value>) -> Value {
    match value {
        Value::Object(object) => {
            let mut grouped = Map::new();
            for (key, inner) in object {
                let replaced =
                    GROUPED_ATTRIBUTES.contains(&key.as_str()).then(|| group_reference(inner, groups)).flatten();
                grouped.insert(key.clone(), replaced.unwrap_or_else(|| group_in(inner, groups)));
            }
            Value::Object(grouped)
        }
        Value::Array(items) => Value::Array(items.iter().map(|item| group_in(item, groups)).collect()),
        other => other.clone(),
    }
}

/// `{"$in": [list]}` as `{"$inGroup": id}` (and `$nin` as `$notInGroup`), the list kept in
/// `groups` under an id derived from its content, so equal lists share one group.
fn group_reference(condition: &Value, groups: &mut BTreeMap<String, Value>) -> Option<Value> {
    let object = condition.as_object().filter(|object| object.len() == 1)?;
    let (operator, list @ Value::Array(_)) = object.iter().next()? else { return None };
    let reference = match operator.as_str() {
        "$in" => "$inGroup",
        "$nin" => "$notInGroup",
        _ => return None,
    };
    let digest = Sha256::digest(serde_json::to_vec(list).expect("JSON serializes"));
    let id = format!("whitelist-{}", hex::encode(&digest[..8]));
    groups.entry(id.clone()).or_insert_with(|| list.clone());
    Some(Value::Object(Map::from_iter([(reference.to_owned(), Value::String(id))])))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn equal_whitelists_share_one_group_and_other_lists_stay() {
        let features = json!({
            "a": { "rules": [{ "condition": { "userIdSha256": { "$in": ["h1", "h2"] } }, "force": true }] },
            "b": { "rules": [{ "condition": { "$or": [
                { "userIdSha256": { "$nin": ["h1", "h2"] } },
                { "deviceIdSha256": { "$in": ["d1"] } },
                { "platform": { "$in": ["ios"] } }
            ] }, "force": true }] }
        });
        let (grouped, groups) = extract_saved_groups(features.as_object().unwrap());
        assert_eq!(groups.len(), 2, "{groups:?}");
        let id = grouped["a"]["rules"][0]["condition"]["userIdSha256"]["$inGroup"].as_str().unwrap();
        assert_eq!(groups[id], json!(["h1", "h2"]));
        let alternatives = &grouped["b"]["rules"][0]["condition"]["$or"];
        assert_eq!(alternatives[0]["userIdSha256"]["$notInGroup"], json!(id), "the same list, the same group");
        assert!(alternatives[1]["deviceIdSha256"]["$inGroup"].is_string());
        assert_eq!(alternatives[2], json!({ "platform": { "$in": ["ios"] } }), "only whitelists become groups");
    }
}
