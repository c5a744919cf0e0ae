//! When scheduled and repeating pushes run.

use midship_api::PushSchedule;
use midship_core::clock::{civil_from_days, days_from_civil};

use crate::PushError;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    Weekly,
    /// The same day of the month; months without that day use their last day.
    Monthly,
}

impl Repeat {
    pub fn parse(text: &str) -> Result<Self, PushError> {
        match text {
            "daily" => Ok(Repeat::Daily),
            "weekly" => Ok(Repeat::Weekly),
            "monthly" => Ok(Repeat::Monthly),
            _ => {
                Err(PushError::Invalid { field: "schedule.repeat", message: "must be daily, weekly or monthly".into() })
            }
        }
    }
}

/// Checks a schedule against the current time.
pub fn validate(schedule: &PushSchedule, now: i64) -> Result<Option<Repeat>, PushError> {
    let invalid = |field, message: &str| PushError::Invalid { field, message: message.to_owned() };
    if schedule.at <= now {
        return Err(invalid("schedule.at", "must be in the future"));
    }
    if schedule.at > now + 366 * DAY_MS {
        return Err(invalid("schedule.at", "must be within a year"));
    }
    let repeat = schedule.repeat.as_deref().map(Repeat::parse).transpose()?;
    if schedule.until.is_some() && repeat.is_none() {
        return Err(invalid("schedule.until", "applies to repeating pushes only"));
    }
    if schedule.until.is_some_and(|until| until < schedule.at) {
        return Err(invalid("schedule.until", "must not be before schedule.at"));
    }
    Ok(repeat)
}

/// The `run`th occurrence (0 is `first`), in UTC.
pub fn occurrence(first: i64, repeat: Repeat, run: i64) -> i64 {
    match repeat {
        Repeat::Daily => first + run * DAY_MS,
        Repeat::Weekly => first + run * 7 * DAY_MS,
        Repeat::Monthly => {
            let days = first.div_euclid(DAY_MS);
            let time_of_day = first.rem_euclid(DAY_MS);
            let (year, month, day) = civil_from_days(days);
            let months = month - 1 + run;
            let year = year + months.div_euclid(12);
            let month = months.rem_euclid(12) + 1;
            let day = day.min(days_in_month(year, month));
            days_from_civil(year, month, day) * DAY_MS + time_of_day
        }
    }
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-01-31T09:00:00Z
    const JAN_31: i64 = 1_769_850_000_000;

    #[test]
    fn monthly_keeps_the_day_or_takes_the_last_one() {
        assert_eq!(civil_from_days(JAN_31 / DAY_MS), (2026, 1, 31));
        let february = occurrence(JAN_31, Repeat::Monthly, 1);
        assert_eq!(civil_from_days(february / DAY_MS), (2026, 2, 28));
        assert_eq!(february % DAY_MS, JAN_31 % DAY_MS);
        assert_eq!(civil_from_days(occurrence(JAN_31, Repeat::Monthly, 13) / DAY_MS), (2027, 2, 28));
        assert_eq!(civil_from_days(occurrence(JAN_31, Repeat::Monthly, 2) / DAY_MS), (2026, 3, 31));
        assert_eq!(occurrence(JAN_31, Repeat::Weekly, 2), JAN_31 + 14 * DAY_MS);
    }

    #[test]
    fn schedules_in_the_past_or_with_odd_repeats_are_refused() {
        let schedule = |at, repeat: Option<&str>| PushSchedule { at, repeat: repeat.map(Into::into), until: None };
        assert!(validate(&schedule(JAN_31, None), JAN_31).is_err());
        assert!(validate(&schedule(JAN_31 + 1, Some("hourly")), JAN_31).is_err());
        assert_eq!(validate(&schedule(JAN_31 + 1, Some("weekly")), JAN_31).unwrap(), Some(Repeat::Weekly));
    }
}
