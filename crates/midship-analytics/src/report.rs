//! Reports, computed from a workspace's rollups (never from raw events, except the custom-event log
//! funnels scan).

use std::collections::{BTreeMap, HashMap};

use midship_api::{
    AttributeValueCount, Cohort, EventFigures, EventsReport, FailureGroupDetail, FailureGroupSummary, FailuresReport,
    FunnelReport, FunnelStep, NetworkFigures, OverviewDay, OverviewReport, PageFigures, PagesReport, PathFigures,
    PathsReport, Percentiles, PerfReport, RealtimeMinute, RealtimeReport, Retained, RetentionReport,
    VersionFailureRate, VersionFigures,
};
use midship_core::clock::{civil_from_days, days_from_civil};
use roaring::RoaringBitmap;

use crate::event::FailureKind;
use crate::histogram::Histogram;
use crate::rollup::{CustomEvent, DAY_MS, DayNumber, DayRollup, FailureGroup, MINUTE_MS, WorkspaceRollup, format_day};

/// An inclusive range of days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    pub from: DayNumber,
    pub to: DayNumber,
}

impl DayRange {
    fn days<'rollup>(&self, rollup: &'rollup WorkspaceRollup) -> impl Iterator<Item = (DayNumber, &'rollup DayRollup)> {
        rollup.days.range(self.from..=self.to).map(|(&day, figures)| (day, figures))
    }

    /// The range as `[start, end)` Unix milliseconds.
    pub fn millis(&self) -> (i64, i64) {
        (i64::from(self.from) * DAY_MS, (i64::from(self.to) + 1) * DAY_MS)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    Device,
    User,
}

impl Subject {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "device" => Some(Self::Device),
            "user" => Some(Self::User),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Device => "device",
            Self::User => "user",
        }
    }
}

/// Cohort periods; weeks start on Monday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "day" => Some(Self::Day),
            "week" => Some(Self::Week),
            "month" => Some(Self::Month),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// The period a day falls in, numbered so that the next period is one more.
    fn of(self, day: DayNumber) -> i64 {
        let day = i64::from(day);
        match self {
            Self::Day => day,
            // 1970-01-01 was a Thursday: shifting by 3 makes weeks start on Monday.
            Self::Week => (day + 3).div_euclid(7),
            Self::Month => {
                let (year, month, _) = civil_from_days(day);
                year * 12 + month - 1
            }
        }
    }

    fn first_day(self, period: i64) -> DayNumber {
        let day = match self {
            Self::Day => period,
            Self::Week => period * 7 - 3,
            Self::Month => days_from_civil(period.div_euclid(12), period.rem_euclid(12) + 1, 1),
        };
        DayNumber::try_from(day).unwrap_or(DayNumber::MAX)
    }
}

pub fn overview(rollup: &WorkspaceRollup, range: DayRange, version: Option<&str>) -> OverviewReport {
    let mut cumulative: u64 = rollup.days.range(..range.from).map(|(_, day)| new_devices(day, version)).sum();
    let mut days = Vec::new();
    let mut versions: BTreeMap<&str, VersionFigures> = BTreeMap::new();
    let mut version_devices: BTreeMap<&str, RoaringBitmap> = BTreeMap::new();
    for day in range.from..=range.to {
        let Some(figures) = rollup.days.get(&day) else {
            days.push(OverviewDay {
                day: format_day(day),
                launches: 0,
                active_devices: 0,
                active_users: 0,
                new_devices: 0,
                cumulative_devices: cumulative,
            });
            continue;
        };
        for (name, figures) in &figures.versions {
            let entry = versions.entry(name).or_insert_with(|| VersionFigures {
                version: name.clone(),
                launches: 0,
                active_devices: 0,
                crashes: 0,
            });
            entry.launches += figures.launches;
            entry.crashes += figures.crashes;
            *version_devices.entry(name).or_default() |= &figures.active_devices;
        }
        let new = new_devices(figures, version);
        cumulative += new;
        let (launches, active_devices, active_users) = match version {
            None => (figures.launches, figures.active_devices.len(), figures.active_users.len()),
            Some(version) => figures.versions.get(version).map_or((0, 0, 0), |figures| {
                (figures.launches, figures.active_devices.len(), figures.active_users.len())
            }),
        };
        days.push(OverviewDay {
            day: format_day(day),
            launches,
            active_devices,
            active_users,
            new_devices: new,
            cumulative_devices: cumulative,
        });
    }
    let versions = versions
        .into_values()
        .map(|mut figures| {
            figures.active_devices = version_devices.get(figures.version.as_str()).map_or(0, RoaringBitmap::len);
            figures
        })
        .collect();
    OverviewReport { version: version.map(str::to_owned), days, versions }
}

