//! Turns condition JSON into a [`Node`] tree once, so evaluation never re-reads JSON or compiles
//! a regex. Every part GrowthBook would evaluate oddly or not at all (an invalid regex, an unknown
//! operator, an operand of the wrong type) still compiles to what GrowthBook does with it, and is
//! also recorded as a problem: strict compilation refuses the condition on the first one.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::pattern;
use super::tree::{AttributePath, Clause, Comparison, ElemMatch, Junction, MemberSet, Node, Operator, ValueTest};
use super::version::padded_version;
use super::{ConditionError, SavedGroups};
use crate::js::{self, Primitive};

/// Nesting deeper than this is refused (and, leniently, evaluates as not matching): real
/// conditions are a few levels deep, and the bound keeps evaluation's recursion shallow.
pub(crate) const MAX_DEPTH: usize = 64;

const TYPE_NAMES: [&str; 6] = ["string", "number", "boolean", "object", "array", "null"];

/// The properties every JavaScript object inherits from `Object.prototype`: GrowthBook's
/// `savedGroups[id]` finds them when no group has that id.
const INHERITED_PROPERTIES: [&str; 12] = [
    "constructor",
    "__defineGetter__",
    "__defineSetter__",
    "hasOwnProperty",
    "__lookupGetter__",
    "__lookupSetter__",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toString",
    "valueOf",
    "__proto__",
    "toLocaleString",
];

#[derive(Debug)]
pub(crate) struct Compiler<'g> {
    pub(crate) problems: Vec<ConditionError>,
    saved_groups: &'g SavedGroups,
}

impl<'g> Compiler<'g> {
    pub(crate) fn new(saved_groups: &'g SavedGroups) -> Self {
        Self { problems: Vec::new(), saved_groups }
    }

    fn problem(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(ConditionError { path: path.to_owned(), message: message.into() });
    }

