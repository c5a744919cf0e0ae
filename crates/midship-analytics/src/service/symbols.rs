//! Symbol files (ProGuard/R8 mappings) per app version; a new one recounts stored batches.

use std::sync::Arc;

use midship_api::SymbolFileView;
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::SymbolFileRecord;
use serde_json::json;

use super::{AnalyticsService, Rollups};
use crate::proguard::ProguardMapping;
use crate::{AnalyticsError, invalid};

pub(super) fn parse_mapping(content: &[u8]) -> Result<ProguardMapping, AnalyticsError> {
    let text = std::str::from_utf8(content).map_err(|_| invalid("mapping", "is not UTF-8 text"))?;
    ProguardMapping::parse(text).map_err(|error| invalid("mapping", error.to_string()))
}

impl AnalyticsService {
    /// Stores a ProGuard/R8 mapping for an app version and recounts the stored batches with it, so
    /// past crashes of that version are retraced and regrouped along with new ones.
    pub async fn upload_mapping(
        &self,
        who: &Principal,
        workspace_id: &str,
        app_version: &str,
        content: Vec<u8>,
    ) -> Result<SymbolFileView, AnalyticsError> {
        let app_id = self.authorize(who, workspace_id, Action::Operate).await?;
        if app_version.is_empty() || app_version.len() > 64 {
            return Err(invalid("app_version", "must be 1 to 64 characters"));
        }
        let mapping = parse_mapping(&content)?;
        let now = self.control().now_ms();
        let view = SymbolFileView {
            app_version: app_version.to_owned(),
            kind: "proguard".into(),
            size: content.len() as u64,
            classes: mapping.classes() as u64,
            uploaded_at: format_rfc3339(now),
        };
        let record = SymbolFileRecord {
            workspace_id: workspace_id.to_owned(),
            app_version: app_version.to_owned(),
            kind: "proguard".into(),
            content,
            uploaded_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "analytics.symbols.upload", "symbols", app_version)
            .in_app(&app_id)
            .after(json!({ "kind": "proguard", "size": view.size, "classes": view.classes }));
        self.control().storage().put_symbol_file(&record, &audit).await?;
        self.inner
            .shared
            .mappings
            .write()
            .expect("mapping lock")
            .insert((workspace_id.to_owned(), app_version.to_owned()), Arc::new(mapping));
        self.recount().await?;
        Ok(view)
    }

    /// Drops the rollups and counts every stored batch again.
    async fn recount(&self) -> Result<usize, AnalyticsError> {
        {
            let _one_at_a_time = self.inner.shared.catching_up.lock().await;
            *self.inner.shared.rollups.write().expect("rollup lock") = Rollups::default();
        }
        self.catch_up().await
    }

    pub async fn symbol_files(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<Vec<SymbolFileView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let files = self.control().storage().list_symbol_files(Some(workspace_id)).await?;
        let mappings = self.inner.shared.mappings.read().expect("mapping lock");
        Ok(files
            .into_iter()
            .map(|file| SymbolFileView {
                classes: mappings
                    .get(&(file.workspace_id.clone(), file.app_version.clone()))
                    .map_or(0, |mapping| mapping.classes() as u64),
                size: file.content.len() as u64,
                app_version: file.app_version,
                kind: file.kind,
                uploaded_at: format_rfc3339(file.uploaded_at),
            })
            .collect())
    }
}