/// A day's new devices, or those of them active on `version` that day.
fn new_devices(day: &DayRollup, version: Option<&str>) -> u64 {
    match version {
        None => day.new_devices.len(),
        Some(version) => {
            day.versions.get(version).map_or(0, |figures| day.new_devices.intersection_len(&figures.active_devices))
        }
    }
}

/// Per-minute figures of the hour before `now`.
pub fn realtime(rollup: &WorkspaceRollup, now: i64) -> RealtimeReport {
    let last = now.div_euclid(MINUTE_MS);
    let mut devices = RoaringBitmap::new();
    let minutes = (last - 59..=last)
        .map(|minute| match rollup.minutes.get(&minute) {
            Some(figures) => {
                devices |= &figures.devices;
                RealtimeMinute {
                    minute: minute * MINUTE_MS,
                    events: figures.events,
                    launches: figures.launches,
                    active_devices: figures.devices.len(),
                }
            }
            None => RealtimeMinute { minute: minute * MINUTE_MS, events: 0, launches: 0, active_devices: 0 },
        })
        .collect();
    RealtimeReport { minutes, active_devices: devices.len() }
}

/// Each cohort's retention at each offset. A period that has not begun by `today` has no figure
/// (`None`, not 0), so a chart shows no false 0 %; the current period counts as far as it has gone.
pub fn retention(
    rollup: &WorkspaceRollup,
    range: DayRange,
    subject: Subject,
    period: Period,
    offsets: &[u32],
    today: DayNumber,
) -> RetentionReport {
    let first = period.of(range.from);
    let last = period.of(range.to);
    let current = period.of(today);
    let furthest = last + i64::from(offsets.iter().copied().max().unwrap_or(0));
    let mut newcomers: HashMap<i64, RoaringBitmap> = HashMap::new();
    let mut active: HashMap<i64, RoaringBitmap> = HashMap::new();
    for (&day, figures) in rollup.days.range(period.first_day(first)..) {
        let index = period.of(day);
        if index > furthest {
            break;
        }
        let (new, seen) = match subject {
            Subject::Device => (&figures.new_devices, &figures.active_devices),
            Subject::User => (&figures.new_users, &figures.active_users),
        };
        if index <= last {
            *newcomers.entry(index).or_default() |= new;
        }
        *active.entry(index).or_default() |= seen;
    }
    let empty = RoaringBitmap::new();
    let cohorts = (first..=last)
        .map(|index| {
            let cohort = newcomers.get(&index).unwrap_or(&empty);
            Cohort {
                start: format_day(period.first_day(index)),
                size: cohort.len(),
                retained: offsets
                    .iter()
                    .map(|&offset| {
                        let later = index + i64::from(offset);
                        let count = (later <= current)
                            .then(|| active.get(&later).map_or(0, |seen| cohort.intersection_len(seen)));
                        Retained { offset, count }
                    })
                    .collect(),
            }
        })
        .collect();
    RetentionReport { subject: subject.as_str().into(), period: period.as_str().into(), cohorts }
}

