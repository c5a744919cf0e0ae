//! Metrics defined on analytics data, and their summary per variation: each exposed unit is
//! counted from its first exposure, its events gathered in the metric's window, and the units'
//! values summed into the statistics `midship-stats` compares (a proportion, a mean with its sum
//! of squares, a ratio with its sum of products, a CUPED-adjusted mean, or a quantile with its
//! bounds).

use midship_stats::Statistic;
use midship_stats::quantile::{QuantileClusters, QuantileSummary};
use midship_stats::statistic::Moments;
use serde::{Deserialize, Serialize};

use crate::definition::DefinitionError;

const HOUR_MS: i64 = 3_600_000;
pub const DAY_MS: i64 = 86_400_000;

/// What is counted per unit: its custom events of a name, the sum of one numeric attribute of
/// them, its page views, launches, crashes, startups or the sum of its startup times (ms).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Measure {
    Events { event: String },
    Attribute { event: String, attribute: String },
    PageViews,
    Launches,
    Crashes,
    Startups,
    StartupMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum MetricKind {
    /// The share of units with at least one `event` within the window.
    Conversion {
        event: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within_hours: Option<u32>,
    },
    /// The mean per unit of `measure` within the window (a count, or a sum such as revenue);
    /// with `cuped_days`, adjusted by the same measure over that many days before exposure.
    Mean {
        measure: Measure,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within_hours: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cuped_days: Option<u32>,
    },
    /// `numerator` over `denominator`, both summed per unit (the delta method).
    Ratio {
        numerator: Measure,
        denominator: Measure,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within_hours: Option<u32>,
    },
    /// The share of units active on day `day` after the day of their exposure.
    Retention { day: u32 },
    /// The `quantile` (0.95 for p95) of `measure`: over every event with a value (each startup's
    /// time, each purchase's amount) when `over` is `events`, else over the units' totals,
    /// units without any counting as zero.
    Quantile {
        measure: Measure,
        quantile: f64,
        #[serde(default)]
        over: QuantileOver,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within_hours: Option<u32>,
    },
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum QuantileOver {
    #[default]
    Events,
    Units,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct MetricDefinition {
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// What is counted, as `{"type": "conversion", "event": "buy"}` and its siblings.
    pub kind: MetricKind,
    /// Lower is better (crash rate, load time).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inverse: bool,
    /// Watched for harm rather than to decide the winner.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub guardrail: bool,
}

impl MetricDefinition {
    pub fn validate(&self, path: &str) -> Result<(), DefinitionError> {
        midship_core::validation::slug("metric key", &self.key)
            .map_err(|error| DefinitionError::new(format!("{path}.key"), error.message))?;
        let event_named = |measure: &Measure| match measure {
            Measure::Events { event } | Measure::Attribute { event, .. } => !event.trim().is_empty(),
            _ => true,
        };
        let valid = match &self.kind {
            MetricKind::Conversion { event, within_hours } => !event.trim().is_empty() && within_hours != &Some(0),
            MetricKind::Mean { measure, within_hours, cuped_days } => {
                event_named(measure) && within_hours != &Some(0) && cuped_days != &Some(0)
            }
            MetricKind::Ratio { numerator, denominator, within_hours } => {
                event_named(numerator) && event_named(denominator) && within_hours != &Some(0)
            }
            MetricKind::Retention { day } => (1..=90).contains(day),
            MetricKind::Quantile { measure, quantile, over, within_hours } => {
                if !(quantile.is_finite() && *quantile > 0.0 && *quantile < 1.0) {
                    return Err(DefinitionError::new(
                        format!("{path}.kind.quantile"),
                        "must be between 0 and 1, as 0.95",
                    ));
                }
                let valued = matches!(measure, Measure::StartupMs | Measure::Attribute { .. });
                if *over == QuantileOver::Events && !valued {
                    return Err(DefinitionError::new(
                        format!("{path}.kind.measure"),
                        "a quantile over events needs events with a value: startup_ms or an attribute",
                    ));
                }
                event_named(measure) && within_hours != &Some(0)
            }
        };
        if valid {
            Ok(())
        } else {
            Err(DefinitionError::new(
                path,
                "names an empty event, a window of 0 hours or 0 days, or a retention day outside 1 to 90",
            ))
        }
    }

    fn quantile_over_events(&self) -> bool {
        matches!(self.kind, MetricKind::Quantile { over: QuantileOver::Events, .. })
    }

    /// The measures the metric reads, with the window in which each counts.
    fn slots(&self) -> Vec<Slot> {
        let window = |hours: &Option<u32>| hours.map(|hours| i64::from(hours) * HOUR_MS);
        match &self.kind {
            MetricKind::Conversion { event, within_hours } => {
                vec![Slot::after(Measure::Events { event: event.clone() }, window(within_hours))]
            }
            MetricKind::Mean { measure, within_hours, cuped_days } => {
                let mut slots = vec![Slot::after(measure.clone(), window(within_hours))];
                if let Some(days) = cuped_days {
                    slots.push(Slot {
                        measure: measure.clone(),
                        before: true,
                        window: Some(i64::from(*days) * DAY_MS),
                    });
                }
                slots
            }
            MetricKind::Ratio { numerator, denominator, within_hours } => vec![
                Slot::after(numerator.clone(), window(within_hours)),
                Slot::after(denominator.clone(), window(within_hours)),
            ],
            MetricKind::Retention { .. } => Vec::new(),
            MetricKind::Quantile { measure, within_hours, .. } => {
                vec![Slot::after(measure.clone(), window(within_hours))]
            }
        }
    }
}

/// The defaults mPaaS shows: page views per unit and 7-day retention (unique visitors are the
/// exposed units themselves, shown with every result), with crashes per launch and the 95th
/// percentile of startup times as guardrails.
pub fn default_metrics() -> Vec<MetricDefinition> {
    vec![
        MetricDefinition {
            key: "page_views".into(),
            name: "Page views per unit".into(),
            kind: MetricKind::Mean { measure: Measure::PageViews, within_hours: None, cuped_days: None },
            inverse: false,
            guardrail: false,
        },
        MetricDefinition {
            key: "retention_7d".into(),
            name: "Day-7 retention".into(),
            kind: MetricKind::Retention { day: 7 },
            inverse: false,
            guardrail: false,
        },
        MetricDefinition {
            key: "crash_rate".into(),
            name: "Crashes per launch".into(),
            kind: MetricKind::Ratio { numerator: Measure::Crashes, denominator: Measure::Launches, within_hours: None },
            inverse: true,
            guardrail: true,
        },
        MetricDefinition {
            key: "startup_p95".into(),
            name: "Startup time p95 (ms)".into(),
            kind: MetricKind::Quantile {
                measure: Measure::StartupMs,
                quantile: 0.95,
                over: QuantileOver::Events,
                within_hours: None,
            },
            inverse: true,
            guardrail: true,
        },
    ]
}

/// A measure counted over a window after exposure (`before`: over the window before it, for
/// CUPED). `window` `None` counts everything after exposure.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Slot {
    measure: Measure,
    before: bool,
    window: Option<i64>,
}

impl Slot {
    fn after(measure: Measure, window: Option<i64>) -> Self {
        Self { measure, before: false, window }
    }

    fn counts(&self, exposed_at: i64, time: i64) -> bool {
        if self.before {
            time < exposed_at && self.window.is_none_or(|window| time >= exposed_at - window)
        } else {
            time >= exposed_at && self.window.is_none_or(|window| time < exposed_at + window)
        }
    }
}

/// A unit's first exposure. Units are small dense numbers the data source gives (analytics'
/// interned device or user ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exposure {
    pub unit: u32,
    pub variation: u16,
    pub time: i64,
}

