//! One node: the services, every background job, the HTTP server, and the order they stop in.
//! `midship serve` and the tests start the same `Node`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use midship_control::jobs::{BackgroundJob, JobError, Placement};
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;

use crate::{AppState, router, run};

/// How often each background job runs.
#[derive(Debug, Clone)]
pub struct NodeSettings {
    /// How soon, at the latest, a node serves what another node changed (the bus announces
    /// changes at once; this is the safety net).
    pub refresh_interval: Duration,
    /// How often the push dispatcher looks for due schedules and interrupted tasks (a new push
    /// wakes it at once).
    pub push_dispatch_interval: Duration,
    pub sync_maintenance_interval: Duration,
    pub alert_interval: Duration,
    /// `None`: no periodic Parquet export.
    pub export_interval: Option<Duration>,
}

impl Default for NodeSettings {
    fn default() -> Self {
        Self {
            refresh_interval: Duration::from_secs(2),
            push_dispatch_interval: Duration::from_secs(1),
            sync_maintenance_interval: Duration::from_secs(60),
            alert_interval: Duration::from_secs(60),
            export_interval: None,
        }
    }
}

/// How long a job that runs on one node keeps its lease beyond its interval: a node that dies
/// hands the job over within this.
const JOB_LEASE_SLACK_MS: i64 = 10_000;
/// How long stopping waits for a job's current run before abandoning it.
const JOB_STOP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct Node {
    state: AppState,
    stop: watch::Sender<bool>,
    jobs: Vec<(&'static str, JoinHandle<()>)>,
}

impl Node {
    /// Loads what the node answers from memory (the analytics counts), then starts every job.
    pub async fn start(state: AppState, settings: &NodeSettings) -> Result<Self, midship_analytics::AnalyticsError> {
        let started = std::time::Instant::now();
        let batches = state.analytics.start().await?;
        tracing::info!(batches, elapsed_ms = started.elapsed().as_millis() as u64, "analytics loaded");
        let (stop, stopped) = watch::channel(false);
        let jobs = background_jobs(&state, settings)
            .into_iter()
            .map(|job| (job.name(), tokio::spawn(run_job(job, state.control.clone(), stopped.clone()))))
            .collect();
        Ok(Self { state, stop, jobs })
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves HTTP on `listener` until `shutdown` completes, then stops the node in order: stop
    /// accepting, close the long connections (1001, so devices reconnect to another node), stop
    /// the jobs, write what the writers hold, close storage.
    pub async fn serve<L>(self, listener: L, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()>
    where
        L: Listener<Addr = std::net::SocketAddr>,
    {
        let sync = self.state.sync.clone();
        let shutdown = async move {
            shutdown.await;
            sync.shut_down().await;
        };
        let served = run(listener, router(self.state.clone()), self.state.settings.connections.clone(), shutdown).await;
        self.stop().await;
        served
    }

    /// Stops the jobs, drains the writers and closes storage.
    pub async fn stop(self) {
        self.stop.send_replace(true);
        for (name, mut job) in self.jobs {
            if tokio::time::timeout(JOB_STOP_TIMEOUT, &mut job).await.is_err() {
                tracing::warn!(job = name, "a background job did not stop in time; abandoned");
                job.abort();
            }
        }
        self.state.sync.flush_acks().await;
        if let Err(error) = self.state.delivery.flush_progress().await {
            tracing::warn!(%error, "cannot write the last delivery progress reports");
        }
        if let Some(cluster) = &self.state.cluster {
            cluster.close().await;
        }
        self.state.control.storage().close().await;
        tracing::info!("node stopped");
    }
}

fn background_jobs(state: &AppState, settings: &NodeSettings) -> Vec<Arc<dyn BackgroundJob>> {
    let mut jobs: Vec<Arc<dyn BackgroundJob>> = vec![
        Arc::new(RefreshJob { state: state.clone(), interval: settings.refresh_interval }),
        state.push.dispatcher_job(settings.push_dispatch_interval),
        state.sync.maintenance_job(settings.sync_maintenance_interval),
        state.analytics.alerts_job(settings.alert_interval, state.gateway.clone()),
    ];
    if let Some(interval) = settings.export_interval {
        jobs.push(state.analytics.export_job(interval));
    }
    jobs
}

/// Runs `job` at its interval (or when woken) until the node stops; a one-node job only while
/// this node holds its lease.
async fn run_job(job: Arc<dyn BackgroundJob>, control: midship_control::ControlPlane, mut stop: watch::Receiver<bool>) {
    let lease = format!("job:{}", job.name());
    let lease_ms = (job.interval().as_millis() as i64).saturating_add(JOB_LEASE_SLACK_MS);
    let wake = job.wake().unwrap_or_else(|| Arc::new(Notify::new()));
    let mut first = true;
    loop {
        if !first {
            tokio::select! {
                _ = stop.changed() => break,
                () = tokio::time::sleep(job.interval()) => {}
                () = wake.notified() => {}
            }
        }
        first = false;
        if *stop.borrow() {
            break;
        }
        if job.placement() == Placement::OneNode {
            match control.hold_lease(&lease, lease_ms).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(error) => {
                    tracing::warn!(%error, job = job.name(), "cannot take the job's lease");
                    continue;
                }
            }
        }
        let run = job.run_once();
        tokio::select! {
            // A run the node is stopping in is cut short; jobs record their steps, so the next
            // holder resumes it.
            _ = stop.changed() => break,
            result = run => if let Err(error) = result {
                tracing::warn!(%error, job = job.name(), "background job failed; it runs again at its next turn");
            },
        }
    }
    if job.placement() == Placement::OneNode {
        control.release_lease(&lease).await;
    }
}

/// Keeps this node's in-memory snapshots in step with what other nodes of a cluster changed:
/// switches, delivery releases, gateway routes and keys, and the analytics counts.
struct RefreshJob {
    state: AppState,
    interval: Duration,
}

#[async_trait::async_trait]
impl BackgroundJob for RefreshJob {
    fn name(&self) -> &'static str {
        "snapshot-refresh"
    }

    fn placement(&self) -> Placement {
        Placement::EveryNode
    }

    fn interval(&self) -> Duration {
        self.interval
    }

    fn wake(&self) -> Option<Arc<Notify>> {
        Some(self.state.changes.clone())
    }

    async fn run_once(&self) -> Result<(), JobError> {
        let state = &self.state;
        let switches = state.switches.refresh_changed().await?;
        if switches > 0 {
            tracing::info!(refreshed = switches, "reloaded configuration published by another node");
        }
        let experiments = state.experiments.refresh_changed().await?;
        if experiments > 0 {
            tracing::info!(refreshed = experiments, "reloading experiments changed by another node");
        }
        if state.gateway.refresh_changed().await? {
            tracing::info!("reloading gateway routes changed by another node");
        }
        let releases = state.delivery.refresh_changed().await?;
        if releases > 0 {
            tracing::info!(refreshed = releases, "reloading releases changed by another node");
        }
        state.analytics.catch_up().await?;
        if state.symbols_may_have_changed.swap(false, std::sync::atomic::Ordering::AcqRel)
            && state.analytics.reload_symbol_files().await?
        {
            tracing::info!("reloaded symbol files uploaded on another node");
        }
        Ok(())
    }
}
