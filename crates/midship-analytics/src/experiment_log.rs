//! What experiments read of a workspace's analytics: each experiment's first exposure per unit
//! (device or user) with its variation, and a compact log of what units did — launches, page
//! views, crashes and custom events with their numeric attributes — from which an experiment's
//! metrics are summed per variation (`midship_experiments::metric::MetricPlan`).

use std::collections::{BTreeMap, HashMap};

use midship_experiments::AssignmentUnit;
use midship_experiments::metric::{Activity, Exposure, Measure, MetricPlan, Observation};
use midship_stats::Statistic;
use serde_json::Value;

use crate::event::{Event, Payload};
use crate::rollup::{DayNumber, DayRollup, Interner};

const LAUNCH: u32 = 0;
const PAGE_VIEW: u32 = 1;
const CRASH: u32 = 2;
/// A startup; its duration is the action's value.
const STARTUP: u32 = 3;
/// Custom events are `CUSTOM + the event name's id`.
const CUSTOM: u32 = 4;
const NO_USER: u32 = u32::MAX;
/// The value name a startup's duration is kept under; it is read on startups only, so a custom
/// attribute of the same name changes nothing.
const DURATION: &str = "\u{0}duration_ms";

/// One thing a device did (24 bytes).
#[derive(Debug, Clone, Copy)]
struct Action {
    time: i64,
    device: u32,
    user: u32,
    what: u32,
}

/// A numeric attribute of the custom event at `action` (an index into the log).
#[derive(Debug, Clone, Copy)]
struct ActionValue {
    action: u32,
    attribute: u32,
    value: f64,
}

/// The units of one experiment: the variation (interned) and time of each one's first exposure.
#[derive(Debug, Default)]
struct ExposureSet {
    variations: Interner,
    devices: HashMap<u32, (u32, i64), foldhash::fast::RandomState>,
    users: HashMap<u32, (u32, i64), foldhash::fast::RandomState>,
}

#[derive(Debug, Default)]
pub struct ExperimentLog {
    exposures: HashMap<Box<str>, ExposureSet, foldhash::fast::RandomState>,
    actions: Vec<Action>,
    values: Vec<ActionValue>,
    attributes: Interner,
}

/// What an experiment's results are computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ExperimentSummary {
    /// Exposed units per variation.
    pub units: Vec<u64>,
    /// `statistics[metric][variation]`.
    pub statistics: Vec<Vec<Statistic>>,
}

impl ExperimentLog {
    /// Notes one event of `device` (and `user`, if signed in); `event_names` interns custom
    /// event names as the rollup does.
    pub(crate) fn observe(&mut self, device: u32, user: Option<u32>, event: &Event, event_names: &mut Interner) {
        let user = user.unwrap_or(NO_USER);
        let what = match &event.payload {
            Payload::Launch { .. } => LAUNCH,
            Payload::Page { .. } => PAGE_VIEW,
            Payload::Crash(_) => CRASH,
            Payload::Startup { duration_ms, .. } => {
                let action = u32::try_from(self.actions.len()).expect("fewer than 2^32 actions per workspace");
                let (attribute, _) = self.attributes.intern(DURATION);
                self.values.push(ActionValue { action, attribute, value: *duration_ms as f64 });
                STARTUP
            }
            Payload::Event { name, attributes } => {
                let action = u32::try_from(self.actions.len()).expect("fewer than 2^32 actions per workspace");
                for (key, value) in attributes {
                    let number = match value {
                        Value::Number(number) => number.as_f64(),
                        // The protobuf upload carries attributes as text.
                        Value::String(text) => text.trim().parse::<f64>().ok(),
                        _ => None,
                    };
                    if let Some(value) = number.filter(|value| value.is_finite()) {
                        let (attribute, _) = self.attributes.intern(key);
                        self.values.push(ActionValue { action, attribute, value });
                    }
                }
                CUSTOM + event_names.intern(name).0
            }
            Payload::Experiment { experiment, variation, unit, unit_kind, .. } => {
                // The unit is the sender's own device or signed-in user; the id the event names
                // is kept in the batch, but an exposure cannot be reported for someone else.
                let _ = unit;
                self.expose(experiment, variation, *unit_kind, device, user, event.time);
                return;
            }
            _ => return,
        };
        self.actions.push(Action { time: event.time, device, user, what });
    }

