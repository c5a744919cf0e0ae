//! Templates and channel settings, stored as named definitions; channels are built from them
//! and kept until their definition changes.

use std::sync::Arc;

use midship_api::PushMessageBody;
use midship_core::access::Action;
use midship_core::ids::echo;
use midship_core::{NewAuditEntry, Principal, Workspace};
use midship_storage::{PushDefinitionKind, PushDefinitionRecord, StorageError};
use serde_json::Value;

use super::{PushService, check_name, corrupt, invalid, redacted};
use crate::PushError;
use crate::channel::{OWN_CHANNEL, PushChannel};
use crate::message::{self};

impl PushService {
    pub async fn put_template(
        &self,
        who: &Principal,
        workspace_id: &str,
        name: &str,
        template: PushMessageBody,
    ) -> Result<PushMessageBody, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        check_name("name", name)?;
        message::validate(&template)?;
        message::placeholders(&template)?;
        let definition = serde_json::to_value(&template).expect("messages serialize");
        self.put_definition(who, &workspace, PushDefinitionKind::Template, name, definition.clone(), definition)
            .await?;
        Ok(template)
    }

    /// Stores a channel's settings and credentials after building the channel from them, so
    /// a malformed key is refused here rather than at the first send.
    pub async fn put_channel(
        &self,
        who: &Principal,
        workspace_id: &str,
        name: &str,
        definition: Value,
    ) -> Result<Value, PushError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        check_name("name", name)?;
        if name == OWN_CHANNEL {
            return Err(invalid("name", "`own` is Midship's own channel and needs no settings"));
        }
        if !definition.is_object() {
            return Err(invalid("channel", "must be a JSON object"));
        }
        let channel =
            self.inner.kinds.read().expect("channel kinds lock").build(&definition, self.control().clock())?;
        channel
            .verify()
            .await
            .map_err(|error| invalid("channel", format!("the provider refused the credentials: {error}")))?;
        let shown = redacted(&definition);
        let stored = definition.to_string();
        self.put_definition(who, &workspace, PushDefinitionKind::Channel, name, definition, shown.clone()).await?;
        // Kept built, so the token the check obtained serves the first sends.
        let key = (workspace_id.to_owned(), name.to_owned());
        self.inner.channels.lock().expect("channels lock").insert(key, (stored, channel));
        Ok(shown)
    }

    pub(super) async fn put_definition(
        &self,
        who: &Principal,
        workspace: &Workspace,
        kind: PushDefinitionKind,
        name: &str,
        definition: Value,
        audited: Value,
    ) -> Result<(), PushError> {
        let now = self.now_ms();
        let audit = NewAuditEntry::by(who, now, &format!("push.{}.set", kind.as_str()), kind.as_str(), name)
            .in_app(&workspace.app_id)
            .after(audited);
        let record = PushDefinitionRecord {
            workspace_id: workspace.workspace_id.clone(),
            kind,
            name: name.to_owned(),
            definition: definition.to_string(),
            updated_at: now,
        };
        self.control().storage().put_push_definition(&record, &audit).await?;
        Ok(())
    }

    pub async fn delete_definition(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushDefinitionKind,
        name: &str,
    ) -> Result<(), PushError> {
        let action = if kind == PushDefinitionKind::Template { Action::Operate } else { Action::ManageApps };
        let workspace = self.workspace(who, workspace_id, action).await?;
        let audit =
            NewAuditEntry::by(who, self.now_ms(), &format!("push.{}.delete", kind.as_str()), kind.as_str(), name)
                .in_app(&workspace.app_id);
        match self.control().storage().delete_push_definition(workspace_id, kind, name, &audit).await {
            Err(StorageError::NotFound { .. }) => Err(match kind {
                PushDefinitionKind::Template => PushError::UnknownTemplate(echo(name)),
                PushDefinitionKind::Channel | PushDefinitionKind::Settings => PushError::UnknownChannel(echo(name)),
            }),
            other => Ok(other?),
        }
    }

    /// Templates, or channels with their credentials redacted, by name.
    pub async fn list_definitions(
        &self,
        who: &Principal,
        workspace_id: &str,
        kind: PushDefinitionKind,
    ) -> Result<Vec<(String, Value)>, PushError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let records = self.control().storage().list_push_definitions(workspace_id, kind).await?;
        records
            .into_iter()
            .map(|record| {
                let definition: Value =
                    serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))?;
                Ok((record.name, if kind == PushDefinitionKind::Channel { redacted(&definition) } else { definition }))
            })
            .collect()
    }

    /// The workspace's definition of this kind and name, if stored.
    pub(super) async fn definition(
        &self,
        workspace_id: &str,
        kind: PushDefinitionKind,
        name: &str,
    ) -> Result<Option<PushDefinitionRecord>, PushError> {
        let records = self.control().storage().list_push_definitions(workspace_id, kind).await?;
        Ok(records.into_iter().find(|record| record.name == name))
    }

    pub(super) async fn template(&self, workspace_id: &str, name: &str) -> Result<PushMessageBody, PushError> {
        let record = self
            .definition(workspace_id, PushDefinitionKind::Template, name)
            .await?
            .ok_or_else(|| PushError::UnknownTemplate(echo(name)))?;
        serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))
    }

    /// The workspace's channel built from its stored definition, rebuilt only when the
    /// definition changed (so provider tokens are reused).
    pub(super) async fn channel(&self, workspace_id: &str, name: &str) -> Result<Arc<dyn PushChannel>, PushError> {
        if name == OWN_CHANNEL {
            return Ok(self.inner.own.clone());
        }
        let record = self
            .definition(workspace_id, PushDefinitionKind::Channel, name)
            .await?
            .ok_or_else(|| PushError::UnknownChannel(echo(name)))?;
        let key = (workspace_id.to_owned(), name.to_owned());
        if let Some((definition, channel)) = self.inner.channels.lock().expect("channels lock").get(&key)
            && *definition == record.definition
        {
            return Ok(channel.clone());
        }
        let definition: Value = serde_json::from_str(&record.definition).map_err(corrupt("push_definitions"))?;
        let channel =
            self.inner.kinds.read().expect("channel kinds lock").build(&definition, self.control().clock())?;
        self.inner.channels.lock().expect("channels lock").insert(key, (record.definition, channel.clone()));
        Ok(channel)
    }
}
