//! The columns that hold secrets, sealed under the store's keyring on the way in and opened on
//! the way out (`midship_storage::sealing`), and the resealing every node runs at start.

use midship_storage::{ResealReport, StorageError, StorageResult};

use crate::db::{SqlRow, query};
use crate::{Dialect, SqlStorage, corrupt, database_error};

/// A column whose values are secrets, with the columns that name its row.
pub(crate) struct SecretColumn {
    pub table: &'static str,
    /// `table.column`: the associated data of its sealed values.
    pub name: &'static str,
    column: &'static str,
    row_key: &'static [&'static str],
    /// Which of the table's rows hold secrets (push definitions: channels only).
    only_where: &'static str,
}

pub(crate) const APP_KEY_SECRET: SecretColumn = SecretColumn {
    table: "app_keys",
    name: "app_keys.secret",
    column: "secret",
    row_key: &["key_id"],
    only_where: "TRUE",
};
pub(crate) const ENVELOPE_KEY_SECRET: SecretColumn = SecretColumn {
    table: "gateway_envelope_keys",
    name: "gateway_envelope_keys.secret",
    column: "secret",
    row_key: &["workspace_id", "suite"],
    only_where: "TRUE",
};
pub(crate) const PACKAGE_SIGNING_KEY_SECRET: SecretColumn = SecretColumn {
    table: "delivery_signing_keys",
    name: "delivery_signing_keys.secret",
    column: "secret",
    row_key: &["workspace_id", "public_key"],
    only_where: "TRUE",
};
pub(crate) const PUSH_CHANNEL_DEFINITION: SecretColumn = SecretColumn {
    table: "push_definitions",
    name: "push_definitions.definition",
    column: "definition",
    row_key: &["workspace_id", "kind", "name"],
    only_where: "kind = 'channel'",
};

pub(crate) const PERSON_TOTP_SECRET: SecretColumn = SecretColumn {
    table: "people",
    name: "people.totp_secret",
    column: "totp_secret",
    row_key: &["person_id"],
    only_where: "totp_secret IS NOT NULL",
};

const SECRET_COLUMNS: [&SecretColumn; 5] =
    [&APP_KEY_SECRET, &ENVELOPE_KEY_SECRET, &PACKAGE_SIGNING_KEY_SECRET, &PUSH_CHANNEL_DEFINITION, &PERSON_TOTP_SECRET];

impl<D: Dialect> SqlStorage<D> {
    pub(crate) fn seal(&self, column: &SecretColumn, plain: &str) -> String {
        self.keyring.seal(column.name, plain)
    }

    pub(crate) fn open_secret(&self, column: &SecretColumn, stored: &str) -> StorageResult<String> {
        self.keyring
            .open(column.name, stored)
            .map(|plain| plain.to_string())
            .map_err(|source| StorageError::Sealed { table: column.table, source })
    }

    /// Seals again every secret not sealed with the current key. Each row is changed only if it
    /// still holds the value read, so nodes resealing at once never overwrite a newer secret.
    pub(crate) async fn reseal_all(&self) -> StorageResult<ResealReport> {
        let mut report = ResealReport::default();
        for column in SECRET_COLUMNS {
            let key_list = column.row_key.join(", ");
            let select = format!(
                "SELECT {key_list}, {value} FROM {table} WHERE {filter}",
                value = column.column,
                table = column.table,
                filter = column.only_where
            );
            let rows = query(&select).fetch_all(&self.pool).await.map_err(database_error)?;
            let matches_row = column
                .row_key
                .iter()
                .enumerate()
                .map(|(index, key)| format!("{key} = ${}", index + 3))
                .collect::<Vec<_>>()
                .join(" AND ");
            let update = format!(
                "UPDATE {table} SET {value} = $1 WHERE {value} = $2 AND {matches_row}",
                table = column.table,
                value = column.column
            );
            for row in &rows {
                let stored: String = row.try_get(column.row_key.len()).map_err(corrupt(column.table))?;
                if !self.keyring.needs_resealing(&stored) {
                    report.current += 1;
                    continue;
                }
                let sealed = self.seal(column, &self.open_secret(column, &stored)?);
                let mut change = query(&update).bind(sealed).bind(stored);
                for index in 0..column.row_key.len() {
                    let key: String = row.try_get(index).map_err(corrupt(column.table))?;
                    change = change.bind(key);
                }
                report.resealed += change.execute(&self.pool).await.map_err(database_error)?.rows_affected();
            }
        }
        Ok(report)
    }
}