/// One thing a unit did: `measure` indexes [`MetricPlan::measures`]; `value` is 1 for a count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub unit: u32,
    pub time: i64,
    pub measure: u16,
    pub value: f64,
}

/// Whether a unit was active on a day (days since the Unix epoch), for retention.
pub trait Activity {
    fn active_on(&self, unit: u32, day: i64) -> bool;
}

/// What a data source must gather for a set of metrics.
#[derive(Debug, Clone)]
pub struct MetricPlan {
    metrics: Vec<MetricDefinition>,
    slots: Vec<Slot>,
    /// The distinct measures, which observations name by index.
    pub measures: Vec<Measure>,
}

impl MetricPlan {
    pub fn new(metrics: &[MetricDefinition]) -> Self {
        let mut slots: Vec<Slot> = Vec::new();
        let mut measures: Vec<Measure> = Vec::new();
        for slot in metrics.iter().flat_map(MetricDefinition::slots) {
            if !measures.contains(&slot.measure) {
                measures.push(slot.measure.clone());
            }
            if !slots.contains(&slot) {
                slots.push(slot);
            }
        }
        Self { metrics: metrics.to_vec(), slots, measures }
    }

    pub fn metrics(&self) -> &[MetricDefinition] {
        &self.metrics
    }

    /// Each metric's statistic per variation (`variations` of them), from the units' first
    /// exposures and what they did. Observations of units never exposed are ignored.
    pub fn summarize(
        &self,
        variations: usize,
        exposures: &[Exposure],
        observations: impl IntoIterator<Item = Observation>,
        activity: &dyn Activity,
    ) -> Vec<Vec<Statistic>> {
        let units_span = exposures.iter().map(|exposure| exposure.unit as usize + 1).max().unwrap_or(0);
        let mut exposure_of = vec![u32::MAX; units_span];
        for (index, exposure) in exposures.iter().enumerate() {
            exposure_of[exposure.unit as usize] = index as u32;
        }
        // slot_values[slot][exposure index]: the unit's total of that slot.
        let mut slot_values = vec![vec![0.0_f64; exposures.len()]; self.slots.len()];
        // event_values[slot]: each event's (exposure index, value), for quantiles over events.
        let slot_index = |slot: &Slot| self.slots.iter().position(|candidate| candidate == slot).expect("planned");
        let mut event_values: Vec<Option<Vec<(u32, f64)>>> = vec![None; self.slots.len()];
        for metric in self.metrics.iter().filter(|metric| metric.quantile_over_events()) {
            for slot in metric.slots() {
                event_values[slot_index(&slot)].get_or_insert_with(Vec::new);
            }
        }
        let slots_of_measure: Vec<Vec<usize>> = (0..self.measures.len())
            .map(|measure| {
                (0..self.slots.len()).filter(|slot| self.slots[*slot].measure == self.measures[measure]).collect()
            })
            .collect();
        for observation in observations {
            let Some(&index) = exposure_of.get(observation.unit as usize) else { continue };
            if index == u32::MAX {
                continue;
            }
            let exposed_at = exposures[index as usize].time;
            for &slot in &slots_of_measure[usize::from(observation.measure)] {
                if self.slots[slot].counts(exposed_at, observation.time) {
                    slot_values[slot][index as usize] += observation.value;
                    if let Some(values) = &mut event_values[slot] {
                        values.push((index, observation.value));
                    }
                }
            }
        }
        self.metrics
            .iter()
            .map(|metric| {
                let slots: Vec<usize> = metric.slots().iter().map(slot_index).collect();
                if let MetricKind::Quantile { quantile, over, .. } = metric.kind {
                    return match over {
                        QuantileOver::Events => {
                            let values = event_values[slots[0]].as_deref().unwrap_or_default();
                            event_quantiles(variations, exposures, values, quantile)
                        }
                        QuantileOver::Units => unit_quantiles(variations, exposures, &slot_values[slots[0]], quantile),
                    };
                }
                let mut sums = vec![Sums::default(); variations];
                for (index, exposure) in exposures.iter().enumerate() {
                    let Some(sums) = sums.get_mut(usize::from(exposure.variation)) else { continue };
                    let (first, second) = match &metric.kind {
                        MetricKind::Conversion { .. } => {
                            (if slot_values[slots[0]][index] > 0.0 { 1.0 } else { 0.0 }, 0.0)
                        }
                        MetricKind::Retention { day } => {
                            let active =
                                activity.active_on(exposure.unit, exposure.time.div_euclid(DAY_MS) + i64::from(*day));
                            (if active { 1.0 } else { 0.0 }, 0.0)
                        }
                        MetricKind::Mean { .. } | MetricKind::Ratio { .. } | MetricKind::Quantile { .. } => {
                            (slot_values[slots[0]][index], slots.get(1).map_or(0.0, |slot| slot_values[*slot][index]))
                        }
                    };
                    sums.add(first, second);
                }
                sums.iter().map(|sums| sums.statistic(&metric.kind)).collect()
            })
            .collect()
    }
}

