//! Properties over arbitrary input: conditions never panic, strict and lenient compilation agree
//! (with and without saved groups), and whitelists stay exact at 200,000 entries, as `$in` lists
//! and as saved groups.

use std::sync::OnceLock;

use midship_targeting::condition::{Condition, SavedGroups, eval_condition_with};
use midship_targeting::hash::{get_bucket_ranges, hash};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use serde_json::{Map, Number, Value, json};

const OPERATORS: [&str; 31] = [
    "$eq",
    "$ne",
    "$lt",
    "$lte",
    "$gt",
    "$gte",
    "$in",
    "$nin",
    "$ini",
    "$nini",
    "$regex",
    "$regexi",
    "$exists",
    "$type",
    "$elemMatch",
    "$size",
    "$all",
    "$alli",
    "$not",
    "$and",
    "$or",
    "$nor",
    "$veq",
    "$vne",
    "$vgt",
    "$vgte",
    "$vlt",
    "$vlte",
    "$inGroup",
    "$notInGroup",
    "$bogus",
];

/// Keys that hit operators, attribute paths (dotted, indices, `length`) and junk.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(&OPERATORS[..]).prop_map(str::to_owned),
        2 => prop::sample::select(&["a", "b", "a.b", "a.0", "tags", "tags.length", "", "."][..])
            .prop_map(str::to_owned),
        1 => "[a-c0-9.$]{0,4}",
    ]
}

/// Strings that look like regexes, versions, type names and numbers.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-c0-9.^$()*+?|\\[\\]{}\\\\-]{0,8}",
        "v?[0-9]{1,2}(\\.[0-9]{1,2}){0,3}(-[a-z0-9.]{1,4})?(\\+[a-z]{1,3})?",
        prop::sample::select(
            &["string", "number", "object", "array", "null", "0x1f", " 8 ", "toString", "valueOf"][..]
        )
        .prop_map(str::to_owned),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-5_i64..5).prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e22_f64..1e22).prop_filter_map("finite", Number::from_f64).prop_map(Value::Number),
        text().prop_map(Value::String),
    ]
}

/// Groups under ids that [`text`] and [`leaf`] produce, plus one named like an inherited
/// JavaScript property.
fn saved_groups() -> &'static [SavedGroups; 2] {
    static GROUPS: OnceLock<[SavedGroups; 2]> = OnceLock::new();
    GROUPS.get_or_init(|| {
        let groups = SavedGroups::new([
            ("string".to_owned(), vec![json!("a"), json!(1), json!(null), json!(true), json!([1])]),
            ("0x1f".to_owned(), vec![json!("0x1f"), json!(31), json!(-0.0)]),
            ("1".to_owned(), vec![json!("1"), json!(false)]),
            ("valueOf".to_owned(), vec![json!("v")]),
        ]);
        [SavedGroups::default(), groups]
    })
}