/// Devices reaching each step: events named by the steps at strictly increasing times, all within
/// the range, the last no more than `window_ms` after the first.
pub fn funnel(rollup: &WorkspaceRollup, steps: &[String], range: DayRange, window_ms: i64) -> FunnelReport {
    let names: Vec<Option<u32>> = steps.iter().map(|step| rollup.event_names.get(step)).collect();
    let (start, end) = range.millis();
    let mut events: Vec<CustomEvent> = rollup
        .custom_events
        .iter()
        .filter(|event| event.time >= start && event.time < end && names.contains(&Some(event.name)))
        .copied()
        .collect();
    events.sort_unstable();
    let mut reached = vec![0u64; steps.len()];
    for device_events in events.chunk_by(|left, right| left.device == right.device) {
        for count in &mut reached[..deepest_step(device_events, &names, window_ms)] {
            *count += 1;
        }
    }
    FunnelReport {
        window_seconds: u64::try_from(window_ms / 1000).unwrap_or(0),
        steps: steps.iter().zip(reached).map(|(name, devices)| FunnelStep { name: name.clone(), devices }).collect(),
    }
}

/// How far one device's time-ordered events get: from each start, the earliest next step is the
/// best choice, so trying every start finds the deepest.
fn deepest_step(events: &[CustomEvent], steps: &[Option<u32>], window_ms: i64) -> usize {
    let mut deepest = 0;
    for (index, first) in events.iter().enumerate() {
        if Some(first.name) != steps[0] {
            continue;
        }
        let (mut reached, mut last_time) = (1, first.time);
        for next in &events[index + 1..] {
            if reached == steps.len() || next.time - first.time > window_ms {
                break;
            }
            if next.time > last_time && Some(next.name) == steps[reached] {
                reached += 1;
                last_time = next.time;
            }
        }
        deepest = deepest.max(reached);
        if deepest == steps.len() {
            break;
        }
    }
    deepest
}

pub fn events(rollup: &WorkspaceRollup, range: DayRange, breakdown: Option<(&str, &str)>) -> EventsReport {
    let mut totals: HashMap<u32, (u64, RoaringBitmap)> = HashMap::new();
    let mut values: HashMap<&str, u64> = HashMap::new();
    let breakdown = breakdown.and_then(|(name, attribute)| Some((rollup.event_names.get(name)?, attribute)));
    for (_, day) in range.days(rollup) {
        for (&name, figures) in &day.custom {
            let total = totals.entry(name).or_default();
            total.0 += figures.count;
            total.1 |= &figures.devices;
            if let Some((wanted, attribute)) = breakdown
                && wanted == name
                && let Some(counts) = figures.attributes.get(attribute)
            {
                for (value, count) in counts {
                    *values.entry(value).or_default() += count;
                }
            }
        }
    }
    let mut events: Vec<EventFigures> = totals
        .into_iter()
        .map(|(name, (count, devices))| EventFigures {
            name: rollup.event_names.name(name).to_owned(),
            count,
            devices: devices.len(),
        })
        .collect();
    events.sort_by(|left, right| right.count.cmp(&left.count).then_with(|| left.name.cmp(&right.name)));
    let mut breakdown: Vec<AttributeValueCount> =
        values.into_iter().map(|(value, count)| AttributeValueCount { value: value.to_owned(), count }).collect();
    breakdown.sort_by(|left, right| right.count.cmp(&left.count).then_with(|| left.value.cmp(&right.value)));
    EventsReport { events, breakdown }
}

pub fn pages(rollup: &WorkspaceRollup, range: DayRange) -> PagesReport {
    let mut totals: HashMap<&str, (u64, RoaringBitmap, u64, u64)> = HashMap::new();
    for (_, day) in range.days(rollup) {
        for (page, figures) in &day.pages {
            let total = totals.entry(page).or_default();
            total.0 += figures.views;
            total.1 |= &figures.visitors;
            total.2 += figures.duration_total_ms;
            total.3 += figures.durations;
        }
    }
    let mut pages: Vec<PageFigures> = totals
        .into_iter()
        .map(|(page, (views, visitors, duration_total, durations))| PageFigures {
            page: page.to_owned(),
            views,
            visitors: visitors.len(),
            average_duration_ms: duration_total.checked_div(durations),
        })
        .collect();
    pages.sort_by(|left, right| right.views.cmp(&left.views).then_with(|| left.page.cmp(&right.page)));
    PagesReport { pages }
}