/// Per variation, the quantile of the units' totals (`totals[exposure index]`).
fn unit_quantiles(variations: usize, exposures: &[Exposure], totals: &[f64], nu: f64) -> Vec<Statistic> {
    let mut per_variation = vec![Vec::new(); variations];
    for (exposure, total) in exposures.iter().zip(totals) {
        if let Some(values) = per_variation.get_mut(usize::from(exposure.variation)) {
            values.push(*total);
        }
    }
    per_variation
        .into_iter()
        .map(|mut values| Statistic::Quantile(QuantileSummary::of_values(&mut values, nu, None)))
        .collect()
}

/// Per variation, the quantile of every event's value (`events`: exposure index and value), with
/// each unit's events at or below it for the clustered variance. Every exposed unit is a
/// cluster, those without events too, as gbstats counts them.
fn event_quantiles(variations: usize, exposures: &[Exposure], events: &[(u32, f64)], nu: f64) -> Vec<Statistic> {
    let variation_of = |index: u32| usize::from(exposures[index as usize].variation);
    let mut per_variation = vec![Vec::new(); variations];
    for &(index, value) in events {
        if let Some(values) = per_variation.get_mut(variation_of(index)) {
            values.push(value);
        }
    }
    let quantiles: Vec<QuantileSummary> =
        per_variation.into_iter().map(|mut values| QuantileSummary::of_values(&mut values, nu, None)).collect();
    let mut below = vec![0.0_f64; exposures.len()];
    let mut count = vec![0.0_f64; exposures.len()];
    for &(index, value) in events {
        if let Some(summary) = quantiles.get(variation_of(index)) {
            count[index as usize] += 1.0;
            if value <= summary.quantile {
                below[index as usize] += 1.0;
            }
        }
    }
    let mut sums = vec![Sums::default(); variations];
    for (index, exposure) in exposures.iter().enumerate() {
        if let Some(sums) = sums.get_mut(usize::from(exposure.variation)) {
            sums.add(below[index], count[index]);
        }
    }
    quantiles
        .into_iter()
        .zip(sums)
        .map(|(summary, sums)| {
            let (below, events) = sums.moments();
            let clusters = QuantileClusters { below, events, sum_of_products: sums.products };
            Statistic::Quantile(QuantileSummary { clusters: Some(clusters), ..summary })
        })
        .collect()
}

