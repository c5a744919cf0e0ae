//! A/B experiments: laboratories, experiments, phases, results and promotion.

use midship_api::{
    CreateExperiment, CreateLaboratory, ExperimentResultsView, ExperimentView, LaboratoryView, List, PhaseChange,
    PhaseName, PromoteRequest, PromotionView,
};

use super::{AdminClient, SdkError};

impl AdminClient {
    fn experiment_path(workspace_id: &str, key: &str, rest: &str) -> String {
        Self::workspace_path(workspace_id, &format!("experiments/{}{rest}", Self::segment(key)))
    }

    pub async fn list_laboratories(&self, workspace_id: &str) -> Result<List<LaboratoryView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "laboratories"), &()).await
    }

    pub async fn create_laboratory(
        &self,
        workspace_id: &str,
        request: &CreateLaboratory,
    ) -> Result<LaboratoryView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "laboratories"), request).await
    }

    pub async fn list_experiments(&self, workspace_id: &str) -> Result<List<ExperimentView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "experiments"), &()).await
    }

    /// A new experiment in `draft`; `request.definition` is an experiment definition
    /// (docs/experiments.md).
    pub async fn create_experiment(
        &self,
        workspace_id: &str,
        request: &CreateExperiment,
    ) -> Result<ExperimentView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "experiments"), request).await
    }

    pub async fn get_experiment(&self, workspace_id: &str, key: &str) -> Result<ExperimentView, SdkError> {
        self.get(&Self::experiment_path(workspace_id, key, ""), &()).await
    }

    pub async fn update_experiment(
        &self,
        workspace_id: &str,
        key: &str,
        definition: &serde_json::Value,
    ) -> Result<ExperimentView, SdkError> {
        self.put(&Self::experiment_path(workspace_id, key, ""), definition).await
    }

    pub async fn set_experiment_phase(
        &self,
        workspace_id: &str,
        key: &str,
        phase: PhaseName,
    ) -> Result<ExperimentView, SdkError> {
        self.post(&Self::experiment_path(workspace_id, key, "/phase"), &PhaseChange { phase }).await
    }

    pub async fn experiment_results(&self, workspace_id: &str, key: &str) -> Result<ExperimentResultsView, SdkError> {
        self.get(&Self::experiment_path(workspace_id, key, "/results"), &()).await
    }

    /// Promotes a variation; when the workspace requires approvals the answer carries the request
    /// (`approval`) and nothing is published yet.
    pub async fn promote_variation(
        &self,
        workspace_id: &str,
        key: &str,
        variation: &str,
        note: &str,
    ) -> Result<PromotionView, SdkError> {
        let request = PromoteRequest { variation: variation.to_owned(), note: note.to_owned() };
        self.post(&Self::experiment_path(workspace_id, key, "/promote"), &request).await
    }
}
