//! Sending: a push's checks, its targets resolved to devices and channels, and the stored task.

use std::collections::HashSet;

use midship_api::{PushMessageBody, PushRequest};
use midship_core::access::Action;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::{
    BroadcastAudience, PushDefinitionKind, PushDeliveryRecord, PushDeviceRecord, PushStatsRow, PushTaskRecord,
    PushTaskStatus,
};

use super::{
    DAY_MS, MAX_MULTIPLE_TARGETS, MAX_SIMPLE_TARGETS, PushKind, PushService, TaskDefinition, TaskSummary, check_id,
    check_platform, invalid, render_for_target,
};
use crate::PushError;
use crate::channel::OWN_CHANNEL;
use crate::message::{self, DEFAULT_EXPIRY_SECONDS};
use crate::schedule;

impl PushService {
    /// Checks a push, stores it with one delivery per device (or, when scheduled, for its first
    /// run) and wakes the dispatcher. Nothing is stored when any part is wrong.
    pub async fn send(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushKind,
        request: PushRequest,
    ) -> Result<TaskSummary, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let now = self.now_ms();
        let template_message = self.check_request(workspace_id, kind, &request, now).await?;
        let task_id = self.control().new_id();
        let schedule = request.schedule.clone();
        let definition = TaskDefinition { request, template_message };
        let mut task = PushTaskRecord {
            task_id: task_id.clone(),
            workspace_id: workspace_id.to_owned(),
            parent_task_id: None,
            kind: kind.as_str().to_owned(),
            definition: serde_json::to_string(&definition).expect("task definitions serialize"),
            status: PushTaskStatus::Sending,
            created_at: now,
            next_run_at: None,
            runs: 1,
        };
        let audit = NewAuditEntry::by(who, now, &format!("push.{}", kind.as_str()), "push_task", &task_id)
            .in_app(&workspace.app_id)
            .after(serde_json::to_value(&definition.request).expect("requests serialize"));
        let deliveries = if let Some(schedule) = schedule {
            task.status = PushTaskStatus::Scheduled;
            task.next_run_at = Some(schedule.at);
            task.runs = 0;
            Vec::new()
        } else {
            self.resolve(&task, kind, &definition, now).await?
        };
        let targets = i64::try_from(deliveries.len()).unwrap_or(i64::MAX);
        self.control().storage().create_push_task(&task, &deliveries, None, Some(&audit)).await?;
        tracing::info!(app_id = %workspace.app_id, workspace_id, task_id, kind = kind.as_str(), targets, status = task.status.as_str(), "push task created");
        self.inner.wake.notify_one();
        let totals = PushStatsRow { targets, ..PushStatsRow::total(&[]) };
        Ok(TaskSummary { task, totals })
    }

    /// Checks a push as [`Self::send`] would, without storing or sending anything.
    pub async fn check_send(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushKind,
        request: &PushRequest,
    ) -> Result<(), PushError> {
        self.workspace(who, workspace_id, Action::Operate).await?;
        self.check_request(workspace_id, kind, request, self.now_ms()).await?;
        Ok(())
    }

    /// Checks everything that can be checked before a push is stored; answers the template's
    /// message for template kinds.
    async fn check_request(
        &self,
        workspace_id: &str,
        kind: PushKind,
        request: &PushRequest,
        now: i64,
    ) -> Result<Option<PushMessageBody>, PushError> {
        let (max_targets, needs_message, needs_template) = match kind {
            PushKind::Simple => (MAX_SIMPLE_TARGETS, true, false),
            PushKind::Template => (MAX_SIMPLE_TARGETS, false, true),
            PushKind::Multiple => (MAX_MULTIPLE_TARGETS, false, true),
            PushKind::Broadcast => (0, true, false),
        };
        if kind == PushKind::Broadcast {
            if !request.targets.is_empty() {
                return Err(invalid("targets", "a broadcast names an audience, not targets"));
            }
            check_id("msg_id", request.msg_id.as_deref().unwrap_or_default())?;
            self.audience(workspace_id, request, now)?;
        } else {
            if request.targets.is_empty() || request.targets.len() > max_targets {
                return Err(invalid("targets", format!("a {} push takes 1 to {max_targets} targets", kind.as_str())));
            }
            if request.audience.is_some() || request.msg_id.is_some() {
                return Err(invalid("audience", "only broadcasts take an audience and a msg_id"));
            }
            let mut seen = HashSet::new();
            for target in &request.targets {
                if target.kind != "device" && target.kind != "user" {
                    return Err(invalid("targets.kind", "must be device or user"));
                }
                check_id("targets.id", &target.id)?;
                check_id("targets.msg_id", &target.msg_id)?;
                if !seen.insert((&target.kind, &target.id)) {
                    return Err(invalid("targets", format!("{} {} is named twice", target.kind, target.id)));
                }
                if kind != PushKind::Multiple && !target.values.is_empty() {
                    return Err(invalid("targets.values", "only multiple pushes take values per target"));
                }
            }
        }
        if needs_message != request.message.is_some() {
            let what = if needs_message { "needs a message" } else { "takes its message from the template" };
            return Err(invalid("message", format!("a {} push {what}", kind.as_str())));
        }
        if needs_template != request.template.is_some() {
            return Err(invalid(
                "template",
                format!("a {} push {} a template", kind.as_str(), if needs_template { "needs" } else { "takes no" }),
            ));
        }
        if kind != PushKind::Template && !request.values.is_empty() {
            return Err(invalid("values", "only template pushes take shared values"));
        }
        if let Some(schedule) = &request.schedule {
            schedule::validate(schedule, now)?;
        }
        if let Some(message) = &request.message {
            message::validate(message)?;
            message::check_size(message)?;
            return Ok(None);
        }
        let name = request.template.as_deref().unwrap_or_default();
        let template = self.template(workspace_id, name).await?;
        for target in &request.targets {
            let rendered = render_for_target(&template, &request.values, &target.values)?;
            message::validate(&rendered)?;
            message::check_size(&rendered)?;
        }
        Ok(Some(template))
    }

    fn audience(&self, workspace_id: &str, request: &PushRequest, now: i64) -> Result<BroadcastAudience, PushError> {
        let audience = request.audience.clone().unwrap_or_default();
        if let Some(platform) = &audience.platform {
            check_platform(platform)?;
        }
        let bound = match audience.devices.as_deref().unwrap_or("all") {
            "all" => None,
            "bound" => Some(true),
            "unbound" => Some(false),
            _ => return Err(invalid("audience.devices", "must be all, bound or unbound")),
        };
        let bound_since = match audience.bound_within_days {
            None => None,
            Some(days @ (7 | 15)) if bound == Some(true) => Some(now - i64::from(days) * DAY_MS),
            Some(7 | 15) => return Err(invalid("audience.bound_within_days", "applies to bound devices only")),
            Some(_) => return Err(invalid("audience.bound_within_days", "must be 7 or 15")),
        };
        Ok(BroadcastAudience { workspace_id: workspace_id.to_owned(), platform: audience.platform, bound, bound_since })
    }

    /// One delivery per device the task reaches, each on its channel: the device's reported
    /// channel when it has a live token and the workspace has that channel, else the own one.
    pub(super) async fn resolve(
        &self,
        task: &PushTaskRecord,
        kind: PushKind,
        definition: &TaskDefinition,
        now: i64,
    ) -> Result<Vec<PushDeliveryRecord>, PushError> {
        let storage = self.control().storage();
        let workspace_id = task.workspace_id.as_str();
        let request = &definition.request;
        let expiry_seconds = match &definition.template_message {
            Some(template) => template.expiry_seconds,
            None => request.message.as_ref().and_then(|message| message.expiry_seconds),
        }
        .unwrap_or(DEFAULT_EXPIRY_SECONDS);
        let expires_at = now + i64::from(expiry_seconds) * 1000;
        let configured: HashSet<String> = storage
            .list_push_definitions(workspace_id, PushDefinitionKind::Channel)
            .await?
            .into_iter()
            .map(|record| record.name)
            .collect();
        // (device, msg_id, values)
        let mut reached: Vec<(PushDeviceRecord, String, Option<String>)> = Vec::new();
        if kind == PushKind::Broadcast {
            let audience = self.audience(workspace_id, request, now)?;
            let msg_id = request.msg_id.clone().unwrap_or_default();
            reached.extend(
                storage.push_audience(&audience).await?.into_iter().map(|device| (device, msg_id.clone(), None)),
            );
        } else {
            for target in &request.targets {
                let values =
                    (!target.values.is_empty()).then(|| serde_json::to_string(&target.values).expect("maps serialize"));
                let devices = if target.kind == "user" {
                    storage.push_devices_of_user(workspace_id, &target.id).await?
                } else {
                    // A device that never reported is still reachable over the own channel.
                    vec![storage.get_push_device(workspace_id, &target.id).await?.unwrap_or(PushDeviceRecord {
                        workspace_id: workspace_id.to_owned(),
                        device_id: target.id.clone(),
                        platform: "unknown".into(),
                        channel: OWN_CHANNEL.into(),
                        token: None,
                        token_retired_at: None,
                        user_id: None,
                        bound_at: None,
                        reported_at: now,
                    })]
                };
                reached.extend(devices.into_iter().map(|device| (device, target.msg_id.clone(), values.clone())));
            }
        }
        let mut seen = HashSet::new();
        Ok(reached
            .into_iter()
            .filter(|(device, _, _)| seen.insert(device.device_id.clone()))
            .map(|(device, msg_id, values)| {
                let usable =
                    device.token.is_some() && device.token_retired_at.is_none() && configured.contains(&device.channel);
                let (channel, token) =
                    if usable { (device.channel, device.token) } else { (OWN_CHANNEL.to_owned(), None) };
                PushDeliveryRecord {
                    task_id: task.task_id.clone(),
                    workspace_id: workspace_id.to_owned(),
                    device_id: device.device_id,
                    user_id: device.user_id,
                    platform: device.platform,
                    channel,
                    token,
                    msg_id,
                    values,
                    created_at: now,
                    expires_at,
                    sent_at: None,
                    failed_at: None,
                    error: None,
                    delivered_at: None,
                    opened_at: None,
                    ignored_at: None,
                    revoked_at: None,
                }
            })
            .collect())
    }
}