/// The most frequent page-to-page steps.
pub fn paths(rollup: &WorkspaceRollup, range: DayRange, limit: usize) -> PathsReport {
    let mut totals: HashMap<(&str, &str), u64> = HashMap::new();
    for (_, day) in range.days(rollup) {
        for ((from, to), count) in &day.transitions {
            *totals.entry((from, to)).or_default() += count;
        }
    }
    let mut paths: Vec<PathFigures> = totals
        .into_iter()
        .map(|((from, to), count)| PathFigures { from: from.to_owned(), to: to.to_owned(), count })
        .collect();
    paths.sort_by(|left, right| {
        right.count.cmp(&left.count).then_with(|| (&left.from, &left.to).cmp(&(&right.from, &right.to)))
    });
    paths.truncate(limit);
    PathsReport { paths }
}

fn percentiles(histogram: &Histogram) -> Percentiles {
    Percentiles {
        count: histogram.count(),
        p50: histogram.percentile(0.50),
        p90: histogram.percentile(0.90),
        p95: histogram.percentile(0.95),
        p99: histogram.percentile(0.99),
    }
}

pub fn perf(rollup: &WorkspaceRollup, range: DayRange) -> PerfReport {
    let (mut startup, mut page_load) = (Histogram::default(), Histogram::default());
    let mut network: BTreeMap<&str, (u64, u64, Histogram)> = BTreeMap::new();
    for (_, day) in range.days(rollup) {
        startup.merge(&day.startup);
        page_load.merge(&day.page_load);
        for (host, figures) in &day.network {
            let total = network.entry(host).or_default();
            total.0 += figures.requests;
            total.1 += figures.errors;
            total.2.merge(&figures.durations);
        }
    }
    PerfReport {
        startup_ms: percentiles(&startup),
        page_load_ms: percentiles(&page_load),
        network: network
            .into_iter()
            .map(|(host, (requests, errors, durations))| NetworkFigures {
                host: host.to_owned(),
                requests,
                errors,
                duration_ms: percentiles(&durations),
            })
            .collect(),
    }
}

fn summary(group: &FailureGroup) -> FailureGroupSummary {
    FailureGroupSummary {
        fingerprint: group.fingerprint.clone(),
        kind: group.kind.as_str().into(),
        title: group.title.clone(),
        count: group.count,
        devices: group.devices.len(),
        users: group.users.len(),
        first_seen: group.first_seen,
        last_seen: group.last_seen,
    }
}

/// Failure groups of a kind, the most frequent first.
pub fn failures(rollup: &WorkspaceRollup, kind: FailureKind) -> FailuresReport {
    let mut groups: Vec<FailureGroupSummary> =
        rollup.failures.values().filter(|group| group.kind == kind).map(summary).collect();
    groups.sort_by(|left, right| right.count.cmp(&left.count).then_with(|| left.fingerprint.cmp(&right.fingerprint)));
    FailuresReport { groups }
}

