//! Push: sending, tasks, statistics, templates, channels, settings and bindings.

use midship_api::{
    List, PushDeliveryView, PushMessageBody, PushRequest, PushRevokeRequest, PushRevokeView, PushStatsView,
    PushTaskView, PushTemplateBody,
};
use reqwest::Method;

use super::{AdminClient, SdkError};

impl AdminClient {
    /// Sends a push (`kind`: simple, template, multiple or broadcast), now or on its schedule.
    pub async fn push_send(
        &self,
        workspace_id: &str,
        kind: &str,
        request: &PushRequest,
    ) -> Result<PushTaskView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, &format!("push/send/{}", Self::segment(kind))), request).await
    }

    pub async fn push_tasks(&self, workspace_id: &str, limit: u32) -> Result<List<PushTaskView>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/tasks"), &[("limit", limit)]).await
    }

    pub async fn push_task(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, &format!("push/tasks/{}", Self::segment(task_id))), &()).await
    }

    /// A task's deliveries after device `after` (empty for the first page), at most `limit`.
    pub async fn push_deliveries(
        &self,
        workspace_id: &str,
        task_id: &str,
        after: &str,
        limit: u32,
    ) -> Result<List<PushDeliveryView>, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("push/tasks/{}/deliveries", Self::segment(task_id)));
        self.get(&path, &[("after", after.to_owned()), ("limit", limit.to_string())]).await
    }

    pub async fn push_settings(&self, workspace_id: &str) -> Result<serde_json::Value, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/settings"), &()).await
    }

    /// Sets the workspace's push settings, e.g. `{"device_binding": "backend"}`.
    pub async fn put_push_settings(
        &self,
        workspace_id: &str,
        settings: &serde_json::Value,
    ) -> Result<serde_json::Value, SdkError> {
        self.put(&Self::workspace_path(workspace_id, "push/settings"), settings).await
    }

    /// Binds a device to a user (`Some`) or unbinds it (`None`), as the backend.
    pub async fn push_bind(&self, workspace_id: &str, device_id: &str, user_id: Option<&str>) -> Result<(), SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("push/devices/{}/binding", Self::segment(device_id)));
        match user_id {
            Some(user_id) => {
                let body = serde_json::json!({ "user_id": user_id });
                self.no_content(self.request(Method::PUT, &path)?.json(&body)).await
            }
            None => self.delete(&path).await,
        }
    }

    pub async fn push_cancel(&self, workspace_id: &str, task_id: &str) -> Result<PushTaskView, SdkError> {
        let path = Self::workspace_path(workspace_id, &format!("push/tasks/{}/cancel", Self::segment(task_id)));
        self.post(&path, &()).await
    }

    pub async fn push_revoke(
        &self,
        workspace_id: &str,
        request: &PushRevokeRequest,
    ) -> Result<PushRevokeView, SdkError> {
        self.post(&Self::workspace_path(workspace_id, "push/revoke"), request).await
    }

    /// A task's statistics.
    pub async fn push_task_stats(&self, workspace_id: &str, task_id: &str) -> Result<PushStatsView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/stats"), &[("task_id", task_id)]).await
    }

    /// Statistics of the tasks created in `[from, until)` (milliseconds), at most 90 days.
    pub async fn push_range_stats(&self, workspace_id: &str, from: i64, until: i64) -> Result<PushStatsView, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/stats"), &[("from", from), ("until", until)]).await
    }

    pub async fn put_push_template(
        &self,
        workspace_id: &str,
        name: &str,
        message: &PushMessageBody,
    ) -> Result<PushTemplateBody, SdkError> {
        let body = PushTemplateBody { name: name.to_owned(), message: message.clone() };
        self.put(&Self::workspace_path(workspace_id, &format!("push/templates/{}", Self::segment(name))), &body).await
    }

    pub async fn push_templates(&self, workspace_id: &str) -> Result<List<PushTemplateBody>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/templates"), &()).await
    }

    pub async fn delete_push_template(&self, workspace_id: &str, name: &str) -> Result<(), SdkError> {
        self.delete(&Self::workspace_path(workspace_id, &format!("push/templates/{}", Self::segment(name)))).await
    }

    /// Sets a channel's settings and credentials (docs/push.md); answers them redacted.
    pub async fn put_push_channel(
        &self,
        workspace_id: &str,
        name: &str,
        definition: &serde_json::Value,
    ) -> Result<serde_json::Value, SdkError> {
        self.put(&Self::workspace_path(workspace_id, &format!("push/channels/{}", Self::segment(name))), definition)
            .await
    }

    pub async fn push_channels(&self, workspace_id: &str) -> Result<List<serde_json::Value>, SdkError> {
        self.get(&Self::workspace_path(workspace_id, "push/channels"), &()).await
    }

    pub async fn delete_push_channel(&self, workspace_id: &str, name: &str) -> Result<(), SdkError> {
        self.delete(&Self::workspace_path(workspace_id, &format!("push/channels/{}", Self::segment(name)))).await
    }
}
