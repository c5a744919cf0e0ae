//! Reports, read from the in-memory rollups.

use midship_api::{
    EventsReport, FailureGroupDetail, FailuresReport, FunnelReport, OverviewReport, PagesReport, PathsReport,
    PerfReport, RealtimeReport, RetentionReport,
};
use midship_core::Principal;
use midship_core::access::Action;

use super::AnalyticsService;
use crate::report::{self, DayRange, Period, Subject};
use crate::rollup::{DAY_MS, WorkspaceRollup, day_of};
use crate::{AnalyticsError, invalid};

/// Reports span at most this many days.
const MAX_RANGE_DAYS: i32 = 400;

impl AnalyticsService {
    async fn read<T>(
        &self,
        who: &Principal,
        workspace_id: &str,
        report: impl FnOnce(&WorkspaceRollup) -> T,
    ) -> Result<T, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let rollups = self.inner.shared.rollups.read().expect("rollup lock");
        match rollups.workspaces.get(workspace_id) {
            Some(rollup) => Ok(report(rollup)),
            None => Ok(report(&WorkspaceRollup::default())),
        }
    }

    /// The range asked for, or the 30 days up to today.
    pub fn range(&self, from: Option<&str>, to: Option<&str>) -> Result<DayRange, AnalyticsError> {
        let parse = |field: &str, text: &str| {
            crate::rollup::parse_day(text).ok_or_else(|| invalid(field, format!("{text} is not a YYYY-MM-DD date")))
        };
        let today = day_of(self.control().now_ms());
        let to = to.map(|text| parse("to", text)).transpose()?.unwrap_or(today);
        let from = from.map(|text| parse("from", text)).transpose()?.unwrap_or(to - 29);
        if from > to {
            return Err(invalid("from", "must not be after to"));
        }
        if to - from >= MAX_RANGE_DAYS {
            return Err(invalid("to", format!("a report spans at most {MAX_RANGE_DAYS} days")));
        }
        Ok(DayRange { from, to })
    }

    pub async fn overview(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        version: Option<&str>,
    ) -> Result<OverviewReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::overview(rollup, range, version)).await
    }

    pub async fn realtime(&self, who: &Principal, workspace_id: &str) -> Result<RealtimeReport, AnalyticsError> {
        let now = self.control().now_ms();
        self.read(who, workspace_id, |rollup| report::realtime(rollup, now)).await
    }

    pub async fn retention(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        subject: &str,
        period: &str,
        offsets: &[u32],
    ) -> Result<RetentionReport, AnalyticsError> {
        let subject = Subject::parse(subject).ok_or_else(|| invalid("subject", "must be device or user"))?;
        let period = Period::parse(period).ok_or_else(|| invalid("period", "must be day, week or month"))?;
        if offsets.is_empty() || offsets.len() > 60 || offsets.iter().any(|&offset| offset > 400) {
            return Err(invalid("offsets", "give 1 to 60 offsets, each at most 400"));
        }
        let today = day_of(self.control().now_ms());
        self.read(who, workspace_id, |rollup| report::retention(rollup, range, subject, period, offsets, today)).await
    }

    pub async fn funnel(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        steps: &[String],
        window_seconds: u64,
    ) -> Result<FunnelReport, AnalyticsError> {
        if !(2..=10).contains(&steps.len()) || steps.iter().any(String::is_empty) {
            return Err(invalid("steps", "give 2 to 10 event names"));
        }
        if window_seconds == 0 || window_seconds > 90 * 86_400 {
            return Err(invalid("window_seconds", "must be 1 second to 90 days"));
        }
        let window_ms = i64::try_from(window_seconds).unwrap_or(i64::MAX) * 1000;
        debug_assert!(window_ms <= 90 * DAY_MS);
        self.read(who, workspace_id, |rollup| report::funnel(rollup, steps, range, window_ms)).await
    }

    pub async fn events(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        breakdown: Option<(&str, &str)>,
    ) -> Result<EventsReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::events(rollup, range, breakdown)).await
    }

    pub async fn pages(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
    ) -> Result<PagesReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::pages(rollup, range)).await
    }

    pub async fn paths(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
        limit: usize,
    ) -> Result<PathsReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::paths(rollup, range, limit.clamp(1, 500))).await
    }

    pub async fn perf(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
    ) -> Result<PerfReport, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::perf(rollup, range)).await
    }

    pub async fn failures(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: &str,
    ) -> Result<FailuresReport, AnalyticsError> {
        let kind =
            crate::event::FailureKind::parse(kind).ok_or_else(|| invalid("kind", "must be crash, anr or lag"))?;
        self.read(who, workspace_id, |rollup| report::failures(rollup, kind)).await
    }

    pub async fn failure(
        &self,
        who: &Principal,
        workspace_id: &str,
        fingerprint: &str,
    ) -> Result<FailureGroupDetail, AnalyticsError> {
        self.read(who, workspace_id, |rollup| report::failure(rollup, fingerprint))
            .await?
            .ok_or_else(|| AnalyticsError::UnknownGroup(fingerprint.to_owned()))
    }

    /// An experiment's exposed units and metric statistics per variation (`variation_keys`,
    /// control first), summed from this node's rollup.
    pub async fn experiment_summary(
        &self,
        who: &Principal,
        workspace_id: &str,
        experiment: &str,
        unit_kind: midship_experiments::AssignmentUnit,
        variation_keys: &[String],
        plan: &midship_experiments::metric::MetricPlan,
    ) -> Result<crate::experiment_log::ExperimentSummary, AnalyticsError> {
        self.read(who, workspace_id, |rollup| {
            rollup.experiments.summarize(experiment, unit_kind, variation_keys, plan, &rollup.event_names, &rollup.days)
        })
        .await
    }
}
