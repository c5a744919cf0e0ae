//! The compiled form of a condition and its evaluation. Each node mirrors one function of
//! GrowthBook's `mongrule.ts`, so the evaluation reads like the reference it must agree with.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use regex::Regex;
use serde_json::Value;

use super::version::padded_version;
use crate::js::{self, Primitive};

/// A JavaScript exception in the reference evaluator (for example `Object.entries(null)`). It
/// unwinds the whole condition, which then does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Thrown;

pub(crate) type Outcome = Result<bool, Thrown>;

/// `evalCondition(obj, condition)`: every clause must hold.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Clauses(Vec<Clause>),
    Throws,
}

/// One entry of a condition object.
#[derive(Debug, Clone)]
pub(crate) enum Clause {
    Or(Junction),
    Nor(Junction),
    And(Junction),
    Not(Box<Node>),
    Attribute { path: AttributePath, test: ValueTest },
}

/// The operand of `$or`, `$nor` and `$and`.
#[derive(Debug, Clone)]
pub(crate) enum Junction {
    Conditions(Vec<Node>),
    /// An operand without a length (a number or an object): `$or` and `$and` hold.
    Vacuous,
    Throws,
}

/// `evalConditionValue(condition, value)`.
#[derive(Debug, Clone)]
pub(crate) enum ValueTest {
    /// `String(value) === text`.
    StringEquals(Box<str>),
    /// The case-insensitive form used inside `$alli` (holds the lower-cased text).
    StringEqualsIgnoringCase(Box<str>),
    /// `value * 1 === number`.
    NumberEquals(f64),
    /// `value !== null && !!value === flag`.
    BooleanEquals(bool),
    IsNull,
    /// `JSON.stringify(value) === JSON.stringify(expected)`.
    JsonEquals(Value),
    /// An object whose keys are all operators: every operator must hold.
    Operators(Vec<Operator>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

impl Comparison {
    fn holds(self, ordering: Option<Ordering>) -> bool {
        match self {
            Comparison::Equal => ordering == Some(Ordering::Equal),
            Comparison::NotEqual => ordering != Some(Ordering::Equal),
            Comparison::Less => ordering == Some(Ordering::Less),
            Comparison::LessOrEqual => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
            Comparison::Greater => ordering == Some(Ordering::Greater),
            Comparison::GreaterOrEqual => {
                matches!(ordering, Some(Ordering::Greater | Ordering::Equal))
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Operator {
    /// `$veq` … `$vlte`, against the expected version already padded.
    Version {
        comparison: Comparison,
        expected: Box<str>,
    },
    StrictEquals(Value),
    StrictNotEquals(Value),
    /// `$lt`, `$lte`, `$gt`, `$gte`.
    Relation {
        comparison: Comparison,
        expected: Primitive<'static>,
    },
    Exists(bool),
    /// `$in` and `$ini` with their own list, `$inGroup` with a saved group's (shared).
    In(Arc<MemberSet>),
    NotIn(Arc<MemberSet>),
    Not(Box<ValueTest>),
    Size(Box<ValueTest>),
    ElemMatch(ElemMatch),
    All(Vec<ValueTest>),
    Regex(Regex),
    Type(Box<str>),
    /// Operators GrowthBook answers with a constant: unknown ones, invalid regexes, `$in` with a
    /// non-array operand, `$inGroup` of an unknown group (an empty one).
    Constant(bool),
    /// `$inGroup` (`$notInGroup` when `negated`) of an unknown id that names a property every
    /// JavaScript object inherits (`toString`, `constructor`, …): GrowthBook calls `includes` on
    /// that property and throws, unless the value is an empty array, which it never searches.
    InheritedGroup {
        negated: bool,
    },
    /// Nesting too deep to evaluate.
    Throws,
}

/// The operand of `$elemMatch`: operators apply to each element, anything else is a condition
/// on each element.
#[derive(Debug, Clone)]
pub(crate) enum ElemMatch {
    Value(Box<ValueTest>),
    Condition(Box<Node>),
    /// `null`, on which GrowthBook's `isOperatorObject` throws.
    Throws,
}

impl Node {
    pub(crate) fn evaluate(&self, attributes: &Value) -> Outcome {
        match self {
            Node::Throws => Err(Thrown),
            Node::Clauses(clauses) => {
                for clause in clauses {
                    if !clause.evaluate(attributes)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
        }
    }
}

impl Clause {
    fn evaluate(&self, attributes: &Value) -> Outcome {
        match self {
            Clause::Or(junction) => junction.any(attributes),
            Clause::Nor(junction) => junction.any(attributes).map(|any| !any),
            Clause::And(junction) => junction.all(attributes),
            Clause::Not(node) => node.evaluate(attributes).map(|matched| !matched),
            Clause::Attribute { path, test } => test.evaluate(&path.lookup(attributes)),
        }
    }
}

impl Junction {
    fn any(&self, attributes: &Value) -> Outcome {
        match self {
            Junction::Conditions(nodes) if nodes.is_empty() => Ok(true),
            Junction::Conditions(nodes) => {
                for node in nodes {
                    if node.evaluate(attributes)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Junction::Vacuous => Ok(true),
            Junction::Throws => Err(Thrown),
        }
    }

    fn all(&self, attributes: &Value) -> Outcome {
        match self {
            Junction::Conditions(nodes) => {
                for node in nodes {
                    if !node.evaluate(attributes)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Junction::Vacuous => Ok(true),
            Junction::Throws => Err(Thrown),
        }
    }
}

impl ValueTest {
    pub(crate) fn evaluate(&self, value: &Value) -> Outcome {
        Ok(match self {
            ValueTest::StringEquals(expected) => match value {
                Value::String(text) => text.as_str() == &**expected,
                other => js::to_js_string(other) == **expected,
            },
            ValueTest::StringEqualsIgnoringCase(expected) => js::to_js_string(value).to_lowercase() == **expected,
            ValueTest::NumberEquals(expected) => js::to_js_number(value) == *expected,
            ValueTest::BooleanEquals(expected) => !value.is_null() && js::truthy(value) == *expected,
            ValueTest::IsNull => value.is_null(),
            ValueTest::JsonEquals(expected) => js::json_equals(value, expected),
            ValueTest::Operators(operators) => {
                for operator in operators {
                    if !operator.evaluate(value)? {
                        return Ok(false);
                    }
                }
                true
            }
        })
    }
}

impl Operator {
    fn evaluate(&self, value: &Value) -> Outcome {
        Ok(match self {
            Operator::Version { comparison, expected } => {
                let actual = padded_version(value);
                comparison.holds(Some(js::compare_strings(&actual, expected)))
            }
            Operator::StrictEquals(expected) => js::strict_equals(value, expected),
            Operator::StrictNotEquals(expected) => !js::strict_equals(value, expected),
            Operator::Relation { comparison, expected } => comparison.holds(Primitive::of(value).compare(expected)),
            Operator::Exists(expected) => *expected != value.is_null(),
            Operator::In(members) => members.intersects(value),
            Operator::NotIn(members) => !members.intersects(value),
            Operator::Not(test) => !test.evaluate(value)?,
            Operator::Size(test) => match value {
                Value::Array(items) => test.evaluate(&Value::from(items.len()))?,
                _ => false,
            },
            Operator::ElemMatch(element_test) => match value {
                Value::Array(items) => element_test.any(items)?,
                _ => false,
            },
            Operator::All(tests) => match value {
                Value::Array(items) => {
                    for test in tests {
                        if !any_item(items, |item| test.evaluate(item))? {
                            return Ok(false);
                        }
                    }
                    true
                }
                _ => false,
            },
            Operator::Regex(regex) => regex.is_match(&js::to_js_string(value)),
            Operator::Type(expected) => js::type_name(value) == &**expected,
            Operator::Constant(answer) => *answer,
            Operator::InheritedGroup { negated } => match value {
                Value::Array(items) if items.is_empty() => *negated,
                _ => return Err(Thrown),
            },
            Operator::Throws => return Err(Thrown),
        })
    }
}

impl ElemMatch {
    fn any(&self, items: &[Value]) -> Outcome {
        match self {
            // GrowthBook skips falsy elements (`actual[i] && check(actual[i])`).
            ElemMatch::Value(test) => any_item(items, |item| Ok(js::truthy(item) && test.evaluate(item)?)),
            ElemMatch::Condition(node) => any_item(items, |item| Ok(js::truthy(item) && node.evaluate(item)?)),
            ElemMatch::Throws => Err(Thrown),
        }
    }
}

fn any_item(items: &[Value], mut check: impl FnMut(&Value) -> Outcome) -> Outcome {
    for item in items {
        if check(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// A dotted attribute path (`father.age`), split once at compile time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AttributePath {
    segments: Box<[Segment]>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Segment {
    key: Box<str>,
    /// The key as an array index, when it is a canonical one (`"0"`, `"12"`, not `"01"`).
    index: Option<usize>,
}

impl AttributePath {
    pub(crate) fn parse(path: &str) -> Self {
        let segments = path.split('.').map(|key| Segment { key: key.into(), index: canonical_index(key) }).collect();
        Self { segments }
    }

    /// GrowthBook's `getPath`: `null` as soon as a step is missing. Arrays answer their indices
    /// and `length`, as `key in array` does in JavaScript.
    pub(crate) fn lookup<'a>(&self, root: &'a Value) -> Cow<'a, Value> {
        let mut current = root;
        let last = self.segments.len().saturating_sub(1);
        for (position, segment) in self.segments.iter().enumerate() {
            match current {
                Value::Object(map) => match map.get(&*segment.key) {
                    Some(next) => current = next,
                    None => return Cow::Borrowed(&js::NULL),
                },
                Value::Array(items) => {
                    if let Some(next) = segment.index.and_then(|index| items.get(index)) {
                        current = next;
                    } else if &*segment.key == "length" {
                        let length = Value::from(items.len());
                        return if position == last {
                            Cow::Owned(length)
                        } else {
                            // A number has no properties, so any further step is missing.
                            Cow::Borrowed(&js::NULL)
                        };
                    } else {
                        return Cow::Borrowed(&js::NULL);
                    }
                }
                _ => return Cow::Borrowed(&js::NULL),
            }
        }
        Cow::Borrowed(current)
    }
}

fn canonical_index(key: &str) -> Option<usize> {
    let canonical = key == "0"
        || (key.starts_with(|c: char| c.is_ascii_digit() && c != '0') && key.bytes().all(|b| b.is_ascii_digit()));
    if canonical { key.parse().ok() } else { None }
}

/// The operand of `$in` and `$nin`, or a saved group's list, hashed so that whitelists of
/// hundreds of thousands of ids cost one lookup per attribute value. Holds exactly what
/// JavaScript's `includes` can find: strings, numbers, booleans and `null` (arrays and objects
/// compare by identity, so never).
#[derive(Clone, Default)]
pub(crate) struct MemberSet {
    strings: HashSet<Box<str>>,
    /// `f64` bits, with `-0` folded into `0`.
    numbers: HashSet<u64>,
    has_null: bool,
    has_true: bool,
    has_false: bool,
    /// `$ini`/`$nini`: strings are stored and looked up lower-cased.
    ignore_case: bool,
}

impl MemberSet {
    pub(crate) fn new(items: &[Value], ignore_case: bool) -> Self {
        let mut set = Self { ignore_case, ..Self::default() };
        for item in items {
            match item {
                Value::Null => set.has_null = true,
                Value::Bool(true) => set.has_true = true,
                Value::Bool(false) => set.has_false = true,
                Value::Number(number) => {
                    set.numbers.insert(number_key(js::number_of(number)));
                }
                Value::String(text) if ignore_case => {
                    set.strings.insert(text.to_lowercase().into());
                }
                Value::String(text) => {
                    set.strings.insert(text.as_str().into());
                }
                Value::Array(_) | Value::Object(_) => {}
            }
        }
        set
    }

    fn contains(&self, value: &Value) -> bool {
        match value {
            Value::Null => self.has_null,
            Value::Bool(true) => self.has_true,
            Value::Bool(false) => self.has_false,
            Value::Number(number) => self.numbers.contains(&number_key(js::number_of(number))),
            Value::String(text) if self.ignore_case => self.strings.contains(text.to_lowercase().as_str()),
            Value::String(text) => self.strings.contains(text.as_str()),
            Value::Array(_) | Value::Object(_) => false,
        }
    }

    /// GrowthBook's `isIn`: an array attribute matches when any of its elements is a member.
    pub(crate) fn intersects(&self, value: &Value) -> bool {
        match value {
            Value::Array(items) => items.iter().any(|item| self.contains(item)),
            other => self.contains(other),
        }
    }
}

fn number_key(number: f64) -> u64 {
    if number == 0.0 { 0 } else { number.to_bits() }
}

impl fmt::Debug for MemberSet {
    // Whitelists are long; their size is what a reader of a debug dump needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemberSet")
            .field("strings", &self.strings.len())
            .field("numbers", &self.numbers.len())
            .field("has_null", &self.has_null)
            .field("has_true", &self.has_true)
            .field("has_false", &self.has_false)
            .field("ignore_case", &self.ignore_case)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn paths_walk_objects_and_arrays() {
        let attributes = json!({"a": {"b": [10, {"c": "deep"}]}});
        let lookup = |path: &str| AttributePath::parse(path).lookup(&attributes).into_owned();
        assert_eq!(lookup("a.b.0"), json!(10));
        assert_eq!(lookup("a.b.1.c"), json!("deep"));
        assert_eq!(lookup("a.b.length"), json!(2));
        assert_eq!(lookup("a.b.length.x"), json!(null));
        assert_eq!(lookup("a.b.01"), json!(null));
        assert_eq!(lookup("a.b.5"), json!(null));
        assert_eq!(lookup("a.missing.c"), json!(null));
    }

    #[test]
    fn member_sets_follow_strict_equality() {
        let set = MemberSet::new(&[json!("a"), json!(1), json!(null), json!([1])], false);
        assert!(set.intersects(&json!("a")));
        assert!(set.intersects(&json!(1.0)));
        assert!(set.intersects(&json!(null)));
        assert!(set.intersects(&json!(["x", "a"])));
        assert!(!set.intersects(&json!("1")));
        assert!(set.intersects(&json!([1])));
        assert!(!set.intersects(&json!([[1]])));
        assert!(!set.intersects(&json!(true)));
    }
}
