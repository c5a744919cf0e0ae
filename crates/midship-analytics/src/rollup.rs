//! One workspace's analytics in memory, updated as batches are accepted: per-day rollups and
//! active-device and active-user sets (roaring bitmaps over interned ids), per-minute counts for the
//! real-time view, the custom-event log funnels scan, and failure groups. Reports read only this.

use std::collections::{BTreeMap, HashMap};

use midship_core::clock::civil_from_days;
use roaring::RoaringBitmap;
use serde_json::Value;

use crate::event::{Event, FailureKind, Payload};
use crate::experiment_log::ExperimentLog;
use crate::fingerprint::{fingerprint, title};
use crate::histogram::Histogram;

pub const DAY_MS: i64 = 86_400_000;
pub const MINUTE_MS: i64 = 60_000;
/// Per-minute counts are kept this long for the real-time view.
const MINUTES_KEPT: i64 = 24 * 60;
/// Distinct values counted per event attribute per day; the rest count as `(other)`.
const VALUES_PER_ATTRIBUTE: usize = 100;
pub const OTHER_VALUE: &str = "(other)";
pub const UNKNOWN_VERSION: &str = "(unknown)";
/// Sample events kept per failure group (the newest).
const SAMPLES_PER_GROUP: usize = 5;

/// Days since the Unix epoch (UTC).
pub type DayNumber = i32;

pub fn day_of(time_ms: i64) -> DayNumber {
    i32::try_from(time_ms.div_euclid(DAY_MS)).unwrap_or(if time_ms < 0 { i32::MIN } else { i32::MAX })
}

pub fn format_day(day: DayNumber) -> String {
    let (year, month, day) = civil_from_days(i64::from(day));
    format!("{year:04}-{month:02}-{day:02}")
}

/// A `YYYY-MM-DD` date.
pub fn parse_day(text: &str) -> Option<DayNumber> {
    let mut parts = text.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = |part: &str, length: usize| part.len() == length && part.bytes().all(|byte| byte.is_ascii_digit());
    if !digits(year, 4) || !digits(month, 2) || !digits(day, 2) {
        return None;
    }
    let (year, month, day): (i64, i64, i64) = (year.parse().ok()?, month.parse().ok()?, day.parse().ok()?);
    let number = midship_core::clock::days_from_civil(year, month, day);
    // Out-of-range months or days normalise to another date; refuse them instead.
    (civil_from_days(number) == (year, month, day)).then(|| DayNumber::try_from(number).ok()).flatten()
}

/// Strings to dense ids, so sets of them are bitmaps.
#[derive(Debug, Default)]
pub struct Interner {
    ids: HashMap<Box<str>, u32, foldhash::fast::RandomState>,
    names: Vec<Box<str>>,
}

