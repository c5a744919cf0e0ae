//! People and console sessions.

use std::str::FromStr;

use async_trait::async_trait;
use midship_core::access::Role;
use midship_core::clock::UnixMillis;
use midship_core::people::{
    ConsoleSessionRecord, DeviceLoginRecord, DeviceLoginStatus, PersonRecord, SessionStage, SignInPolicy,
    TotpEnrollment,
};
use midship_core::{NewAuditEntry, Page, PageRequest};
use midship_storage::{PersonStore, StorageError, StorageResult};
use sqlx::Transaction;

use crate::db::{SqlDatabase, SqlRow, query, query_scalar};
use crate::secrets::PERSON_TOTP_SECRET;
use crate::tenancy::{decode_app_ids, encode_app_ids};
use crate::{Dialect, SqlStorage, corrupt, database_error, insert_audit, write_error};

const PERSON_COLUMNS: &str = "person_id, tenant_id, login, display_name, role, app_ids, password_hash,
    password_must_change, totp_secret, totp_enabled_at, totp_last_step, oidc_subject, failed_sign_ins, locked_until,
    sessions_valid_after, created_at, created_by, disabled_at";

const DEVICE_LOGIN_COLUMNS: &str =
    "user_code, code_hash, client_name, address, created_at, expires_at, status, person_id";

const SESSION_COLUMNS: &str =
    "session_hash, person_id, tenant_id, stage, created_at, last_seen_at, expires_at, revoked_at, address";

impl<D: Dialect> SqlStorage<D> {
    fn person_from_row(&self, row: &impl SqlRow) -> StorageResult<PersonRecord> {
        let read = corrupt("people");
        let role: String = row.try_get("role").map_err(&read)?;
        let app_ids: Option<String> = row.try_get("app_ids").map_err(&read)?;
        let totp_secret: Option<String> = row.try_get("totp_secret").map_err(&read)?;
        let totp = match totp_secret {
            Some(sealed) => Some(TotpEnrollment {
                secret: self.open_secret(&PERSON_TOTP_SECRET, &sealed)?,
                enabled_at: row.try_get("totp_enabled_at").map_err(&read)?,
                last_step: row.try_get("totp_last_step").map_err(&read)?,
            }),
            None => None,
        };
        Ok(PersonRecord {
            person_id: row.try_get("person_id").map_err(&read)?,
            tenant_id: row.try_get("tenant_id").map_err(&read)?,
            login: row.try_get("login").map_err(&read)?,
            display_name: row.try_get("display_name").map_err(&read)?,
            role: Role::from_str(&role)
                .map_err(|error| StorageError::Corrupt { table: "people", detail: error.to_string() })?,
            app_ids: decode_app_ids(app_ids.as_deref())?,
            password_hash: row.try_get("password_hash").map_err(&read)?,
            password_must_change: row.try_get("password_must_change").map_err(&read)?,
            totp,
            oidc_subject: row.try_get("oidc_subject").map_err(&read)?,
            failed_sign_ins: row.try_get("failed_sign_ins").map_err(&read)?,
            locked_until: row.try_get("locked_until").map_err(&read)?,
            sessions_valid_after: row.try_get("sessions_valid_after").map_err(&read)?,
            created_at: row.try_get("created_at").map_err(&read)?,
            created_by: row.try_get("created_by").map_err(&read)?,
            disabled_at: row.try_get("disabled_at").map_err(&read)?,
        })
    }

    async fn person_where(&self, condition: &str, value: &str) -> StorageResult<Option<PersonRecord>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE {condition}");
        let row = query(&sql).bind(value).fetch_optional(&self.pool).await.map_err(database_error)?;
        row.as_ref().map(|row| self.person_from_row(row)).transpose()
    }
}