    /// `evalCondition(obj, condition)`, whose condition is iterated with `Object.entries`.
    pub(crate) fn condition(&mut self, condition: &Value, path: &str, depth: usize) -> Node {
        if depth > MAX_DEPTH {
            self.problem(path, "condition is nested too deeply");
            return Node::Throws;
        }
        match condition {
            Value::Object(map) => Node::Clauses(
                map.iter().map(|(key, value)| self.clause(key, value, &child(path, key), depth)).collect(),
            ),
            Value::Null => {
                self.problem(path, "condition must be an object");
                Node::Throws
            }
            Value::Array(items) => {
                self.problem(path, "condition must be an object");
                // `Object.entries` of an array: index keys, read as attribute paths.
                Node::Clauses(
                    items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| Clause::Attribute {
                            path: AttributePath::parse(&index.to_string()),
                            test: self.value(item, &indexed(path, index), depth + 1, false),
                        })
                        .collect(),
                )
            }
            Value::String(text) => {
                self.problem(path, "condition must be an object");
                // `Object.entries` of a string: one entry per character.
                Node::Clauses(
                    text.chars()
                        .enumerate()
                        .map(|(index, c)| Clause::Attribute {
                            path: AttributePath::parse(&index.to_string()),
                            test: ValueTest::StringEquals(c.to_string().into()),
                        })
                        .collect(),
                )
            }
            Value::Bool(_) | Value::Number(_) => {
                self.problem(path, "condition must be an object");
                Node::Clauses(Vec::new())
            }
        }
    }

    fn clause(&mut self, key: &str, value: &Value, path: &str, depth: usize) -> Clause {
        match key {
            "$or" => Clause::Or(self.junction(value, path, depth)),
            "$nor" => Clause::Nor(self.junction(value, path, depth)),
            "$and" => Clause::And(self.junction(value, path, depth)),
            "$not" => Clause::Not(Box::new(self.condition(value, path, depth + 1))),
            attribute => Clause::Attribute {
                path: AttributePath::parse(attribute),
                test: self.value(value, path, depth + 1, false),
            },
        }
    }

    /// The operand of `$or`/`$nor`/`$and`, read through `.length` and `[i]` as GrowthBook does.
    fn junction(&mut self, operand: &Value, path: &str, depth: usize) -> Junction {
        match operand {
            Value::Array(items) => Junction::Conditions(
                items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| self.condition(item, &indexed(path, index), depth + 1))
                    .collect(),
            ),
            Value::String(text) => {
                self.problem(path, "expected an array of conditions");
                Junction::Conditions(
                    text.chars()
                        .map(|c| {
                            Node::Clauses(vec![Clause::Attribute {
                                path: AttributePath::parse("0"),
                                test: ValueTest::StringEquals(c.to_string().into()),
                            }])
                        })
                        .collect(),
                )
            }
            Value::Null => {
                self.problem(path, "expected an array of conditions");
                Junction::Throws
            }
            Value::Bool(_) | Value::Number(_) | Value::Object(_) => {
                self.problem(path, "expected an array of conditions");
                Junction::Vacuous
            }
        }
    }

    /// `evalConditionValue(condition, value)`; `ignore_case` is set inside `$alli`.
    fn value(&mut self, condition: &Value, path: &str, depth: usize, ignore_case: bool) -> ValueTest {
        if depth > MAX_DEPTH {
            self.problem(path, "condition is nested too deeply");
            return ValueTest::Operators(vec![Operator::Throws]);
        }
        match condition {
            Value::String(text) if ignore_case => ValueTest::StringEqualsIgnoringCase(text.to_lowercase().into()),
            Value::String(text) => ValueTest::StringEquals(text.as_str().into()),
            Value::Number(number) => ValueTest::NumberEquals(js::number_of(number)),
            Value::Bool(flag) => ValueTest::BooleanEquals(*flag),
            Value::Null => ValueTest::IsNull,
            Value::Array(_) => {
                self.nested_operators(condition, path, 0);
                ValueTest::JsonEquals(condition.clone())
            }
            Value::Object(map) => {
                let operator_count = map.keys().filter(|key| key.starts_with('$')).count();
                if !map.is_empty() && operator_count == map.len() {
                    ValueTest::Operators(
                        map.iter()
                            .map(|(operator, operand)| self.operator(operator, operand, &child(path, operator), depth))
                            .collect(),
                    )
                } else {
                    if operator_count > 0 {
                        self.problem(
                            path,
                            "operators cannot be mixed with plain keys (the object would be \
                             compared for equality)",
                        );
                    } else {
                        self.nested_operators(condition, path, 0);
                    }
                    ValueTest::JsonEquals(condition.clone())
                }
            }
        }
    }

    /// Reports the first operator inside a value compared for equality: GrowthBook compares it
    /// literally, so it is almost certainly a nested path that should have been dotted.
    fn nested_operators(&mut self, value: &Value, path: &str, depth: usize) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        match value {
            Value::Object(map) => map.iter().any(|(key, item)| {
                let item_path = child(path, key);
                if key.starts_with('$') {
                    self.problem(
                        &item_path,
                        "operators inside a plain object are compared literally; use a dotted \
                         attribute path such as `a.b` to reach nested attributes",
                    );
                    true
                } else {
                    self.nested_operators(item, &item_path, depth + 1)
                }
            }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .any(|(index, item)| self.nested_operators(item, &indexed(path, index), depth + 1)),
            _ => false,
        }
    }

    fn operator(&mut self, operator: &str, operand: &Value, path: &str, depth: usize) -> Operator {
        match operator {
            "$veq" => self.version(Comparison::Equal, operand, path),
            "$vne" => self.version(Comparison::NotEqual, operand, path),
            "$vgt" => self.version(Comparison::Greater, operand, path),
            "$vgte" => self.version(Comparison::GreaterOrEqual, operand, path),
            "$vlt" => self.version(Comparison::Less, operand, path),
            "$vlte" => self.version(Comparison::LessOrEqual, operand, path),
            "$eq" | "$ne" => {
                if matches!(operand, Value::Array(_) | Value::Object(_)) {
                    self.problem(path, "expected a string, number, boolean or null");
                }
                if operator == "$eq" {
                    Operator::StrictEquals(operand.clone())
                } else {
                    Operator::StrictNotEquals(operand.clone())
                }
            }
            "$lt" => self.relation(Comparison::Less, operand, path),
            "$lte" => self.relation(Comparison::LessOrEqual, operand, path),
            "$gt" => self.relation(Comparison::Greater, operand, path),
            "$gte" => self.relation(Comparison::GreaterOrEqual, operand, path),
            "$exists" => {
                if !operand.is_boolean() {
                    self.problem(path, "expected a boolean");
                }
                Operator::Exists(js::truthy(operand))
            }
            "$in" => self.members(operand, path, false).map_or(Operator::Constant(false), Operator::In),
            "$ini" => self.members(operand, path, true).map_or(Operator::Constant(false), Operator::In),
            "$nin" => self.members(operand, path, false).map_or(Operator::Constant(false), Operator::NotIn),
            "$nini" => self.members(operand, path, true).map_or(Operator::Constant(false), Operator::NotIn),
            "$inGroup" => self.group(operand, path, false),
            "$notInGroup" => self.group(operand, path, true),
            "$not" => Operator::Not(Box::new(self.value(operand, path, depth + 1, false))),
            "$size" => {
                if !operand.is_number() && !is_operator_object(operand) {
                    self.problem(path, "expected a number or an operator object");
                }
                Operator::Size(Box::new(self.value(operand, path, depth + 1, false)))
            }
            "$elemMatch" => Operator::ElemMatch(self.elem_match(operand, path, depth)),
            "$all" | "$alli" => match operand {
                Value::Array(items) => Operator::All(
                    items
                        .iter()
                        .enumerate()
                        .map(|(index, item)| {
                            let item_path = indexed(path, index);
                            self.value(item, &item_path, depth + 1, operator == "$alli")
                        })
                        .collect(),
                ),
                _ => {
                    self.problem(path, "expected an array");
                    Operator::Constant(false)
                }
            },
            "$regex" | "$regexi" => match operand {
                Value::String(source) => match pattern::compile(source, operator == "$regexi") {
                    Ok(regex) => Operator::Regex(regex),
                    Err(reason) => {
                        self.problem(path, format!("invalid regex: {reason}"));
                        Operator::Constant(false)
                    }
                },
                _ => {
                    self.problem(path, "expected a regex string");
                    Operator::Constant(false)
                }
            },
            "$type" => match operand {
                Value::String(name) => {
                    if !TYPE_NAMES.contains(&name.as_str()) {
                        self.problem(path, "expected one of string, number, boolean, object, array, null");
                    }
                    Operator::Type(name.as_str().into())
                }
                _ => {
                    self.problem(path, "expected one of string, number, boolean, object, array, null");
                    Operator::Constant(false)
                }
            },
            unknown => {
                self.problem(path, format!("unknown operator `{unknown}`"));
                Operator::Constant(false)
            }
        }
    }

    fn version(&mut self, comparison: Comparison, operand: &Value, path: &str) -> Operator {
        if !matches!(operand, Value::String(_) | Value::Number(_)) {
            self.problem(path, "expected a version string");
        }
        Operator::Version { comparison, expected: padded_version(operand).into() }
    }

    fn relation(&mut self, comparison: Comparison, operand: &Value, path: &str) -> Operator {
        if !matches!(operand, Value::String(_) | Value::Number(_)) {
            self.problem(path, "expected a string or a number");
        }
        Operator::Relation { comparison, expected: Primitive::of(operand).into_owned() }
    }

    fn members(&mut self, operand: &Value, path: &str, ignore_case: bool) -> Option<Arc<MemberSet>> {
        let Value::Array(items) = operand else {
            self.problem(path, "expected an array");
            return None;
        };
        if let Some(index) = items.iter().position(|item| matches!(item, Value::Array(_) | Value::Object(_))) {
            self.problem(
                &indexed(path, index),
                "expected a string, number, boolean or null (arrays and objects never match)",
            );
        }
        Some(Arc::new(MemberSet::new(items, ignore_case)))
    }

    /// `isIn(value, savedGroups[id] || [])`, negated for `$notInGroup`. The id is the operand as a
    /// JavaScript property key (its string form).
    fn group(&mut self, operand: &Value, path: &str, negated: bool) -> Operator {
        if !operand.is_string() {
            self.problem(path, "expected a saved group id");
        }
        let id = js::to_js_string(operand);
        if let Some(members) = self.saved_groups.members(&id) {
            let members = Arc::clone(members);
            return if negated { Operator::NotIn(members) } else { Operator::In(members) };
        }
        self.problem(path, format!("unknown saved group `{}`", midship_core::ids::echo(&id)));
        if INHERITED_PROPERTIES.contains(&&*id) {
            Operator::InheritedGroup { negated }
        } else {
            Operator::Constant(negated)
        }
    }

    fn elem_match(&mut self, operand: &Value, path: &str, depth: usize) -> ElemMatch {
        match operand {
            Value::Null => {
                self.problem(path, "expected a condition object");
                ElemMatch::Throws
            }
            _ if is_operator_object(operand) => ElemMatch::Value(Box::new(self.value(operand, path, depth + 1, false))),
            _ => ElemMatch::Condition(Box::new(self.condition(operand, path, depth + 1))),
        }
    }
}

/// GrowthBook's `isOperatorObject`: a non-empty object whose keys all start with `$`.
fn is_operator_object(value: &Value) -> bool {
    value
        .as_object()
        .is_some_and(|map: &Map<String, Value>| !map.is_empty() && map.keys().all(|key| key.starts_with('$')))
}

fn child(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn indexed(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}