impl Interner {
    /// The id, and whether it is new.
    pub fn intern(&mut self, name: &str) -> (u32, bool) {
        if let Some(&id) = self.ids.get(name) {
            return (id, false);
        }
        let id = u32::try_from(self.names.len()).expect("fewer than 2^32 distinct names");
        self.names.push(name.into());
        self.ids.insert(name.into(), id);
        (id, true)
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        &self.names[id as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Ids (devices or users) with the first day each was active, and each day's newcomers.
#[derive(Debug, Default)]
pub struct Population {
    pub ids: Interner,
    first_day: Vec<DayNumber>,
}

impl Population {
    /// Interns `name` seen on `day`; when that is its new first day, returns the day it leaves
    /// (`None` for a newcomer) so the caller moves it between the days' new sets.
    fn observe(&mut self, name: &str, day: DayNumber) -> (u32, Option<Option<DayNumber>>) {
        let (id, new) = self.ids.intern(name);
        if new {
            self.first_day.push(day);
            return (id, Some(None));
        }
        let first = &mut self.first_day[id as usize];
        if day < *first {
            let left = *first;
            *first = day;
            (id, Some(Some(left)))
        } else {
            (id, None)
        }
    }
}

#[derive(Debug, Default)]
pub struct VersionDay {
    pub launches: u64,
    pub active_devices: RoaringBitmap,
    pub active_users: RoaringBitmap,
    pub crashes: u64,
}

#[derive(Debug, Default)]
pub struct EventDay {
    pub count: u64,
    pub devices: RoaringBitmap,
    pub attributes: HashMap<String, HashMap<String, u64>>,
}

#[derive(Debug, Default)]
pub struct PageDay {
    pub views: u64,
    pub visitors: RoaringBitmap,
    pub duration_total_ms: u64,
    pub durations: u64,
}

#[derive(Debug, Default)]
pub struct NetworkDay {
    pub requests: u64,
    /// Status 400 and above, or below 0 (the client's code for a failed connection).
    pub errors: u64,
    pub durations: Histogram,
}

#[derive(Debug, Default)]
pub struct DayRollup {
    pub events: u64,
    pub launches: u64,
    pub active_devices: RoaringBitmap,
    pub active_users: RoaringBitmap,
    pub new_devices: RoaringBitmap,
    pub new_users: RoaringBitmap,
    pub versions: BTreeMap<String, VersionDay>,
    pub custom: HashMap<u32, EventDay>,
    pub pages: HashMap<String, PageDay>,
    /// (from page, to page) → count: consecutive page views of one device.
    pub transitions: HashMap<(String, String), u64>,
    pub failures: [u64; 3],
    pub failure_devices: [RoaringBitmap; 3],
    pub startup: Histogram,
    pub page_load: Histogram,
    pub network: HashMap<String, NetworkDay>,
    pub h5_errors: u64,
    pub session_total_ms: u64,
    pub sessions_ended: u64,
}

#[derive(Debug, Default)]
pub struct MinuteRollup {
    pub events: u64,
    pub launches: u64,
    pub devices: RoaringBitmap,
    /// Crashes and ANRs, for alerts on their rates.
    pub crashes: u64,
    pub anrs: u64,
    pub startup: Histogram,
}

/// A custom event as funnels need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct CustomEvent {
    pub device: u32,
    pub time: i64,
    pub name: u32,
}

#[derive(Debug)]
pub struct FailureGroup {
    pub kind: FailureKind,
    pub fingerprint: String,
    pub title: String,
    pub count: u64,
    pub devices: RoaringBitmap,
    pub users: RoaringBitmap,
    pub first_seen: i64,
    pub last_seen: i64,
    pub versions: BTreeMap<String, u64>,
    /// The newest events, with the device that sent each.
    pub samples: Vec<(String, Event)>,
}

#[derive(Debug, Default)]
pub struct WorkspaceRollup {
    pub devices: Population,
    pub users: Population,
    pub event_names: Interner,
    pub days: BTreeMap<DayNumber, DayRollup>,
    pub minutes: BTreeMap<i64, MinuteRollup>,
    pub custom_events: Vec<CustomEvent>,
    pub failures: HashMap<String, FailureGroup>,
    /// Exposures and the units' actions, for experiment results.
    pub experiments: ExperimentLog,
    /// Each device's last page view (time, page), for transitions.
    last_page: HashMap<u32, (i64, String)>,
}

/// Page views further apart than this are not one path.
const PATH_GAP_MS: i64 = 30 * MINUTE_MS;

impl WorkspaceRollup {
    /// Counts one accepted batch of one device.
    pub fn apply(&mut self, device_id: &str, events: &[Event], received_at: i64) {
        for event in events {
            self.apply_event(device_id, event);
        }
        self.prune_minutes(received_at);
    }

    fn move_newcomer(&mut self, day: DayNumber, id: u32, moved: Option<Option<DayNumber>>, users: bool) {
        let Some(left) = moved else { return };
        fn pick(rollup: &mut DayRollup, users: bool) -> &mut RoaringBitmap {
            if users { &mut rollup.new_users } else { &mut rollup.new_devices }
        }
        if let Some(left) = left
            && let Some(old) = self.days.get_mut(&left)
        {
            pick(old, users).remove(id);
        }
        pick(self.days.entry(day).or_default(), users).insert(id);
    }

    fn apply_event(&mut self, device_id: &str, event: &Event) {
        let day = day_of(event.time);
        let (device, moved) = self.devices.observe(device_id, day);
        self.move_newcomer(day, device, moved, false);
        let user = event.user_id.as_deref().map(|user_id| {
            let (user, moved) = self.users.observe(user_id, day);
            self.move_newcomer(day, user, moved, true);
            user
        });

        self.experiments.observe(device, user, event, &mut self.event_names);

        let minute = event.time.div_euclid(MINUTE_MS);
        let in_realtime = self.minutes.last_key_value().is_none_or(|(&last, _)| minute > last - MINUTES_KEPT);
        if in_realtime {
            let rollup = self.minutes.entry(minute).or_default();
            rollup.events += 1;
            rollup.devices.insert(device);
            match &event.payload {
                Payload::Launch { .. } => rollup.launches += 1,
                Payload::Crash(_) => rollup.crashes += 1,
                Payload::Anr(_) => rollup.anrs += 1,
                Payload::Startup { duration_ms, .. } => rollup.startup.record(*duration_ms),
                _ => {}
            }
        }

        let rollup = self.days.entry(day).or_default();
        rollup.events += 1;
        rollup.active_devices.insert(device);
        let version_name = event.app_version.as_deref().unwrap_or(UNKNOWN_VERSION);
        if !rollup.versions.contains_key(version_name) {
            rollup.versions.insert(version_name.to_owned(), VersionDay::default());
        }
        let version = rollup.versions.get_mut(version_name).expect("inserted above");
        version.active_devices.insert(device);
        if let Some(user) = user {
            rollup.active_users.insert(user);
            version.active_users.insert(user);
        }

        match &event.payload {
            Payload::Launch { .. } => {
                rollup.launches += 1;
                version.launches += 1;
            }
            Payload::SessionEnd { duration_ms, .. } => {
                if let Some(duration) = duration_ms {
                    rollup.session_total_ms += duration;
                    rollup.sessions_ended += 1;
                }
            }
            Payload::Event { name, attributes } => {
                let (name, _) = self.event_names.intern(name);
                let custom = rollup.custom.entry(name).or_default();
                custom.count += 1;
                custom.devices.insert(device);
                for (key, value) in attributes {
                    let value = match value {
                        Value::String(text) => text.clone(),
                        other => other.to_string(),
                    };
                    let values = custom.attributes.entry(key.clone()).or_default();
                    let value = if values.len() >= VALUES_PER_ATTRIBUTE && !values.contains_key(&value) {
                        OTHER_VALUE.to_owned()
                    } else {
                        value
                    };
                    *values.entry(value).or_default() += 1;
                }
                self.custom_events.push(CustomEvent { device, time: event.time, name });
            }
            Payload::Page { page, duration_ms, .. } => {
                let stats = rollup.pages.entry(page.clone()).or_default();
                stats.views += 1;
                stats.visitors.insert(device);
                if let Some(duration) = duration_ms {
                    stats.duration_total_ms += duration;
                    stats.durations += 1;
                }
                let previous = self.last_page.insert(device, (event.time, page.clone()));
                if let Some((time, from)) = previous
                    && event.time >= time
                    && event.time - time <= PATH_GAP_MS
                {
                    *rollup.transitions.entry((from, page.clone())).or_default() += 1;
                }
            }
            Payload::Startup { duration_ms, .. } => rollup.startup.record(*duration_ms),
            Payload::PageLoad { duration_ms, .. } => rollup.page_load.record(*duration_ms),
            Payload::Network { host, status, duration_ms, .. } => {
                let network = rollup.network.entry(host.clone()).or_default();
                network.requests += 1;
                network.errors += u64::from(*status >= 400 || *status < 0);
                network.durations.record(*duration_ms);
            }
            Payload::H5Error { .. } => rollup.h5_errors += 1,
            Payload::Log { .. } | Payload::Experiment { .. } => {}
            Payload::Crash(_) | Payload::Anr(_) | Payload::Lag(_) => {
                let (kind, failure) = event.payload.failure().expect("a failure kind");
                rollup.failures[kind as usize] += 1;
                rollup.failure_devices[kind as usize].insert(device);
                if kind == FailureKind::Crash {
                    version.crashes += 1;
                }
                let print = fingerprint(kind, failure);
                let group = self.failures.entry(print.clone()).or_insert_with(|| FailureGroup {
                    kind,
                    fingerprint: print,
                    title: title(failure),
                    count: 0,
                    devices: RoaringBitmap::new(),
                    users: RoaringBitmap::new(),
                    first_seen: event.time,
                    last_seen: event.time,
                    versions: BTreeMap::new(),
                    samples: Vec::new(),
                });
                group.count += 1;
                group.devices.insert(device);
                if let Some(user) = user {
                    group.users.insert(user);
                }
                group.first_seen = group.first_seen.min(event.time);
                group.last_seen = group.last_seen.max(event.time);
                *group.versions.entry(version_name.to_owned()).or_default() += 1;
                if group.samples.len() == SAMPLES_PER_GROUP {
                    group.samples.remove(0);
                }
                group.samples.push((device_id.to_owned(), event.clone()));
            }
        }
    }

    fn prune_minutes(&mut self, now: i64) {
        let oldest = now.div_euclid(MINUTE_MS) - MINUTES_KEPT;
        while self.minutes.first_key_value().is_some_and(|(&minute, _)| minute < oldest) {
            self.minutes.pop_first();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_and_format() {
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(format_day(parse_day("2026-11-23").unwrap()), "2026-11-23");
        for bad in ["2026-02-30", "2026-13-01", "26-11-23", "2026-1-01", "soon"] {
            assert_eq!(parse_day(bad), None, "{bad}");
        }
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn a_device_seen_earlier_later_moves_its_first_day() {
        let mut rollup = WorkspaceRollup::default();
        let launch = |time: i64| Event {
            time,
            client_time: None,
            user_id: Some("u".into()),
            app_version: None,
            payload: Payload::Launch { session_id: None, cold: None },
        };
        rollup.apply("D1", &[launch(5 * DAY_MS)], 5 * DAY_MS);
        rollup.apply("D1", &[launch(3 * DAY_MS)], 5 * DAY_MS);
        assert!(rollup.days[&5].new_devices.is_empty());
        assert_eq!(rollup.days[&3].new_devices.len(), 1);
        assert_eq!(rollup.days[&3].new_users.len(), 1);
        assert_eq!(rollup.days[&5].active_devices.len(), 1);
        assert_eq!(rollup.days[&5].launches, 1);
    }
}
