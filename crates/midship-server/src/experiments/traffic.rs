//! The gateway's seam to experiments: which variation a routed call takes, from the workspace's
//! experiment snapshot, and its exposure recorded in analytics.

use midship_analytics::{AnalyticsService, ServerExposure};
use midship_experiments::ExperimentService;
use midship_gateway::{CallContext, TrafficAssignment, TrafficExperiments};
use midship_targeting::DeviceContext;

#[derive(Debug, Clone)]
pub struct GatewayExperiments {
    pub experiments: ExperimentService,
    pub analytics: AnalyticsService,
}

#[async_trait::async_trait]
impl TrafficExperiments for GatewayExperiments {
    async fn assign(&self, context: &CallContext) -> Option<TrafficAssignment> {
        let snapshot = match self.experiments.snapshot(&context.workspace_id).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                // The call still goes to the API's own backend.
                tracing::warn!(%error, workspace_id = %context.workspace_id, "cannot read the workspace's experiments");
                return None;
            }
        };
        let device = DeviceContext {
            device_id: context.device_id.clone(),
            user_id: context.user_id.clone(),
            platform: context.platform.clone(),
            app_version: context.app_version.clone(),
            ..DeviceContext::default()
        };
        let now = self.experiments.now_ms();
        let (experiment, index) = snapshot.assign_call(&context.operation_type, &device, now)?;
        let variation = &experiment.definition.variations[index];
        if experiment.phase == midship_experiments::Phase::Running
            && let Some(device_id) = &context.device_id
        {
            let exposure = ServerExposure {
                device_id,
                user_id: context.user_id.as_deref(),
                app_version: context.app_version.as_deref(),
                experiment: &experiment.key,
                variation: &variation.key,
                unit_kind: experiment.definition.unit,
            };
            if let Err(error) = self.analytics.record_exposure(&context.workspace_id, exposure).await {
                tracing::warn!(%error, experiment = %experiment.key, "cannot record a gateway exposure");
            }
        }
        Some(TrafficAssignment {
            experiment: experiment.key.clone(),
            variation: variation.key.clone(),
            group: variation.group.clone(),
        })
    }
}
