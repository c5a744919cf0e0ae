//! Diagnosis: log requests sent to devices over sync, uploaded log files and their search.

use midship_api::{LogLineView, LogRequest, LogRequestView};
use midship_core::access::Action;
use midship_core::clock::format_rfc3339;
use midship_core::{NewAuditEntry, Principal};
use midship_protocol::calls::{LogFileView, LogUpload};
use midship_storage::{LogFileRecord, LogRequestRecord, StorageError};
use midship_sync::{DIAGNOSIS_DEVICE_BIZ_TYPE, DIAGNOSIS_USER_BIZ_TYPE, SendRequest};
use serde_json::json;

use super::AnalyticsService;
use crate::report::DayRange;
use crate::{AnalyticsError, invalid};

/// A log file's text, at most this long.
const MAX_LOG_BYTES: usize = 8 * 1024 * 1024;
/// Search answers hold at most this many lines.
const MAX_SEARCH_LINES: usize = 500;

/// What a log search looks for: lines containing `keyword`, in files uploaded in `range`,
/// optionally of one device or user.
#[derive(Debug, Clone)]
pub struct LogSearch {
    pub keyword: String,
    pub device_id: Option<String>,
    pub user_id: Option<String>,
    pub range: DayRange,
}

fn log_file_view(file: &LogFileRecord) -> LogFileView {
    LogFileView {
        file_id: file.file_id.clone(),
        request_id: file.request_id.clone(),
        device_id: file.device_id.clone(),
        user_id: file.user_id.clone(),
        file_name: file.file_name.clone(),
        size: u64::try_from(file.size).unwrap_or(0),
        uploaded_at: format_rfc3339(file.uploaded_at),
    }
}

fn log_text(file: &LogFileRecord) -> Result<String, AnalyticsError> {
    let corrupt = |detail: String| AnalyticsError::from(StorageError::Corrupt { table: "analytics_log_files", detail });
    let bytes = zstd::stream::decode_all(file.content.as_slice()).map_err(|error| corrupt(error.to_string()))?;
    String::from_utf8(bytes).map_err(|error| corrupt(error.to_string()))
}

impl AnalyticsService {
    /// Asks a device (or every device of a user) for its log file, through sync: online devices
    /// get the request at once, the others when they connect within 3 days.
    pub async fn request_logs(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: LogRequest,
    ) -> Result<LogRequestView, AnalyticsError> {
        let (app, workspace) = self.control().authorized_workspace(who, workspace_id, Action::Operate).await?;
        let (biz_type, link_token) = match (&request.device_id, &request.user_id) {
            (Some(device_id), None) => (DIAGNOSIS_DEVICE_BIZ_TYPE, device_id.clone()),
            (None, Some(user_id)) => (DIAGNOSIS_USER_BIZ_TYPE, user_id.clone()),
            _ => return Err(invalid("device_id", "name a device_id or a user_id, not both")),
        };
        let now = self.control().now_ms();
        let record = LogRequestRecord {
            request_id: self.control().new_id(),
            workspace_id: workspace_id.to_owned(),
            device_id: request.device_id.clone(),
            user_id: request.user_id.clone(),
            created_at: now,
        };
        let audit = NewAuditEntry::by(who, now, "analytics.logs.request", "log_request", &record.request_id)
            .in_app(&app.app_id)
            .after(json!(request));
        self.control().storage().insert_log_request(&record, &audit).await?;
        let message = SendRequest {
            biz_type: biz_type.to_owned(),
            link_token,
            payload: json!({ "request_id": record.request_id }).to_string(),
            third_msg_id: record.request_id.clone(),
            ..SendRequest::default()
        };
        let sent = match self.inner.sync.send_batch_in(&workspace, vec![message]).await {
            Ok(mut outcomes) => outcomes.pop().map_or(Ok(()), |outcome| outcome.map(drop)),
            Err(error) => Err(error),
        };
        sent.map_err(|error| invalid("device_id", format!("cannot send the request: {error}")))?;
        Ok(LogRequestView {
            request_id: record.request_id,
            device_id: record.device_id,
            user_id: record.user_id,
            created_at: format_rfc3339(now),
        })
    }