pub fn failure(rollup: &WorkspaceRollup, fingerprint: &str) -> Option<FailureGroupDetail> {
    let group = rollup.failures.get(fingerprint)?;
    let mut launches: HashMap<&str, u64> = HashMap::new();
    for day in rollup.days.values() {
        for (version, figures) in &day.versions {
            *launches.entry(version).or_default() += figures.launches;
        }
    }
    let versions = group
        .versions
        .iter()
        .map(|(version, &count)| {
            let launches = launches.get(version.as_str()).copied().unwrap_or(0);
            VersionFailureRate {
                version: version.clone(),
                count,
                launches,
                rate: (launches > 0).then(|| count as f64 / launches as f64),
            }
        })
        .collect();
    let samples = group
        .samples
        .iter()
        .rev()
        .map(|(device_id, event)| {
            let mut sample = serde_json::to_value(event).expect("events serialize");
            sample["device_id"] = device_id.as_str().into();
            sample
        })
        .collect();
    Some(FailureGroupDetail { summary: summary(group), versions, samples })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(device: u32, time: i64, name: u32) -> CustomEvent {
        CustomEvent { device, time, name }
    }

    #[test]
    fn the_deepest_step_tries_every_start_within_the_window() {
        let steps = [Some(0), Some(1), Some(2)];
        // A first start too early for step 3 in the window; a later start completes.
        let events = [custom(1, 0, 0), custom(1, 5, 1), custom(1, 20, 0), custom(1, 21, 1), custom(1, 25, 2)];
        assert_eq!(deepest_step(&events, &steps, 10), 3);
        // Out of order: step 2 before step 1 does not count.
        assert_eq!(deepest_step(&[custom(1, 0, 1), custom(1, 1, 0)], &steps, 10), 1);
        // The same millisecond is not "after".
        assert_eq!(deepest_step(&[custom(1, 0, 0), custom(1, 0, 1)], &steps, 10), 1);
        assert_eq!(deepest_step(&[custom(1, 0, 1)], &steps, 10), 0);
        // Past the window.
        assert_eq!(deepest_step(&[custom(1, 0, 0), custom(1, 5, 1), custom(1, 11, 2)], &steps, 10), 2);
    }

    #[test]
    fn retention_of_a_period_not_begun_is_absent_not_zero() {
        use crate::event::{Event, Payload};
        use crate::rollup::parse_day;

        let monday = parse_day("2026-11-23").unwrap();
        let launch = |day: DayNumber| Event {
            time: i64::from(day) * DAY_MS + 3_600_000,
            client_time: None,
            user_id: None,
            app_version: None,
            payload: Payload::Launch { session_id: None, cold: None },
        };
        let mut rollup = WorkspaceRollup::default();
        let received_at = i64::from(monday + 2) * DAY_MS;
        rollup.apply("D1", &[launch(monday), launch(monday + 1)], received_at);
        rollup.apply("D2", &[launch(monday + 1)], received_at);
        let range = DayRange { from: monday, to: monday + 1 };
        // Today is Tuesday: Monday's day-1 period (today) has begun, Tuesday's has not.
        let report = retention(&rollup, range, Subject::Device, Period::Day, &[1, 7], monday + 1);
        let figures: Vec<(u64, Vec<Option<u64>>)> = report
            .cohorts
            .iter()
            .map(|cohort| (cohort.size, cohort.retained.iter().map(|retained| retained.count).collect()))
            .collect();
        assert_eq!(figures, [(1, vec![Some(1), None]), (1, vec![None, None])]);
        // A day later, Tuesday's day-1 period has come and gone without D2: a real 0.
        let report = retention(&rollup, range, Subject::Device, Period::Day, &[1], monday + 2);
        assert_eq!(report.cohorts[1].retained[0].count, Some(0));
        let json =
            serde_json::to_value(retention(&rollup, range, Subject::Device, Period::Week, &[1], monday + 6)).unwrap();
        assert_eq!(json["cohorts"][0]["retained"][0], serde_json::json!({ "offset": 1, "count": null }));
    }

    #[test]
    fn periods_number_consecutively_and_start_on_their_first_day() {
        let monday = crate::rollup::parse_day("2026-11-23").unwrap();
        assert_eq!(Period::Week.first_day(Period::Week.of(monday + 6)), monday);
        assert_eq!(Period::Week.of(monday + 7), Period::Week.of(monday) + 1);
        let december = crate::rollup::parse_day("2026-12-31").unwrap();
        assert_eq!(format_day(Period::Month.first_day(Period::Month.of(december))), "2026-12-01");
        assert_eq!(format_day(Period::Month.first_day(Period::Month.of(december) + 1)), "2027-01-01");
    }
}
