//! Registering API groups and APIs, for people (admin API, CLI, console).

use midship_control::ControlError;
use midship_core::access::Action;
use midship_core::api_calls::{ApiCalls, ApiTotals};
use midship_core::secrets::new_app_secret;
use midship_core::{NewAuditEntry, Principal, Workspace, validation};
use midship_signing::envelope::Suite;
use midship_storage::StorageError;
use serde_json::json;

use crate::definition::{ApiDefinition, ApiGroupDefinition, ApiStatus, ProxySignature, validate_operation_type};
use crate::model::{Api, ApiGroup};
use crate::{Gateway, GatewayError};

/// A new backend group; the proxy secret (and RSA key, when none is given) is generated.
#[derive(Debug, Clone)]
pub struct NewApiGroup {
    pub name: String,
    pub base_url: String,
    pub timeout_ms: Option<u64>,
    pub proxy_signature: ProxySignature,
    /// PKCS#8 PEM for `rsa`; a 2048-bit key is generated when absent.
    pub rsa_private_key: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewApi {
    pub operation_type: String,
    /// Group id or name.
    pub group: String,
    pub definition: ApiDefinition,
}

impl Gateway {
    async fn workspace(&self, who: &Principal, workspace_id: &str, action: Action) -> Result<Workspace, GatewayError> {
        let (_, workspace) = self.control.authorized_workspace(who, workspace_id, action).await?;
        Ok(workspace)
    }

    fn audit(&self, who: &Principal, workspace: &Workspace, action: &str, kind: &str, target: &str) -> NewAuditEntry {
        NewAuditEntry::by(who, self.control.now_ms(), action, kind, target).in_app(&workspace.app_id)
    }

    async fn groups(&self, workspace_id: &str) -> Result<Vec<ApiGroup>, GatewayError> {
        let records = self.control.storage().list_api_groups(workspace_id).await?;
        Ok(records.into_iter().map(ApiGroup::from_record).collect::<Result<_, _>>()?)
    }

    async fn apis(&self, workspace_id: &str) -> Result<Vec<Api>, GatewayError> {
        let records = self.control.storage().list_apis(workspace_id).await?;
        Ok(records.into_iter().map(Api::from_record).collect::<Result<_, _>>()?)
    }

    /// Creates a group; its proxy secret is returned only here.
    pub async fn create_group(
        &self,
        who: &Principal,
        workspace_id: &str,
        request: NewApiGroup,
    ) -> Result<ApiGroup, GatewayError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        let name = validation::slug("name", &request.name).map_err(ControlError::from)?;
        // Generated before anything is awaited: the thread-local generator must not cross an await.
        let proxy_secret = new_app_secret(&mut rand::rng());
        let rsa_private_key = match (request.proxy_signature, request.rsa_private_key) {
            (ProxySignature::Rsa, Some(pem)) => Some(pem),
            (ProxySignature::Rsa, None) => {
                let generated = tokio::task::spawn_blocking(|| {
                    midship_signing::proxy::generate_rsa_key(&mut midship_signing::rand_core::OsRng)
                })
                .await
                .map_err(|error| GatewayError::Conflict(format!("rsa key generation failed: {error}")))?;
                Some(generated.map_err(|error| GatewayError::Conflict(format!("rsa key generation failed: {error}")))?)
            }
            (ProxySignature::Hmac, _) => None,
        };
        let definition = ApiGroupDefinition {
            base_url: request.base_url.trim_end_matches('/').to_owned(),
            timeout_ms: request.timeout_ms.unwrap_or(crate::definition::DEFAULT_TIMEOUT_MS),
            proxy_secret,
            proxy_signature: request.proxy_signature,
            rsa_private_key,
        };
        definition.validate()?;
        let now = self.control.now_ms();
        let group = ApiGroup {
            group_id: midship_core::ids::new_id(now, &mut rand::rng()),
            workspace_id: workspace.workspace_id.clone(),
            name,
            definition,
            updated_at: now,
        };
        let audit = self
            .audit(who, &workspace, "api_group.create", "api_group", &group.group_id)
            .after(json!({ "name": group.name, "base_url": group.definition.base_url, "timeout_ms": group.definition.timeout_ms }));
        match self.control.storage().create_api_group(&group.to_record(), &audit).await {
            Err(StorageError::Conflict { .. }) => {
                return Err(GatewayError::Conflict(format!("the workspace has a group named `{}`", group.name)));
            }
            other => other?,
        }
        self.routes.invalidate(&workspace.workspace_id);
        Ok(group)
    }

