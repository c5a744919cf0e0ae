//! Time as an injected dependency, so tests move it by hand instead of sleeping.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch; the only time unit stored or compared in Midship.
pub type UnixMillis = i64;

pub trait Clock: Send + Sync + fmt::Debug {
    fn now_ms(&self) -> UnixMillis;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_millis() as i64).unwrap_or(0)
    }
}

/// A clock that stands still until a test advances it.
#[derive(Debug)]
pub struct ManualClock {
    now_ms: AtomicI64,
}

impl ManualClock {
    pub fn new(start_ms: UnixMillis) -> Self {
        Self { now_ms: AtomicI64::new(start_ms) }
    }

    pub fn advance_ms(&self, delta_ms: i64) {
        self.now_ms.fetch_add(delta_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.now_ms.load(Ordering::SeqCst)
    }
}

/// RFC 3339 in UTC with milliseconds (`2026-11-22T02:07:14.123Z`), the form every API shows.
pub fn format_rfc3339(ms: UnixMillis) -> String {
    let days = ms.div_euclid(86_400_000);
    let millis_of_day = ms.rem_euclid(86_400_000);
    let (year, month, day) = civil_from_days(days);
    let seconds_of_day = millis_of_day / 1000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        seconds_of_day / 3600,
        seconds_of_day / 60 % 60,
        seconds_of_day % 60,
        millis_of_day % 1000
    )
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar): year, month (1–12)
/// and day (1–31) of a day counted from 1970-01-01.
pub fn civil_from_days(days_since_epoch: i64) -> (i64, i64, i64) {
    let shifted = days_since_epoch + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
pub fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = year - i64::from(month <= 2);
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let day_of_year = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A UTC time as people type it, and as an HTML `datetime-local` field sends it:
/// `2026-12-04T09:30`, seconds and a trailing `Z` optional. `None` for anything else, or a day
/// the calendar does not have.
pub fn parse_utc_minute(text: &str) -> Option<UnixMillis> {
    let text = text.trim().trim_end_matches('Z');
    let (date, time) = text.split_once('T')?;
    let numbers = |part: &str, separator: char| -> Option<Vec<i64>> {
        part.split(separator).map(|number| number.parse::<i64>().ok().filter(|_| !number.is_empty())).collect()
    };
    let (date, time) = (numbers(date, '-')?, numbers(time, ':')?);
    let [year, month, day] = date.as_slice() else { return None };
    let (hour, minute, second) = match time.as_slice() {
        [hour, minute] => (*hour, *minute, 0),
        [hour, minute, second] => (*hour, *minute, *second),
        _ => return None,
    };
    if !(0..24).contains(&hour) || !(0..60).contains(&minute) || !(0..60).contains(&second) {
        return None;
    }
    let days = days_from_civil(*year, *month, *day);
    if civil_from_days(days) != (*year, *month, *day) {
        return None;
    }
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_typed_utc_minute_reads_back_as_the_api_shows_it() {
        let at = parse_utc_minute("2026-12-04T09:30").unwrap();
        assert_eq!(format_rfc3339(at), "2026-12-04T09:30:00.000Z");
        assert_eq!(
            parse_utc_minute("2026-12-04T09:30:15Z").map(format_rfc3339).as_deref(),
            Some("2026-12-04T09:30:15.000Z")
        );
        for wrong in ["2026-02-30T10:00", "2026-12-04", "2026-12-04T24:00", "2026-12-04T09:60", "soon", "2026-12-04T9"]
        {
            assert_eq!(parse_utc_minute(wrong), None, "{wrong}");
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_rfc3339(1_795_313_234_123), "2026-11-22T02:07:14.123Z");
        assert_eq!(format_rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn civil_days_round_trip() {
        for days in [-800_000, -1, 0, 11_016, 20_000, 2_932_896] {
            let (year, month, day) = civil_from_days(days);
            assert_eq!(days_from_civil(year, month, day), days);
        }
    }

    #[test]
    fn manual_clock_moves_only_when_advanced() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.now_ms(), 1_000);
        clock.advance_ms(250);
        assert_eq!(clock.now_ms(), 1_250);
    }
}