    /// Keeps the unit's earliest exposure (batches may arrive out of order).
    fn expose(
        &mut self,
        experiment: &str,
        variation: &str,
        unit_kind: AssignmentUnit,
        device: u32,
        user: u32,
        time: i64,
    ) {
        let set = match self.exposures.get_mut(experiment) {
            Some(set) => set,
            None => self.exposures.entry(experiment.into()).or_default(),
        };
        let (variation, _) = set.variations.intern(variation);
        let (units, id) = match unit_kind {
            AssignmentUnit::Device => (&mut set.devices, device),
            AssignmentUnit::User if user != NO_USER => (&mut set.users, user),
            AssignmentUnit::User => return,
        };
        units
            .entry(id)
            .and_modify(|first| {
                if time < first.1 {
                    *first = (variation, time);
                }
            })
            .or_insert((variation, time));
    }

    /// Whether the unit (an interned device or user id) has an exposure to `experiment`.
    pub fn is_exposed(&self, experiment: &str, unit_kind: AssignmentUnit, unit: u32) -> bool {
        self.exposures.get(experiment).is_some_and(|set| match unit_kind {
            AssignmentUnit::Device => set.devices.contains_key(&unit),
            AssignmentUnit::User => set.users.contains_key(&unit),
        })
    }

    /// Sums `plan`'s metrics per variation (`variation_keys`, control first) over the units
    /// exposed to `experiment`.
    pub fn summarize(
        &self,
        experiment: &str,
        unit_kind: AssignmentUnit,
        variation_keys: &[String],
        plan: &MetricPlan,
        event_names: &Interner,
        days: &BTreeMap<DayNumber, DayRollup>,
    ) -> ExperimentSummary {
        let mut units = vec![0_u64; variation_keys.len()];
        let mut exposures = Vec::new();
        if let Some(set) = self.exposures.get(experiment) {
            let index_of: Vec<Option<u16>> = (0..set.variations.len())
                .map(|id| {
                    let name = set.variations.name(id as u32);
                    variation_keys.iter().position(|key| key == name).and_then(|index| u16::try_from(index).ok())
                })
                .collect();
            let chosen = match unit_kind {
                AssignmentUnit::Device => &set.devices,
                AssignmentUnit::User => &set.users,
            };
            for (&unit, &(variation, time)) in chosen {
                if let Some(variation) = index_of[variation as usize] {
                    units[usize::from(variation)] += 1;
                    exposures.push(Exposure { unit, variation, time });
                }
            }
        }
        let matchers: Vec<(u32, Option<u32>)> = plan
            .measures
            .iter()
            .map(|measure| match measure {
                Measure::Launches => (LAUNCH, None),
                Measure::PageViews => (PAGE_VIEW, None),
                Measure::Crashes => (CRASH, None),
                Measure::Startups => (STARTUP, None),
                Measure::StartupMs => (STARTUP, Some(self.attributes.get(DURATION).unwrap_or(u32::MAX))),
                // An event never seen matches nothing (`u32::MAX`).
                Measure::Events { event } => (event_names.get(event).map_or(u32::MAX, |id| CUSTOM + id), None),
                Measure::Attribute { event, attribute } => (
                    event_names.get(event).map_or(u32::MAX, |id| CUSTOM + id),
                    Some(self.attributes.get(attribute).unwrap_or(u32::MAX)),
                ),
            })
            .collect();
        let observations = self.observations(unit_kind, &matchers);
        let activity = DaysActive { days, unit_kind };
        let statistics = plan.summarize(variation_keys.len(), &exposures, observations, &activity);
        ExperimentSummary { units, statistics }
    }

    /// One plain pass over the log, summing a field of every action: the floor any computation
    /// over it costs, the baseline of the results benchmark.
    pub fn scan_baseline(&self) -> i64 {
        self.actions.iter().fold(0_i64, |sum, action| sum.wrapping_add(action.time) ^ i64::from(action.what))
    }

    /// Every action matching a measure, as an observation of its unit.
    fn observations<'a>(
        &'a self,
        unit_kind: AssignmentUnit,
        matchers: &'a [(u32, Option<u32>)],
    ) -> impl Iterator<Item = Observation> + 'a {
        let mut next_value = 0_usize;
        self.actions.iter().enumerate().flat_map(move |(index, action)| {
            let unit = match unit_kind {
                AssignmentUnit::Device => action.device,
                AssignmentUnit::User => action.user,
            };
            // The numeric attributes of this action (the list is in action order).
            let index = index as u32;
            while self.values.get(next_value).is_some_and(|value| value.action < index) {
                next_value += 1;
            }
            let mut end = next_value;
            while self.values.get(end).is_some_and(|value| value.action == index) {
                end += 1;
            }
            let values = &self.values[next_value..end];
            matchers.iter().enumerate().filter(move |_| unit != NO_USER).filter_map(
                move |(measure, (what, attribute))| {
                    if action.what != *what {
                        return None;
                    }
                    let value = match attribute {
                        None => 1.0,
                        Some(attribute) => values.iter().find(|value| value.attribute == *attribute)?.value,
                    };
                    Some(Observation { unit, time: action.time, measure: measure as u16, value })
                },
            )
        })
    }
}