    /// A device's answer to a request: its log file, kept compressed.
    pub async fn receive_log(
        &self,
        workspace_id: &str,
        device_id: &str,
        user_id: Option<&str>,
        upload: LogUpload,
    ) -> Result<LogFileView, AnalyticsError> {
        let request = self
            .control()
            .storage()
            .get_log_request(&upload.request_id)
            .await?
            .filter(|request| request.workspace_id == workspace_id)
            .ok_or_else(|| invalid("request_id", "no such log request in this workspace"))?;
        let asked = request.device_id.as_deref() == Some(device_id)
            || (request.user_id.is_some() && request.user_id.as_deref() == user_id);
        if !asked {
            return Err(AnalyticsError::NotAsked(upload.request_id));
        }
        if upload.content.len() > MAX_LOG_BYTES {
            return Err(invalid("content", format!("a log file is at most {MAX_LOG_BYTES} bytes")));
        }
        if upload.file_name.is_empty() || upload.file_name.len() > 200 {
            return Err(invalid("file_name", "must be 1 to 200 characters"));
        }
        let file = LogFileRecord {
            file_id: self.control().new_id(),
            request_id: request.request_id,
            workspace_id: workspace_id.to_owned(),
            device_id: device_id.to_owned(),
            user_id: user_id.map(str::to_owned),
            file_name: upload.file_name,
            size: upload.content.len() as i64,
            content: zstd::bulk::compress(upload.content.as_bytes(), 3).expect("compressing into memory cannot fail"),
            uploaded_at: self.control().now_ms(),
        };
        self.control().storage().insert_log_file(&file).await?;
        Ok(log_file_view(&file))
    }

    /// Uploaded files, newest first.
    pub async fn log_files(
        &self,
        who: &Principal,
        workspace_id: &str,
        range: DayRange,
    ) -> Result<Vec<LogFileView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let (from, to) = range.millis();
        let files = self.control().storage().list_log_files(workspace_id, from, to, false).await?;
        Ok(files.iter().map(log_file_view).collect())
    }

    /// One file and its text.
    pub async fn log_file(
        &self,
        who: &Principal,
        workspace_id: &str,
        file_id: &str,
    ) -> Result<(LogFileView, String), AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        let file = self
            .control()
            .storage()
            .get_log_file(file_id)
            .await?
            .filter(|file| file.workspace_id == workspace_id)
            .ok_or_else(|| AnalyticsError::UnknownLogFile(file_id.to_owned()))?;
        Ok((log_file_view(&file), log_text(&file)?))
    }

    /// Lines of uploaded files containing the keyword (ignoring case), newest files first.
    pub async fn search_logs(
        &self,
        who: &Principal,
        workspace_id: &str,
        search: &LogSearch,
    ) -> Result<Vec<LogLineView>, AnalyticsError> {
        self.authorize(who, workspace_id, Action::Read).await?;
        if search.keyword.trim().is_empty() {
            return Err(invalid("q", "give a keyword"));
        }
        let keyword = search.keyword.to_lowercase();
        let (from, to) = search.range.millis();
        let files = self.control().storage().list_log_files(workspace_id, from, to, true).await?;
        let mut lines = Vec::new();
        for file in files.iter().filter(|file| {
            search.device_id.as_ref().is_none_or(|device_id| &file.device_id == device_id)
                && search.user_id.as_ref().is_none_or(|user_id| file.user_id.as_ref() == Some(user_id))
        }) {
            let text = log_text(file)?;
            for (index, line) in text.lines().enumerate() {
                if line.to_lowercase().contains(&keyword) {
                    lines.push(LogLineView {
                        file_id: file.file_id.clone(),
                        device_id: file.device_id.clone(),
                        user_id: file.user_id.clone(),
                        line_number: index as u64 + 1,
                        line: line.to_owned(),
                    });
                    if lines.len() == MAX_SEARCH_LINES {
                        return Ok(lines);
                    }
                }
            }
        }
        Ok(lines)
    }
}
