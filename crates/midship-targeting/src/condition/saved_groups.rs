//! Saved groups (GrowthBook's `savedGroups`): named lists of attribute values that conditions
//! reference with `{"id": {"$inGroup": "beta-testers"}}`. A whitelist of 100,000 ids is sent once
//! as a group instead of inside every condition that uses it, and it is hashed once, here: every
//! condition compiled against these groups shares that set.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::tree::MemberSet;

/// Saved groups by id, each list hashed for membership tests. Cheap to clone (shared by `Arc`).
///
/// A value is a member when it equals an element of the list by JavaScript's strict equality,
/// as GrowthBook's `$inGroup` tests it (the same rule as `$in`): `"2"` is not `2`, `1.0` is `1`,
/// arrays and objects in the list never match, and an array attribute matches when any of its
/// elements is a member. An id with no group is an empty group.
#[derive(Clone, Default)]
pub struct SavedGroups {
    groups: Arc<BTreeMap<String, SavedGroup>>,
}

#[derive(Clone)]
struct SavedGroup {
    /// Kept as given, for the payload sent to devices and for equality.
    values: Vec<Value>,
    members: Arc<MemberSet>,
}

impl SavedGroups {
    /// Hashes every group's list (a later duplicate id replaces an earlier one).
    pub fn new(groups: impl IntoIterator<Item = (String, Vec<Value>)>) -> Self {
        let groups = groups
            .into_iter()
            .map(|(id, values)| {
                let members = Arc::new(MemberSet::new(&values, false));
                (id, SavedGroup { values, members })
            })
            .collect();
        Self { groups: Arc::new(groups) }
    }

    /// The list of group `id`, as given.
    pub fn get(&self, id: &str) -> Option<&[Value]> {
        self.groups.get(id).map(|group| group.values.as_slice())
    }

    /// Whether `value` is a member of group `id` (what `$inGroup` tests).
    pub fn contains(&self, id: &str, value: &Value) -> bool {
        self.groups.get(id).is_some_and(|group| group.members.intersects(value))
    }

    /// The groups by id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[Value])> {
        self.groups.iter().map(|(id, group)| (id.as_str(), group.values.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// The shared set of group `id`, for compiled conditions.
    pub(crate) fn members(&self, id: &str) -> Option<&Arc<MemberSet>> {
        self.groups.get(id).map(|group| &group.members)
    }
}

impl FromIterator<(String, Vec<Value>)> for SavedGroups {
    fn from_iter<I: IntoIterator<Item = (String, Vec<Value>)>>(groups: I) -> Self {
        Self::new(groups)
    }
}

impl PartialEq for SavedGroups {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.groups, &other.groups) || self.iter().eq(other.iter())
    }
}

impl fmt::Debug for SavedGroups {
    // Groups are long; their ids and sizes are what a reader of a debug dump needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.groups.iter().map(|(id, group)| (id, group.values.len()))).finish()
    }
}

/// GrowthBook's wire form: `{"group id": [values]}`, ids in order.
impl Serialize for SavedGroups {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

/// Reads GrowthBook's wire form. `null`, for the whole object or for a group, is read as empty
/// (GrowthBook reads `savedGroups || {}` and `savedGroups[id] || []`).
impl<'de> Deserialize<'de> for SavedGroups {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let groups: Option<BTreeMap<String, Option<Vec<Value>>>> = Option::deserialize(deserializer)?;
        Ok(Self::new(groups.unwrap_or_default().into_iter().map(|(id, values)| (id, values.unwrap_or_default()))))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn groups(json: Value) -> SavedGroups {
        match serde_json::from_value(json) {
            Ok(groups) => groups,
            Err(error) => panic!("{error}"),
        }
    }

    #[test]
    fn membership_is_strict_equality() {
        let saved = groups(json!({"mixed": [1, "2", null, [3]], "empty": null}));
        assert!(saved.contains("mixed", &json!(1)));
        assert!(saved.contains("mixed", &json!(1.0)));
        assert!(saved.contains("mixed", &json!("2")));
        assert!(saved.contains("mixed", &json!(null)));
        assert!(!saved.contains("mixed", &json!("1")));
        assert!(!saved.contains("mixed", &json!(2)));
        assert!(!saved.contains("mixed", &json!([3])), "arrays in a list never match");
        assert!(saved.contains("mixed", &json!(["x", "2"])), "an array matches by any element");
        assert!(!saved.contains("empty", &json!(null)));
        assert!(!saved.contains("unknown", &json!(1)));
    }

    #[test]
    fn the_wire_form_round_trips() {
        let wire = json!({"b": ["u1", 2], "a": []});
        let saved = groups(wire.clone());
        assert_eq!(saved.len(), 2);
        assert_eq!(saved.get("b"), Some(&[json!("u1"), json!(2)][..]));
        assert_eq!(saved.iter().map(|(id, _)| id).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(serde_json::to_value(&saved).ok(), Some(wire));
        assert_eq!(groups(json!(null)), SavedGroups::default());
        assert_eq!(format!("{saved:?}"), r#"{"a": 0, "b": 2}"#);
    }

    #[test]
    fn clones_share_the_hashed_sets() {
        let saved: SavedGroups = [("ids".to_owned(), vec![json!("u1")])].into_iter().collect();
        let copy = saved.clone();
        assert!(Arc::ptr_eq(&saved.groups, &copy.groups));
        assert_eq!(saved, copy);
        assert_ne!(saved, SavedGroups::new([("ids".to_owned(), vec![json!("u2")])]));
    }
}
