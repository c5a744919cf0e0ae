//! Stored groups and APIs, decoded.

use midship_storage::{ApiGroupRecord, ApiRecord, StorageError};

use crate::definition::{ApiDefinition, ApiGroupDefinition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiGroup {
    pub group_id: String,
    pub workspace_id: String,
    pub name: String,
    pub definition: ApiGroupDefinition,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    pub api_id: String,
    pub workspace_id: String,
    pub operation_type: String,
    pub group_id: String,
    pub definition: ApiDefinition,
    pub updated_at: i64,
}

fn corrupt(table: &'static str) -> impl Fn(serde_json::Error) -> StorageError {
    move |error| StorageError::Corrupt { table, detail: error.to_string() }
}

impl ApiGroup {
    pub fn from_record(record: ApiGroupRecord) -> Result<Self, StorageError> {
        Ok(Self {
            definition: serde_json::from_str(&record.definition).map_err(corrupt("api_groups"))?,
            group_id: record.group_id,
            workspace_id: record.workspace_id,
            name: record.name,
            updated_at: record.updated_at,
        })
    }

    /// The PEM public key backends verify RSA proxy signatures with.
    pub fn rsa_public_key(&self) -> Option<String> {
        let pem = self.definition.rsa_private_key.as_deref()?;
        midship_signing::proxy::RsaSigner::from_pkcs8_pem(pem).ok().map(|signer| signer.public_key_pem())
    }

    pub fn to_record(&self) -> ApiGroupRecord {
        ApiGroupRecord {
            group_id: self.group_id.clone(),
            workspace_id: self.workspace_id.clone(),
            name: self.name.clone(),
            definition: serde_json::to_string(&self.definition).expect("definitions serialize"),
            updated_at: self.updated_at,
        }
    }

    /// The group as people may see it after creation: without its proxy secret.
    pub fn without_secret(mut self) -> Self {
        self.definition.proxy_secret.clear();
        self.definition.rsa_private_key = None;
        self
    }
}

impl Api {
    pub fn from_record(record: ApiRecord) -> Result<Self, StorageError> {
        Ok(Self {
            definition: serde_json::from_str(&record.definition).map_err(corrupt("apis"))?,
            api_id: record.api_id,
            workspace_id: record.workspace_id,
            operation_type: record.operation_type,
            group_id: record.group_id,
            updated_at: record.updated_at,
        })
    }

    pub fn to_record(&self) -> ApiRecord {
        ApiRecord {
            api_id: self.api_id.clone(),
            workspace_id: self.workspace_id.clone(),
            operation_type: self.operation_type.clone(),
            group_id: self.group_id.clone(),
            definition: serde_json::to_string(&self.definition).expect("definitions serialize"),
            updated_at: self.updated_at,
        }
    }
}