/// Retention reads the days' active sets.
struct DaysActive<'a> {
    days: &'a BTreeMap<DayNumber, DayRollup>,
    unit_kind: AssignmentUnit,
}

impl Activity for DaysActive<'_> {
    fn active_on(&self, unit: u32, day: i64) -> bool {
        let Ok(day) = DayNumber::try_from(day) else { return false };
        self.days.get(&day).is_some_and(|rollup| match self.unit_kind {
            AssignmentUnit::Device => rollup.active_devices.contains(unit),
            AssignmentUnit::User => rollup.active_users.contains(unit),
        })
    }
}

#[cfg(test)]
mod tests {
    use midship_experiments::metric::{MetricDefinition, MetricKind};
    use serde_json::json;

    use super::*;
    use crate::rollup::WorkspaceRollup;

    fn event(time: i64, user: &str, payload: Payload) -> Event {
        Event { time, client_time: None, user_id: Some(user.into()), app_version: None, payload }
    }

    fn exposure(variation: &str, unit: &str) -> Payload {
        Payload::Experiment {
            experiment: "checkout".into(),
            variation: variation.into(),
            unit: unit.into(),
            unit_kind: AssignmentUnit::User,
            proof: String::new(),
        }
    }

    #[test]
    fn user_units_gather_their_devices_and_startups_count_their_durations() {
        let mut rollup = WorkspaceRollup::default();
        let buy = |amount: f64| Payload::Event {
            name: "buy".into(),
            attributes: std::collections::BTreeMap::from([("amount".to_owned(), json!(amount))]),
        };
        let startup = |duration_ms: u64| Payload::Startup { duration_ms, cold: Some(true) };
        // Alice is exposed on her phone and buys on her tablet; the tablet's later exposure
        // does not move her first one; Bob is in the other variation; a device without a user
        // is not a unit.
        rollup.apply(
            "PHONE",
            &[event(100, "alice", exposure("control", "alice")), event(150, "alice", startup(800))],
            1_000,
        );
        rollup.apply(
            "TABLET",
            &[event(200, "alice", exposure("blue", "alice")), event(300, "alice", buy(12.5))],
            1_000,
        );
        rollup.apply("BOBS", &[event(100, "bob", exposure("blue", "bob")), event(400, "bob", buy(7.0))], 1_000);
        let anonymous = Event { user_id: None, ..event(100, "-", exposure("blue", "nobody")) };
        rollup.apply("ANON", &[anonymous], 1_000);
        let metric = |key: &str, kind| MetricDefinition {
            key: key.into(),
            name: String::new(),
            kind,
            inverse: false,
            guardrail: false,
        };
        let plan = MetricPlan::new(&[
            metric("bought", MetricKind::Conversion { event: "buy".into(), within_hours: None }),
            metric("startup", MetricKind::Mean { measure: Measure::StartupMs, within_hours: None, cuped_days: None }),
        ]);
        let variations = vec!["control".to_owned(), "blue".to_owned()];
        let summary = rollup.experiments.summarize(
            "checkout",
            AssignmentUnit::User,
            &variations,
            &plan,
            &rollup.event_names,
            &rollup.days,
        );
        assert_eq!(summary.units, [1, 1], "alice in control (her first exposure), bob in blue");
        assert_eq!(summary.statistics[0][0], Statistic::Proportion { n: 1.0, sum: 1.0 }, "alice bought on her tablet");
        assert_eq!(summary.statistics[1][0], Statistic::SampleMean { n: 1.0, sum: 800.0, sum_squares: 640_000.0 });
        let devices = rollup.experiments.summarize(
            "checkout",
            AssignmentUnit::Device,
            &variations,
            &plan,
            &rollup.event_names,
            &rollup.days,
        );
        assert_eq!(devices.units, [0, 0], "a user experiment has no device units");
    }
}