fn json_value(depth: u32) -> impl Strategy<Value = Value> {
    leaf().prop_recursive(depth, 48, 5, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Value::Array),
            btree_map(key(), inner, 0..5).prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn conditions_never_panic_and_compilations_agree(
        condition in json_value(6),
        attributes in json_value(4),
    ) {
        for groups in saved_groups() {
            let evaluated = eval_condition_with(&attributes, &condition, groups);
            let (lenient, problems) = Condition::compile_lenient_with(&condition, groups);
            prop_assert_eq!(lenient.matches(&attributes), evaluated);
            match Condition::compile_with(&condition, groups) {
                Ok(strict) => {
                    prop_assert!(problems.is_empty());
                    prop_assert_eq!(strict.matches(&attributes), evaluated);
                }
                Err(error) => {
                    prop_assert_eq!(Some(&error), problems.first());
                    prop_assert!(error.path.starts_with('$'), "{}", error);
                    prop_assert!(!error.message.ends_with('.'), "{}", error);
                    prop_assert!(
                        !error.message.starts_with(|c: char| c.is_uppercase()),
                        "{}",
                        error
                    );
                }
            }
        }
        let (plain, _) = Condition::compile_lenient(&condition);
        prop_assert_eq!(plain.matches(&attributes), eval_condition_with(&attributes, &condition, &saved_groups()[0]));
    }

    #[test]
    fn attribute_conditions_never_panic(
        attribute in key(),
        operator in prop::sample::select(&OPERATORS[..]),
        operand in json_value(3),
        attributes in btree_map(key(), json_value(3), 0..4),
    ) {
        let condition = json!({ attribute: { operator: operand } });
        let attributes = Value::Object(attributes.into_iter().collect());
        for groups in saved_groups() {
            let evaluated = eval_condition_with(&attributes, &condition, groups);
            if let Ok(strict) = Condition::compile_with(&condition, groups) {
                prop_assert_eq!(strict.matches(&attributes), evaluated);
            }
        }
    }

    #[test]
    fn hashes_fall_in_the_unit_interval(seed in ".{0,12}", value in ".{0,12}") {
        for version in [1, 2] {
            let n = hash(&seed, &value, version);
            prop_assert!(n.is_some_and(|n| (0.0..1.0).contains(&n)), "{:?}", n);
        }
    }

    #[test]
    fn bucket_ranges_stay_in_the_unit_interval(
        variations in 0_usize..8,
        coverage in -1.0_f64..2.0,
        weights in prop::option::of(vec(0.0_f64..1.0, 0..8)),
    ) {
        let ranges = get_bucket_ranges(variations, coverage, weights.as_deref());
        prop_assert_eq!(ranges.len(), variations);
        for (start, end) in ranges {
            prop_assert!((0.0..=1.0 + 1e-9).contains(&start) && start <= end && end <= 1.0 + 0.011);
        }
    }
}

const WHITELIST_SIZE: usize = 200_000;

/// A whitelist of 200,000 ids and its complement: `id $in [...]` and `id $nin [...]`, then
/// `id $inGroup "whitelist"` and `id $notInGroup "whitelist"`, compiled once for all cases.
fn whitelists() -> &'static [(Condition, Condition); 2] {
    static WHITELISTS: OnceLock<[(Condition, Condition); 2]> = OnceLock::new();
    WHITELISTS.get_or_init(|| {
        let ids: Vec<Value> = (0..WHITELIST_SIZE).map(|index| Value::String(format!("user-{index}"))).collect();
        let compile = |condition: Value, groups: &SavedGroups| match Condition::compile_with(&condition, groups) {
            Ok(condition) => condition,
            Err(error) => panic!("whitelist does not compile: {error}"),
        };
        let no_groups = SavedGroups::default();
        let lists =
            (compile(json!({"id": {"$in": ids}}), &no_groups), compile(json!({"id": {"$nin": ids}}), &no_groups));
        let groups = SavedGroups::new([("whitelist".to_owned(), ids)]);
        let saved = (
            compile(json!({"id": {"$inGroup": "whitelist"}}), &groups),
            compile(json!({"id": {"$notInGroup": "whitelist"}}), &groups),
        );
        [lists, saved]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1_000))]

    #[test]
    fn large_whitelists_match_exactly(index in 0_usize..2 * WHITELIST_SIZE) {
        for (included, excluded) in whitelists() {
            let member = index < WHITELIST_SIZE;
            let id = format!("user-{index}");
            prop_assert_eq!(included.matches(&json!({"id": id})), member);
            prop_assert_eq!(excluded.matches(&json!({"id": id})), !member);
            // Array attributes match when any element is listed.
            prop_assert_eq!(included.matches(&json!({"id": ["someone-else", id]})), member);
            // Strict equality: the number is not the string.
            let numeric_id = json!({"id": index});
            prop_assert!(!included.matches(&numeric_id), "numeric id {}", index);
            let no_id = json!({});
            prop_assert!(!included.matches(&no_id), "missing id");
        }
    }
}

#[test]
fn large_whitelists_are_fast_to_match() {
    let started = std::time::Instant::now();
    for (included, _) in whitelists() {
        let matched =
            (0..100_000).filter(|index| included.matches(&json!({"id": format!("user-{}", index * 3)}))).count();
        assert_eq!(matched, WHITELIST_SIZE.div_ceil(3));
    }
    // A linear scan would take minutes here; a hash lookup takes milliseconds even unoptimized.
    assert!(started.elapsed().as_secs() < 10, "{:?}", started.elapsed());
}
