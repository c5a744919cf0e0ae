//! `device` commands: the workspace's device security policy and revoking one device's credential.

use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::{DeviceSecurityRequest, DeviceSecurityView};

use super::resolve::{Resolver, WorkspaceArg};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Show or change the workspace's device security policy; flags left out keep their value.
    Security {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// From this day (YYYY-MM-DD, 00:00 UTC) only device credentials are accepted; `never`
        /// accepts the app's secret again.
        #[arg(long)]
        require_credentials_from: Option<String>,
        /// Refuse every connection token issued until now.
        #[arg(long)]
        revoke_connect_tokens: bool,
        /// Let devices pull configuration without a signature (`true` or `false`).
        #[arg(long)]
        unsigned_config_pull: Option<bool>,
        /// Require platform attestation at registration, judged by this verifier URL; `none`
        /// stops requiring it.
        #[arg(long)]
        attestation_verifier: Option<String>,
        /// Send the GrowthBook payload encrypted (`true` or `false`); the key to build into apps
        /// is shown as the GrowthBook decryption key.
        #[arg(long)]
        encrypt_features: Option<bool>,
    },
    /// Revoke a lost or stolen device's credential: its calls are refused (7018), its long
    /// connection closed; the app registers again under a new id.
    Revoke {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        device_id: String,
    },
}

pub async fn device(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: DeviceCommand,
    json: bool,
) -> anyhow::Result<()> {
    match command {
        DeviceCommand::Security {
            workspace_id,
            require_credentials_from,
            revoke_connect_tokens,
            unsigned_config_pull,
            attestation_verifier,
            encrypt_features,
        } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let current = client.device_security(&workspace_id).await?;
            let unchanged = require_credentials_from.is_none()
                && !revoke_connect_tokens
                && unsigned_config_pull.is_none()
                && attestation_verifier.is_none()
                && encrypt_features.is_none();
            let view = if unchanged {
                current
            } else {
                // The route replaces the whole policy: start from what is set.
                let required_from = match require_credentials_from.as_deref() {
                    Some("never") => None,
                    Some(day) => Some(day.to_owned()),
                    None => current.device_credentials_required_from.as_deref().map(|at| at.chars().take(10).collect()),
                };
                let request = DeviceSecurityRequest {
                    device_credentials_required_from: required_from,
                    revoke_connect_tokens,
                    unsigned_config_pull: unsigned_config_pull.unwrap_or(current.unsigned_config_pull),
                    attestation_verifier_url: match attestation_verifier.as_deref() {
                        Some("none") => None,
                        Some(url) => Some(url.to_owned()),
                        None => current.attestation_verifier_url.clone(),
                    },
                    encrypt_features_payload: encrypt_features.unwrap_or(current.encrypt_features_payload),
                };
                client.set_device_security(&workspace_id, &request).await?
            };
            if json {
                return output::json(&view);
            }
            print_security(&view);
            Ok(())
        }
        DeviceCommand::Revoke { workspace_id, device_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let revoked = client.revoke_device_credential(&workspace_id, &device_id).await?;
            if json {
                return output::json(&revoked);
            }
            let connection = if revoked.connection_closed { "; its long connection was closed" } else { "" };
            println!("revoked the credential of device {} at {}{connection}", revoked.device_id, revoked.revoked_at);
            Ok(())
        }
    }
}

fn print_security(view: &DeviceSecurityView) {
    let rows = vec![
        vec![
            "device credentials required from".to_owned(),
            output::optional(view.device_credentials_required_from.as_deref()),
        ],
        vec!["connection tokens valid after".to_owned(), output::optional(view.connect_tokens_valid_after.as_deref())],
        vec!["unsigned config pull".to_owned(), view.unsigned_config_pull.to_string()],
        vec!["attestation verifier".to_owned(), output::optional(view.attestation_verifier_url.as_deref())],
        vec!["GrowthBook client key".to_owned(), view.sdk_client_key.clone()],
        vec!["GrowthBook decryption key".to_owned(), output::optional(view.sdk_decryption_key.as_deref())],
    ];
    output::table(&["setting", "value"], &rows);
}