fn session_from_row(row: &impl SqlRow) -> StorageResult<ConsoleSessionRecord> {
    let read = corrupt("console_sessions");
    let stage: String = row.try_get("stage").map_err(&read)?;
    Ok(ConsoleSessionRecord {
        session_hash: row.try_get("session_hash").map_err(&read)?,
        person_id: row.try_get("person_id").map_err(&read)?,
        tenant_id: row.try_get("tenant_id").map_err(&read)?,
        stage: SessionStage::parse(&stage)
            .ok_or_else(|| StorageError::Corrupt { table: "console_sessions", detail: format!("stage {stage}") })?,
        created_at: row.try_get("created_at").map_err(&read)?,
        last_seen_at: row.try_get("last_seen_at").map_err(&read)?,
        expires_at: row.try_get("expires_at").map_err(&read)?,
        revoked_at: row.try_get("revoked_at").map_err(&read)?,
        address: row.try_get("address").map_err(&read)?,
    })
}

async fn insert_session<Db: SqlDatabase>(
    transaction: &mut Transaction<'_, Db>,
    session: &ConsoleSessionRecord,
) -> StorageResult<()> {
    query(&format!("INSERT INTO console_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"))
        .bind(&session.session_hash)
        .bind(&session.person_id)
        .bind(&session.tenant_id)
        .bind(session.stage.as_str())
        .bind(session.created_at)
        .bind(session.last_seen_at)
        .bind(session.expires_at)
        .bind(session.revoked_at)
        .bind(&session.address)
        .execute(&mut **transaction)
        .await
        .map_err(write_error("session"))?;
    Ok(())
}

fn device_login_from_row(row: &impl SqlRow) -> StorageResult<DeviceLoginRecord> {
    let read = corrupt("device_logins");
    let status: String = row.try_get("status").map_err(&read)?;
    Ok(DeviceLoginRecord {
        user_code: row.try_get("user_code").map_err(&read)?,
        code_hash: row.try_get("code_hash").map_err(&read)?,
        client_name: row.try_get("client_name").map_err(&read)?,
        address: row.try_get("address").map_err(&read)?,
        created_at: row.try_get("created_at").map_err(&read)?,
        expires_at: row.try_get("expires_at").map_err(&read)?,
        status: DeviceLoginStatus::parse(&status)
            .ok_or_else(|| StorageError::Corrupt { table: "device_logins", detail: format!("status {status}") })?,
        person_id: row.try_get("person_id").map_err(&read)?,
    })
}

impl<D: Dialect> SqlStorage<D> {
    async fn device_login_where(&self, condition: &str, value: &str) -> StorageResult<Option<DeviceLoginRecord>> {
        let sql = format!("SELECT {DEVICE_LOGIN_COLUMNS} FROM device_logins WHERE {condition}");
        let row = query(&sql).bind(value).fetch_optional(&self.pool).await.map_err(database_error)?;
        row.as_ref().map(device_login_from_row).transpose()
    }
}

#[async_trait]
impl<D: Dialect> PersonStore for SqlStorage<D> {
    async fn create_person(&self, person: &PersonRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let totp_secret = person.totp.as_ref().map(|totp| self.seal(&PERSON_TOTP_SECRET, &totp.secret));
        let insert = query(
            "INSERT INTO people (person_id, tenant_id, login, display_name, role, app_ids, password_hash,
                 password_must_change, totp_secret, totp_enabled_at, totp_last_step, oidc_subject, failed_sign_ins,
                 locked_until, sessions_valid_after, created_at, created_by, disabled_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        )
        .bind(&person.person_id)
        .bind(&person.tenant_id)
        .bind(&person.login)
        .bind(&person.display_name)
        .bind(person.role.as_str())
        .bind(encode_app_ids(person.app_ids.as_deref()))
        .bind(&person.password_hash)
        .bind(person.password_must_change)
        .bind(totp_secret)
        .bind(person.totp.as_ref().and_then(|totp| totp.enabled_at))
        .bind(person.totp.as_ref().map_or(0, |totp| totp.last_step))
        .bind(&person.oidc_subject)
        .bind(person.failed_sign_ins)
        .bind(person.locked_until)
        .bind(person.sessions_valid_after)
        .bind(person.created_at)
        .bind(&person.created_by)
        .bind(person.disabled_at);
        self.audited(insert, audit, write_error("person")).await?;
        Ok(())
    }

