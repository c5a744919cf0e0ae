//! Raw events in Parquet, partitioned by app and day (`app_id=…/day=YYYY-MM-DD/part-….parquet`), so
//! outside engines (DuckDB, Spark, ClickHouse) read them without Midship. Each run writes the
//! batches stored since the last run; the range is recorded before any file is written, so a run
//! cut short is redone over the same range, into the same file names, and nothing is written twice.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use midship_storage::{Storage, StoredAnalyticsBatch};
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use serde_json::Value;

use crate::AnalyticsError;
use crate::event::{Event, Payload, decode_stored};
use crate::rollup::{day_of, format_day};

/// Batches read per query.
const PAGE: u32 = 1000;
/// Events held in memory before a run writes its files and records its progress.
const EVENTS_PER_RUN: usize = 500_000;
const EXPORTED_FILE: &str = "_exported_seq";
const PENDING_FILE: &str = "_pending_seq";

/// The columns, in writing order. `payload` is the kind's own fields as JSON.
const SCHEMA: &str = "message event {
    REQUIRED BYTE_ARRAY workspace_id (UTF8);
    REQUIRED BYTE_ARRAY device_id (UTF8);
    REQUIRED BYTE_ARRAY batch_id (UTF8);
    REQUIRED INT64 received_at (TIMESTAMP_MILLIS);
    REQUIRED INT64 time (TIMESTAMP_MILLIS);
    OPTIONAL INT64 client_time (TIMESTAMP_MILLIS);
    REQUIRED BYTE_ARRAY kind (UTF8);
    OPTIONAL BYTE_ARRAY user_id (UTF8);
    OPTIONAL BYTE_ARRAY app_version (UTF8);
    OPTIONAL BYTE_ARRAY name (UTF8);
    OPTIONAL INT64 duration_ms;
    REQUIRED BYTE_ARRAY payload (UTF8);
}";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportSummary {
    pub batches: usize,
    pub events: usize,
    pub files: usize,
}

/// One row: the event and the batch it came in.
struct Row<'batch> {
    batch: &'batch StoredAnalyticsBatch,
    event: Event,
}

impl Row<'_> {
    /// The kind, its main name (event name, page, host, exception type) and its duration.
    fn columns(&self) -> (String, Option<String>, Option<u64>, String) {
        let mut fields = serde_json::to_value(&self.event.payload).expect("payloads serialize");
        let kind = fields.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(fields) = fields.as_object_mut() {
            fields.remove("kind");
        }
        let (name, duration) = match &self.event.payload {
            Payload::Event { name, .. } => (Some(name.clone()), None),
            Payload::Page { page, duration_ms, .. } => (Some(page.clone()), *duration_ms),
            Payload::PageLoad { page, duration_ms } => (Some(page.clone()), Some(*duration_ms)),
            Payload::Startup { duration_ms, .. } => (None, Some(*duration_ms)),
            Payload::SessionEnd { duration_ms, .. } => (None, *duration_ms),
            Payload::Network { host, duration_ms, .. } => (Some(host.clone()), Some(*duration_ms)),
            Payload::Crash(failure) | Payload::Anr(failure) | Payload::Lag(failure) => {
                (Some(failure.exception.exception_type.clone()).filter(|name| !name.is_empty()), failure.duration_ms)
            }
            Payload::Log { level, .. } => (Some(level.clone()), None),
            Payload::Experiment { experiment, .. } => (Some(experiment.clone()), None),
            Payload::Launch { .. } | Payload::H5Error { .. } => (None, None),
        };
        (kind, name, duration, fields.to_string())
    }
}

#[derive(Debug, Clone)]
pub struct ParquetExporter {
    root: PathBuf,
    storage: Arc<dyn Storage>,
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> AnalyticsError + '_ {
    move |error| AnalyticsError::Export(format!("{}: {error}", path.display()))
}

fn parquet_error(path: &Path) -> impl Fn(parquet::errors::ParquetError) -> AnalyticsError + '_ {
    move |error| AnalyticsError::Export(format!("{}: {error}", path.display()))
}

impl ParquetExporter {
    pub fn new(root: impl Into<PathBuf>, storage: Arc<dyn Storage>) -> Self {
        Self { root: root.into(), storage }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn read_seq(&self, name: &str) -> Option<i64> {
        std::fs::read_to_string(self.root.join(name)).ok().and_then(|text| text.trim().parse().ok())
    }

    fn write_seq(&self, name: &str, seq: i64) -> Result<(), AnalyticsError> {
        let path = self.root.join(name);
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, seq.to_string()).map_err(io_error(&temporary))?;
        File::open(&temporary).and_then(|file| file.sync_all()).map_err(io_error(&temporary))?;
        std::fs::rename(&temporary, &path).map_err(io_error(&path))
    }