    pub async fn list_groups(&self, who: &Principal, workspace_id: &str) -> Result<Vec<ApiGroup>, GatewayError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        Ok(self.groups(workspace_id).await?.into_iter().map(ApiGroup::without_secret).collect())
    }

    pub async fn create_api(&self, who: &Principal, workspace_id: &str, request: NewApi) -> Result<Api, GatewayError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        validate_operation_type(&request.operation_type)?;
        request.definition.validate()?;
        let group = self
            .groups(workspace_id)
            .await?
            .into_iter()
            .find(|group| group.group_id == request.group || group.name == request.group)
            .ok_or_else(|| GatewayError::UnknownGroup(request.group.clone()))?;
        let now = self.control.now_ms();
        let api = Api {
            api_id: midship_core::ids::new_id(now, &mut rand::rng()),
            workspace_id: workspace.workspace_id.clone(),
            operation_type: request.operation_type,
            group_id: group.group_id,
            definition: request.definition,
            updated_at: now,
        };
        let audit = self
            .audit(who, &workspace, "api.create", "api", &api.operation_type)
            .after(serde_json::to_value(&api.definition).expect("definitions serialize"));
        match self.control.storage().create_api(&api.to_record(), &audit).await {
            Err(StorageError::Conflict { .. }) => {
                return Err(GatewayError::Conflict(format!("the workspace has an api `{}`", api.operation_type)));
            }
            other => other?,
        }
        self.routes.invalidate(&workspace.workspace_id);
        Ok(api)
    }

    pub async fn list_apis(&self, who: &Principal, workspace_id: &str) -> Result<Vec<Api>, GatewayError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        self.apis(workspace_id).await
    }

    pub async fn get_api(
        &self,
        who: &Principal,
        workspace_id: &str,
        operation_type: &str,
    ) -> Result<Api, GatewayError> {
        self.list_apis(who, workspace_id)
            .await?
            .into_iter()
            .find(|api| api.operation_type == operation_type)
            .ok_or_else(|| GatewayError::UnknownApi(operation_type.to_owned()))
    }

    /// Replaces an API's definition and group (its policies, parameters, limits…); whether it is
    /// open stays as it was. Every node routes by the new definition at once after the change.
    pub async fn update_api(&self, who: &Principal, workspace_id: &str, request: NewApi) -> Result<Api, GatewayError> {
        let workspace = self.workspace(who, workspace_id, Action::ManageApps).await?;
        request.definition.validate()?;
        let mut api = self
            .apis(workspace_id)
            .await?
            .into_iter()
            .find(|api| api.operation_type == request.operation_type)
            .ok_or_else(|| GatewayError::UnknownApi(request.operation_type.clone()))?;
        let group = self
            .groups(workspace_id)
            .await?
            .into_iter()
            .find(|group| group.group_id == request.group || group.name == request.group)
            .ok_or_else(|| GatewayError::UnknownGroup(request.group.clone()))?;
        let before = serde_json::to_value(&api.definition).expect("definitions serialize");
        let status = api.definition.status;
        api.definition = ApiDefinition { status, ..request.definition };
        api.group_id = group.group_id;
        api.updated_at = self.control.now_ms();
        let audit = self
            .audit(who, &workspace, "api.update", "api", &api.operation_type)
            .before(before)
            .after(serde_json::to_value(&api.definition).expect("definitions serialize"));
        self.control.storage().update_api(&api.to_record(), &audit).await?;
        self.routes.invalidate(&workspace.workspace_id);
        Ok(api)
    }

    /// Opens or closes an API; closed APIs answer 3000 without reaching the backend.
    pub async fn set_api_status(
        &self,
        who: &Principal,
        workspace_id: &str,
        operation_type: &str,
        status: ApiStatus,
    ) -> Result<Api, GatewayError> {
        let workspace = self.workspace(who, workspace_id, Action::Operate).await?;
        let mut api = self
            .apis(workspace_id)
            .await?
            .into_iter()
            .find(|api| api.operation_type == operation_type)
            .ok_or_else(|| GatewayError::UnknownApi(operation_type.to_owned()))?;
        let before = api.definition.status;
        api.definition.status = status;
        api.updated_at = self.control.now_ms();
        let action = if status == ApiStatus::Open { "api.open" } else { "api.close" };
        let audit = self
            .audit(who, &workspace, action, "api", operation_type)
            .before(json!({ "status": before }))
            .after(json!({ "status": status }));
        self.control.storage().update_api(&api.to_record(), &audit).await?;
        self.routes.invalidate(&workspace.workspace_id);
        Ok(api)
    }
}

impl Gateway {
    /// The workspace's public keys for body encryption, one per accepted suite (created on first
    /// use). Apps ship them and seal requests to them.
    pub async fn envelope_public_keys(
        &self,
        who: &Principal,
        workspace_id: &str,
    ) -> Result<Vec<(Suite, String)>, GatewayError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        let mut keys = Vec::new();
        for suite in &self.settings.accepted_suites {
            keys.push((*suite, self.envelope_key(workspace_id, *suite).await?.public_key_base64()));
        }
        Ok(keys)
    }
}

impl Gateway {
    /// Calls by result and latency percentiles of the workspace's APIs on this node.
    pub async fn api_stats(&self, who: &Principal, workspace_id: &str) -> Result<Vec<crate::ApiStats>, GatewayError> {
        self.workspace(who, workspace_id, Action::Read).await?;
        Ok(self.stats.for_workspace(workspace_id))
    }
}

/// One API's raw counters on this node, for alert rules (no caller: the server evaluates).
impl ApiCalls for Gateway {
    fn totals(&self, workspace_id: &str, operation_type: &str) -> Option<ApiTotals> {
        self.stats.totals(workspace_id, operation_type)
    }
}