    async fn get_person(&self, person_id: &str) -> StorageResult<Option<PersonRecord>> {
        self.person_where("person_id = $1", person_id).await
    }

    async fn find_person_by_login(&self, login: &str) -> StorageResult<Option<PersonRecord>> {
        self.person_where("login = $1", login).await
    }

    async fn list_people(&self, tenant_id: &str, page: &PageRequest) -> StorageResult<Page<PersonRecord>> {
        let rows = query(&format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE tenant_id = $1 AND login > $2 ORDER BY login LIMIT $3"
        ))
        .bind(tenant_id)
        .bind(page.after.as_deref().unwrap_or(""))
        .bind(page.fetch_limit())
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        let people = rows.iter().map(|row| self.person_from_row(row)).collect::<StorageResult<Vec<_>>>()?;
        Ok(Page::from_rows(people, page, |person| person.login.clone()))
    }

    async fn update_person(&self, person: &PersonRecord, audit: &NewAuditEntry) -> StorageResult<()> {
        let totp_secret = person.totp.as_ref().map(|totp| self.seal(&PERSON_TOTP_SECRET, &totp.secret));
        let change = query(
            "UPDATE people SET login = $1, display_name = $2, role = $3, app_ids = $4, password_hash = $5,
                 password_must_change = $6, totp_secret = $7, totp_enabled_at = $8, oidc_subject = $9,
                 sessions_valid_after = $10, disabled_at = $11
             WHERE person_id = $12",
        )
        .bind(&person.login)
        .bind(&person.display_name)
        .bind(person.role.as_str())
        .bind(encode_app_ids(person.app_ids.as_deref()))
        .bind(&person.password_hash)
        .bind(person.password_must_change)
        .bind(totp_secret)
        .bind(person.totp.as_ref().and_then(|totp| totp.enabled_at))
        .bind(&person.oidc_subject)
        .bind(person.sessions_valid_after)
        .bind(person.disabled_at)
        .bind(&person.person_id);
        match self.audited(change, audit, write_error("person")).await? {
            0 => Err(StorageError::NotFound { entity: "person" }),
            _ => Ok(()),
        }
    }

    async fn record_sign_in_failure(
        &self,
        person_id: &str,
        policy: &SignInPolicy,
        now: UnixMillis,
        lock_audit: &NewAuditEntry,
    ) -> StorageResult<(i64, Option<UnixMillis>)> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        // The UPDATE takes the row's lock, so concurrent failures on two nodes count one by one.
        let failures: Option<i64> = query_scalar(
            "UPDATE people SET failed_sign_ins = failed_sign_ins + 1 WHERE person_id = $1 RETURNING failed_sign_ins",
        )
        .bind(person_id)
        .fetch_optional(&mut *transaction)
        .await
        .map_err(database_error)?;
        let failures = failures.ok_or(StorageError::NotFound { entity: "person" })?;
        let locked_until = policy.lock_after(failures, now);
        if let Some(until) = locked_until {
            query("UPDATE people SET locked_until = $1 WHERE person_id = $2")
                .bind(until)
                .bind(person_id)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?;
            insert_audit(&mut transaction, lock_audit).await?;
        }
        transaction.commit().await.map_err(database_error)?;
        Ok((failures, locked_until))
    }

    async fn clear_sign_in_failures(&self, person_id: &str) -> StorageResult<()> {
        query("UPDATE people SET failed_sign_ins = 0, locked_until = NULL WHERE person_id = $1")
            .bind(person_id)
            .execute(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(())
    }

    async fn use_totp_step(&self, person_id: &str, step: i64) -> StorageResult<bool> {
        let changed = query("UPDATE people SET totp_last_step = $1 WHERE person_id = $2 AND totp_last_step < $1")
            .bind(step)
            .bind(person_id)
            .execute(&self.pool)
            .await
            .map_err(database_error)?
            .rows_affected();
        Ok(changed > 0)
    }

    async fn create_session(&self, session: &ConsoleSessionRecord, audit: Option<&NewAuditEntry>) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        insert_session(&mut transaction, session).await?;
        if let Some(audit) = audit {
            insert_audit(&mut transaction, audit).await?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn get_session(&self, session_hash: &str) -> StorageResult<Option<ConsoleSessionRecord>> {
        let row = query(&format!("SELECT {SESSION_COLUMNS} FROM console_sessions WHERE session_hash = $1"))
            .bind(session_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(database_error)?;
        row.as_ref().map(session_from_row).transpose()
    }

    async fn touch_session(&self, session_hash: &str, seen_at: UnixMillis) -> StorageResult<()> {
        query("UPDATE console_sessions SET last_seen_at = $1 WHERE session_hash = $2 AND last_seen_at < $1")
            .bind(seen_at)
            .bind(session_hash)
            .execute(&self.pool)
            .await
            .map_err(database_error)?;
        Ok(())
    }

    async fn revoke_session(
        &self,
        session_hash: &str,
        revoked_at: UnixMillis,
        audit: Option<&NewAuditEntry>,
    ) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let changed =
            query("UPDATE console_sessions SET revoked_at = $1 WHERE session_hash = $2 AND revoked_at IS NULL")
                .bind(revoked_at)
                .bind(session_hash)
                .execute(&mut *transaction)
                .await
                .map_err(database_error)?
                .rows_affected();
        if changed > 0
            && let Some(audit) = audit
        {
            insert_audit(&mut transaction, audit).await?;
        }
        transaction.commit().await.map_err(database_error)
    }

    async fn list_open_sessions(&self, person_id: &str, now: UnixMillis) -> StorageResult<Vec<ConsoleSessionRecord>> {
        let rows = query(&format!(
            "SELECT {SESSION_COLUMNS} FROM console_sessions
             WHERE person_id = $1 AND revoked_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC LIMIT 100"
        ))
        .bind(person_id)
        .bind(now)
        .fetch_all(&self.pool)
        .await
        .map_err(database_error)?;
        rows.iter().map(session_from_row).collect()
    }

    async fn create_device_login(&self, login: &DeviceLoginRecord, now: UnixMillis) -> StorageResult<()> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        query("DELETE FROM device_logins WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(database_error)?;
        query(&format!("INSERT INTO device_logins ({DEVICE_LOGIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&login.user_code)
            .bind(&login.code_hash)
            .bind(&login.client_name)
            .bind(&login.address)
            .bind(login.created_at)
            .bind(login.expires_at)
            .bind(login.status.as_str())
            .bind(&login.person_id)
            .execute(&mut *transaction)
            .await
            .map_err(write_error("device login"))?;
        transaction.commit().await.map_err(database_error)
    }

    async fn get_device_login(&self, user_code: &str) -> StorageResult<Option<DeviceLoginRecord>> {
        self.device_login_where("user_code = $1", user_code).await
    }

    async fn find_device_login_by_hash(&self, code_hash: &str) -> StorageResult<Option<DeviceLoginRecord>> {
        self.device_login_where("code_hash = $1", code_hash).await
    }

    async fn approve_device_login(
        &self,
        user_code: &str,
        session: &ConsoleSessionRecord,
        audit: &NewAuditEntry,
    ) -> StorageResult<bool> {
        let mut transaction = self.pool.begin().await.map_err(database_error)?;
        let changed = query(
            "UPDATE device_logins SET status = 'approved', person_id = $1
             WHERE user_code = $2 AND code_hash = $3 AND status = 'pending'",
        )
        .bind(&session.person_id)
        .bind(user_code)
        .bind(&session.session_hash)
        .execute(&mut *transaction)
        .await
        .map_err(database_error)?
        .rows_affected();
        if changed == 0 {
            return Ok(false);
        }
        insert_session(&mut transaction, session).await?;
        insert_audit(&mut transaction, audit).await?;
        transaction.commit().await.map_err(database_error)?;
        Ok(true)
    }

    async fn deny_device_login(&self, user_code: &str) -> StorageResult<bool> {
        let changed = query("UPDATE device_logins SET status = 'denied' WHERE user_code = $1 AND status = 'pending'")
            .bind(user_code)
            .execute(&self.pool)
            .await
            .map_err(database_error)?
            .rows_affected();
        Ok(changed > 0)
    }
}