/// Running sums of a unit value and, for ratios and CUPED, a second one.
#[derive(Debug, Clone, Copy, Default)]
struct Sums {
    n: f64,
    sum: f64,
    sum_squares: f64,
    second_sum: f64,
    second_squares: f64,
    products: f64,
}

impl Sums {
    fn add(&mut self, first: f64, second: f64) {
        self.n += 1.0;
        self.sum += first;
        self.sum_squares += first * first;
        self.second_sum += second;
        self.second_squares += second * second;
        self.products += first * second;
    }

    fn moments(&self) -> (Moments, Moments) {
        (
            Moments::SampleMean { n: self.n, sum: self.sum, sum_squares: self.sum_squares },
            Moments::SampleMean { n: self.n, sum: self.second_sum, sum_squares: self.second_squares },
        )
    }

    fn statistic(&self, kind: &MetricKind) -> Statistic {
        let (first, second) = self.moments();
        match kind {
            MetricKind::Conversion { .. } | MetricKind::Retention { .. } => {
                Statistic::Proportion { n: self.n, sum: self.sum }
            }
            MetricKind::Mean { cuped_days: None, .. } => {
                Statistic::SampleMean { n: self.n, sum: self.sum, sum_squares: self.sum_squares }
            }
            MetricKind::Mean { cuped_days: Some(_), .. } => Statistic::RegressionAdjusted {
                n: self.n,
                post: first,
                pre: second,
                sum_of_products: self.products,
                theta: 0.0,
            },
            MetricKind::Ratio { .. } => {
                Statistic::Ratio { n: self.n, numerator: first, denominator: second, sum_of_products: self.products }
            }
            MetricKind::Quantile { .. } => unreachable!("quantiles are summarised from their values"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Nobody;
    impl Activity for Nobody {
        fn active_on(&self, unit: u32, day: i64) -> bool {
            unit == 0 && day == 7
        }
    }

    fn metric(key: &str, kind: MetricKind) -> MetricDefinition {
        MetricDefinition { key: key.into(), name: String::new(), kind, inverse: false, guardrail: false }
    }

    #[test]
    fn units_count_from_their_first_exposure_within_the_window() {
        let buy = Measure::Events { event: "buy".into() };
        let revenue = Measure::Attribute { event: "buy".into(), attribute: "amount".into() };
        let plan = MetricPlan::new(&[
            metric("bought", MetricKind::Conversion { event: "buy".into(), within_hours: Some(1) }),
            metric("revenue", MetricKind::Mean { measure: revenue.clone(), within_hours: None, cuped_days: None }),
            metric("per_buy", MetricKind::Ratio { numerator: revenue, denominator: buy, within_hours: None }),
            metric("back", MetricKind::Retention { day: 7 }),
        ]);
        assert_eq!(plan.measures.len(), 2, "buy events and buy amounts");
        let exposures = [
            Exposure { unit: 0, variation: 0, time: 0 },
            Exposure { unit: 1, variation: 1, time: 1_000 },
            Exposure { unit: 3, variation: 1, time: 0 },
        ];
        let events = plan.measures.iter().position(|measure| matches!(measure, Measure::Events { .. })).unwrap() as u16;
        let amounts = 1 - events;
        let observations = [
            // Unit 0 buys in the window, then again a day later.
            Observation { unit: 0, time: 10, measure: events, value: 1.0 },
            Observation { unit: 0, time: 10, measure: amounts, value: 5.0 },
            Observation { unit: 0, time: DAY_MS, measure: events, value: 1.0 },
            Observation { unit: 0, time: DAY_MS, measure: amounts, value: 7.0 },
            // Unit 1 bought before its exposure: not counted.
            Observation { unit: 1, time: 500, measure: events, value: 1.0 },
            // Unit 2 was never exposed.
            Observation { unit: 2, time: 500, measure: events, value: 1.0 },
        ];
        let results = plan.summarize(2, &exposures, observations, &Nobody);
        assert_eq!(results[0][0], Statistic::Proportion { n: 1.0, sum: 1.0 });
        assert_eq!(results[0][1], Statistic::Proportion { n: 2.0, sum: 0.0 });
        assert_eq!(results[1][0], Statistic::SampleMean { n: 1.0, sum: 12.0, sum_squares: 144.0 });
        let Statistic::Ratio { numerator, denominator, sum_of_products, .. } = results[2][0] else { panic!() };
        assert_eq!((numerator.sum(), denominator.sum(), sum_of_products), (12.0, 2.0, 24.0));
        assert_eq!(results[3][0], Statistic::Proportion { n: 1.0, sum: 1.0 }, "active on day 7");
    }

    #[test]
    fn quantiles_are_taken_over_events_or_unit_totals_with_each_unit_as_a_cluster() {
        let over = |over| MetricKind::Quantile { measure: Measure::StartupMs, quantile: 0.5, over, within_hours: None };
        let plan = MetricPlan::new(&[
            metric("p50", over(QuantileOver::Events)),
            metric("unit_p50", over(QuantileOver::Units)),
        ]);
        let exposures = [
            Exposure { unit: 0, variation: 0, time: 0 },
            Exposure { unit: 1, variation: 0, time: 0 },
            Exposure { unit: 2, variation: 0, time: 0 },
            Exposure { unit: 3, variation: 1, time: 0 },
        ];
        let startup = |unit, value| Observation { unit, time: 5, measure: 0, value };
        // Unit 2 never started up; unit 3's only startup came before its exposure.
        let observations =
            [startup(0, 100.0), startup(0, 200.0), startup(1, 300.0), Observation { time: -1, ..startup(3, 50.0) }];
        let results = plan.summarize(2, &exposures, observations, &Nobody);
        let Statistic::Quantile(events) = results[0][0] else { panic!("{results:?}") };
        assert_eq!((events.n, events.quantile), (3.0, 200.0));
        let clusters = events.clusters.expect("clustered by unit");
        assert_eq!(clusters.below, Moments::SampleMean { n: 3.0, sum: 2.0, sum_squares: 4.0 }, "unit 0's two startups");
        assert_eq!(clusters.events, Moments::SampleMean { n: 3.0, sum: 3.0, sum_squares: 5.0 });
        assert_eq!(clusters.sum_of_products, 4.0);
        let Statistic::Quantile(nobody) = results[0][1] else { panic!() };
        assert_eq!(nobody.n, 0.0);
        let Statistic::Quantile(units) = results[1][0] else { panic!() };
        assert_eq!((units.n, units.quantile, units.clusters), (3.0, 300.0, None), "totals 300, 300 and 0");
    }

    #[test]
    fn a_quantile_over_events_needs_valued_events() {
        let quantile = |measure, quantile, over| {
            metric("q", MetricKind::Quantile { measure, quantile, over, within_hours: None }).validate("$")
        };
        let counted = quantile(Measure::Launches, 0.95, QuantileOver::Events);
        assert_eq!(counted.unwrap_err().path, "$.kind.measure");
        quantile(Measure::Launches, 0.95, QuantileOver::Units).unwrap();
        assert_eq!(quantile(Measure::StartupMs, 1.0, QuantileOver::Events).unwrap_err().path, "$.kind.quantile");
    }

    #[test]
    fn metric_definitions_read_as_documented() {
        let metric: MetricDefinition = serde_json::from_value(serde_json::json!({
            "key": "revenue",
            "kind": {
                "type": "mean",
                "measure": { "type": "attribute", "event": "buy", "attribute": "amount" },
                "cuped_days": 14
            }
        }))
        .unwrap();
        metric.validate("$").unwrap();
        let zero_day = MetricDefinition { kind: MetricKind::Retention { day: 0 }, ..metric };
        assert!(zero_day.validate("$.metrics[0]").is_err());
    }
}