    /// Writes everything stored since the last run.
    pub async fn export_new(&self) -> Result<ExportSummary, AnalyticsError> {
        std::fs::create_dir_all(&self.root).map_err(io_error(&self.root))?;
        let mut summary = ExportSummary::default();
        let mut apps: HashMap<String, String> = HashMap::new();
        loop {
            let exported = self.read_seq(EXPORTED_FILE).unwrap_or(0);
            // A run cut short left its range: redo exactly that range.
            let pending = self.read_seq(PENDING_FILE).filter(|pending| *pending > exported);
            let mut batches = Vec::new();
            let mut events = 0;
            let mut after = exported;
            while events < EVENTS_PER_RUN {
                let page = self.storage.analytics_batches_after(after, PAGE).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                for batch in page {
                    if pending.is_some_and(|pending| batch.seq > pending) {
                        break;
                    }
                    events += usize::try_from(batch.batch.event_count).unwrap_or(0);
                    batches.push(batch);
                }
                if pending.is_some_and(|pending| after >= pending) {
                    break;
                }
            }
            let Some(last_seq) = batches.last().map(|batch| batch.seq) else { return Ok(summary) };
            let first_seq = batches[0].seq;
            self.write_seq(PENDING_FILE, last_seq)?;
            for batch in &batches {
                let workspace_id = &batch.batch.workspace_id;
                if !apps.contains_key(workspace_id) {
                    let app_id = self
                        .storage
                        .get_workspace(workspace_id)
                        .await?
                        .map_or_else(|| "unknown".to_owned(), |workspace| workspace.app_id);
                    apps.insert(workspace_id.clone(), app_id);
                }
            }
            let mut partitions: BTreeMap<(&str, i32), Vec<Row<'_>>> = BTreeMap::new();
            for batch in &batches {
                let events = decode_stored(&batch.batch.payload).unwrap_or_else(|error| {
                    tracing::error!(seq = batch.seq, %error, "an analytics batch cannot be decoded; not exported");
                    Vec::new()
                });
                let app_id = apps[&batch.batch.workspace_id].as_str();
                for event in events {
                    partitions.entry((app_id, day_of(event.time))).or_default().push(Row { batch, event });
                }
            }
            for ((app_id, day), rows) in &partitions {
                let directory = self.root.join(format!("app_id={app_id}")).join(format!("day={}", format_day(*day)));
                std::fs::create_dir_all(&directory).map_err(io_error(&directory))?;
                let path = directory.join(format!("part-{first_seq:012}-{last_seq:012}.parquet"));
                write_file(&path, rows)?;
                summary.files += 1;
                summary.events += rows.len();
            }
            summary.batches += batches.len();
            self.write_seq(EXPORTED_FILE, last_seq)?;
        }
    }
}

