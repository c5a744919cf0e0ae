//! Symbol files (ProGuard/R8 mappings) per app version; a new one recounts stored batches.

use std::collections::HashMap;
use std::sync::Arc;

use midship_api::SymbolFileView;
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_core::{NewAuditEntry, Principal};
use midship_storage::SymbolFileRecord;
use serde_json::json;

use super::{AnalyticsService, Mappings, Rollups};
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
        let key = (workspace_id.to_owned(), app_version.to_owned());
        self.inner.shared.mapping_uploads.lock().expect("mapping uploads lock").insert(key.clone(), now);
        self.inner.shared.mappings.write().expect("mapping lock").insert(key, Arc::new(mapping));
        self.recount().await?;
        Ok(view)
    }

    /// Drops the rollups and counts every stored batch again.
    /// Loads every stored mapping; `true` when they differ from those loaded before (another node
    /// uploaded one), in which case the stored batches are counted again with them.
    pub async fn reload_symbol_files(&self) -> Result<bool, AnalyticsError> {
        let changed = self.load_symbol_files().await?;
        if changed {
            self.recount().await?;
        }
        Ok(changed)
    }

    /// Reads the stored mappings into memory; whether they changed.
    pub(super) async fn load_symbol_files(&self) -> Result<bool, AnalyticsError> {
        let files = self.control().storage().list_symbol_files(None).await?;
        let uploads: HashMap<(String, String), i64> = files
            .iter()
            .map(|file| ((file.workspace_id.clone(), file.app_version.clone()), file.uploaded_at))
            .collect();
        if *self.inner.shared.mapping_uploads.lock().expect("mapping uploads lock") == uploads {
            return Ok(false);
        }
        let mut mappings = Mappings::new();
        for file in files {
            match parse_mapping(&file.content) {
                Ok(mapping) => {
                    mappings.insert((file.workspace_id, file.app_version), Arc::new(mapping));
                }
                Err(error) => {
                    tracing::error!(%error, app_version = %file.app_version, "a stored mapping cannot be read")
                }
            }
        }
        *self.inner.shared.mappings.write().expect("mapping lock") = mappings;
        *self.inner.shared.mapping_uploads.lock().expect("mapping uploads lock") = uploads;
        Ok(true)
    }

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
