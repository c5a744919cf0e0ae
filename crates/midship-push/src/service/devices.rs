//! Devices: channel token reports, user bindings (by the device or the backend), push settings
//! and the arrival, open and dismissal reports.

use midship_core::Principal;
use midship_core::access::Action;
use midship_core::ids::echo;
use midship_storage::{PushDefinitionKind, PushEvent, PushEventKind, PushReport, StorageError};

use super::{
    DeviceBinding, DeviceReport, PushService, PushSettings, SETTINGS_NAME, check_id, check_name, check_platform,
    corrupt, invalid,
};
use crate::PushError;
use crate::channel::OWN_CHANNEL;

impl PushService {
    /// Records a device's platform and channel token (`midship.push.report`).
    pub async fn report(&self, report: DeviceReport) -> Result<(), PushError> {
        check_platform(&report.platform)?;
        let channel = report.channel.clone().unwrap_or_else(|| OWN_CHANNEL.to_owned());
        check_name("channel", &channel)?;
        let token = report.token.filter(|token| !token.is_empty());
        match (&token, channel == OWN_CHANNEL) {
            (Some(_), true) => return Err(invalid("token", "the own channel takes no token")),
            (None, false) => return Err(invalid("token", format!("channel {channel} needs the device's token"))),
            (Some(token), false) if token.len() > 4096 || token.chars().any(char::is_control) => {
                return Err(invalid("token", "must be at most 4096 printable characters"));
            }
            _ => {}
        }
        let record = PushReport {
            workspace_id: report.workspace_id,
            device_id: report.device_id,
            platform: report.platform,
            channel,
            token,
            at: self.now_ms(),
        };
        self.control().storage().report_push_device(&record).await?;
        Ok(())
    }

    /// Binds the device to a user (`midship.push.bind`) or unbinds it (`None`), unless the
    /// workspace takes bindings from its backend only.
    pub async fn bind(
        &self,
        workspace_id: &str,
        device_id: &str,
        platform: &str,
        user_id: Option<&str>,
    ) -> Result<(), PushError> {
        if self.settings_of(workspace_id).await?.device_binding == DeviceBinding::Backend {
            return Err(PushError::Denied(
                "this workspace binds devices to users through its backend only (push settings)".into(),
            ));
        }
        if let Some(user_id) = user_id {
            check_id("user_id", user_id)?;
        }
        let storage = self.control().storage();
        let now = self.now_ms();
        match storage.bind_push_device(workspace_id, device_id, user_id, now).await {
            // A device that never reported a token is reached over the own channel.
            Err(StorageError::NotFound { .. }) => {
                check_platform(platform)?;
                let report = PushReport {
                    workspace_id: workspace_id.to_owned(),
                    device_id: device_id.to_owned(),
                    platform: platform.to_owned(),
                    channel: OWN_CHANNEL.to_owned(),
                    token: None,
                    at: now,
                };
                storage.report_push_device(&report).await?;
                storage.bind_push_device(workspace_id, device_id, user_id, now).await?;
            }
            other => other?,
        }
        Ok(())
    }

    /// A backend binds a device that reported to push to the user who signed in on it, or
    /// unbinds it (`None`). A binding routes the user's pushes to the device, so it needs
    /// `Integrate`: an operator token cannot redirect someone's pushes.
    pub async fn bind_by_backend(
        &self,
        who: &Principal,
        workspace_id: &str,
        device_id: &str,
        user_id: Option<&str>,
    ) -> Result<(), PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Integrate).await?;
        if let Some(user_id) = user_id {
            check_id("user_id", user_id)?;
        }
        match self.control().storage().bind_push_device(workspace_id, device_id, user_id, self.now_ms()).await {
            Err(StorageError::NotFound { .. }) => Err(PushError::UnknownDevice(echo(device_id))),
            other => {
                other?;
                tracing::info!(app_id = %workspace.app_id, workspace_id, device_id, bound = user_id.is_some(), "push binding set by the backend");
                Ok(())
            }
        }
    }

    pub(super) async fn settings_of(&self, workspace_id: &str) -> Result<PushSettings, PushError> {
        match self.definition(workspace_id, PushDefinitionKind::Settings, SETTINGS_NAME).await? {
            Some(record) => serde_json::from_str(&record.definition).map_err(corrupt("push_definitions")),
            None => Ok(PushSettings::default()),
        }
    }

    pub async fn settings(&self, who: &Principal, workspace_id: &str) -> Result<PushSettings, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        self.settings_of(workspace_id).await
    }

    pub async fn put_settings(
        &self,
        who: &Principal,
        workspace_id: &str,
        settings: PushSettings,
    ) -> Result<PushSettings, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        let definition = serde_json::to_value(settings).expect("settings serialize");
        self.put_definition(
            who,
            &workspace,
            PushDefinitionKind::Settings,
            SETTINGS_NAME,
            definition.clone(),
            definition,
        )
        .await?;
        Ok(settings)
    }

    /// A device says it got, opened or dismissed a message (`midship.push.ack`). Unknown tasks
    /// are ignored: a device may report after a task was purged.
    pub async fn record_event(
        &self,
        workspace_id: &str,
        device_id: &str,
        task_id: &str,
        kind: PushEventKind,
    ) -> Result<bool, PushError> {
        check_id("task_id", task_id)?;
        let event = PushEvent {
            workspace_id: workspace_id.to_owned(),
            task_id: task_id.to_owned(),
            device_id: device_id.to_owned(),
            kind,
            at: self.now_ms(),
        };
        Ok(self.inner.events.write(vec![event]).await?.into_iter().next().unwrap_or(false))
    }
}