/// Writes `rows` to `path` through a temporary file, so readers never see half a file.
fn write_file(path: &Path, rows: &[Row<'_>]) -> Result<(), AnalyticsError> {
    let schema = Arc::new(parse_message_type(SCHEMA).expect("the schema parses"));
    let properties =
        Arc::new(WriterProperties::builder().set_compression(Compression::ZSTD(Default::default())).build());
    let temporary = path.with_extension("parquet.tmp");
    let file = File::create(&temporary).map_err(io_error(&temporary))?;
    let mut writer = SerializedFileWriter::new(file, schema, properties).map_err(parquet_error(path))?;
    let columns: Vec<_> = rows.iter().map(Row::columns).collect();
    let mut row_group = writer.next_row_group().map_err(parquet_error(path))?;
    let text = |value: &str| ByteArray::from(value.as_bytes().to_vec());
    let strings: [Vec<Option<ByteArray>>; 3] = [
        rows.iter().map(|row| Some(text(&row.batch.batch.workspace_id))).collect(),
        rows.iter().map(|row| Some(text(&row.batch.batch.device_id))).collect(),
        rows.iter().map(|row| Some(text(&row.batch.batch.batch_id))).collect(),
    ];
    for values in strings {
        write_column::<ByteArrayType>(&mut row_group, values, path)?;
    }
    write_column::<Int64Type>(
        &mut row_group,
        rows.iter().map(|row| Some(row.batch.batch.received_at)).collect(),
        path,
    )?;
    write_column::<Int64Type>(&mut row_group, rows.iter().map(|row| Some(row.event.time)).collect(), path)?;
    write_column::<Int64Type>(&mut row_group, rows.iter().map(|row| row.event.client_time).collect(), path)?;
    write_column::<ByteArrayType>(
        &mut row_group,
        columns.iter().map(|columns| Some(text(&columns.0))).collect(),
        path,
    )?;
    write_column::<ByteArrayType>(
        &mut row_group,
        rows.iter().map(|row| row.event.user_id.as_deref().map(text)).collect(),
        path,
    )?;
    write_column::<ByteArrayType>(
        &mut row_group,
        rows.iter().map(|row| row.event.app_version.as_deref().map(text)).collect(),
        path,
    )?;
    write_column::<ByteArrayType>(
        &mut row_group,
        columns.iter().map(|columns| columns.1.as_deref().map(text)).collect(),
        path,
    )?;
    write_column::<Int64Type>(
        &mut row_group,
        columns.iter().map(|columns| columns.2.map(|duration| i64::try_from(duration).unwrap_or(i64::MAX))).collect(),
        path,
    )?;
    write_column::<ByteArrayType>(
        &mut row_group,
        columns.iter().map(|columns| Some(text(&columns.3))).collect(),
        path,
    )?;
    row_group.close().map_err(parquet_error(path))?;
    writer.close().map_err(parquet_error(path))?;
    File::open(&temporary).and_then(|file| file.sync_all()).map_err(io_error(&temporary))?;
    std::fs::rename(&temporary, path).map_err(io_error(path))
}

/// Writes the next column: present values, and definition levels (1 present, 0 null) that
/// required columns ignore.
fn write_column<T: parquet::data_type::DataType>(
    row_group: &mut parquet::file::writer::SerializedRowGroupWriter<'_, File>,
    values: Vec<Option<T::T>>,
    path: &Path,
) -> Result<(), AnalyticsError> {
    let mut column = row_group
        .next_column()
        .map_err(parquet_error(path))?
        .ok_or_else(|| AnalyticsError::Export("more values than columns".into()))?;
    let levels: Vec<i16> = values.iter().map(|value| i16::from(value.is_some())).collect();
    let present: Vec<T::T> = values.into_iter().flatten().collect();
    column.typed::<T>().write_batch(&present, Some(&levels), None).map_err(parquet_error(path))?;
    column.close().map_err(parquet_error(path))
}

#[cfg(test)]
mod tests {
    use midship_storage::AnalyticsBatchRecord;
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;

    use super::*;
    use crate::event::encode_stored;

    const DAY: i64 = 20_000 * crate::rollup::DAY_MS;

    fn batch(batch_id: &str, events: &[Event]) -> AnalyticsBatchRecord {
        AnalyticsBatchRecord {
            workspace_id: "WS1".into(),
            device_id: "DEVICE1".into(),
            batch_id: batch_id.into(),
            received_at: DAY + 5,
            event_count: events.len() as i64,
            payload: encode_stored(events),
        }
    }

    fn page(time: i64, page: &str) -> Event {
        Event {
            time,
            client_time: None,
            user_id: Some("ann".into()),
            app_version: None,
            payload: Payload::Page { page: page.into(), duration_ms: Some(1200), referrer: None },
        }
    }

    fn read_rows(root: &Path) -> Vec<(String, String, String, i64)> {
        let mut rows = Vec::new();
        let mut files: Vec<PathBuf> = walk(root);
        files.sort();
        for file in files {
            let partition = file.parent().unwrap().strip_prefix(root).unwrap().display().to_string();
            let reader = SerializedFileReader::new(File::open(&file).unwrap()).unwrap();
            for row in reader.get_row_iter(None).unwrap() {
                let row = row.unwrap();
                rows.push((
                    partition.clone(),
                    row.get_string(9).unwrap().clone(),
                    row.get_string(6).unwrap().clone(),
                    row.get_long(10).unwrap(),
                ));
            }
        }
        rows
    }

    fn walk(directory: &Path) -> Vec<PathBuf> {
        let mut files = Vec::new();
        for entry in std::fs::read_dir(directory).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(walk(&path));
            } else if path.extension().is_some_and(|extension| extension == "parquet") {
                files.push(path);
            }
        }
        files
    }

    #[tokio::test]
    async fn batches_are_exported_once_by_app_and_day_and_a_cut_run_is_redone() {
        let directory = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", directory.path().join("midship.db").display());
        let storage: Arc<dyn Storage> = Arc::new(midship_storage_sqlite::open_throwaway(&url).await.unwrap());
        storage
            .append_analytics_batches(&[batch(
                "B1",
                &[page(DAY + 1, "home"), page(DAY + crate::rollup::DAY_MS, "cart")],
            )])
            .await
            .unwrap();
        let exporter = ParquetExporter::new(directory.path().join("events"), storage.clone());
        let first = exporter.export_new().await.unwrap();
        assert_eq!(first, ExportSummary { batches: 1, events: 2, files: 2 });
        assert_eq!(exporter.export_new().await.unwrap(), ExportSummary::default(), "nothing new");
        let rows = read_rows(exporter.root());
        assert_eq!(
            rows,
            [
                ("app_id=unknown/day=2024-10-04".to_owned(), "home".to_owned(), "page".to_owned(), 1200),
                ("app_id=unknown/day=2024-10-05".to_owned(), "cart".to_owned(), "page".to_owned(), 1200),
            ]
        );

        // A run cut after recording its range but before finishing is redone over that range only.
        storage.append_analytics_batches(&[batch("B2", &[page(DAY + 2, "list")])]).await.unwrap();
        exporter.write_seq(PENDING_FILE, 2).unwrap();
        storage.append_analytics_batches(&[batch("B3", &[page(DAY + 3, "detail")])]).await.unwrap();
        let redone = exporter.export_new().await.unwrap();
        assert_eq!((redone.batches, redone.events), (2, 2), "the pending range, then the rest");
        let pages: Vec<String> = read_rows(exporter.root()).into_iter().map(|row| row.1).collect();
        assert_eq!(pages.len(), 4, "{pages:?}");
        for page in ["home", "cart", "list", "detail"] {
            assert!(pages.iter().any(|seen| seen == page), "{page} in {pages:?}");
        }
    }
}
