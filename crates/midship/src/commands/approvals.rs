//! `approval` commands: the four-eyes rule of a workspace and its requests. A gated command
//! (publish, rollback, release, broadcast) in a workspace that requires approvals prints its
//! request and exits with status 3; another person approves it here or in the console.

use clap::Subcommand;
use midship_admin_client::AdminClient;
use midship_api::ApprovalView;

use super::list_pages;
use super::resolve::{Resolver, WorkspaceArg};
use crate::cli::PageArgs;
use crate::output::{self, optional};

#[derive(Debug, Subcommand)]
pub enum ApprovalCommand {
    /// Show or set whether gated changes wait for a second person (setting it: admins).
    Policy {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// `on` or `off`; without it, show the rule.
        #[arg(value_parser = ["on", "off"])]
        required: Option<String>,
    },
    /// Requests, newest first.
    List {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        /// pending, approved, applied, failed, refused or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[command(flatten)]
        page: PageArgs,
    },
    /// One request, with what it will apply.
    Show {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        approval_id: String,
    },
    /// Approve a request and apply it (a person, not its requester).
    Approve {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        approval_id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Refuse a request; refusing your own withdraws it.
    Refuse {
        #[command(flatten)]
        workspace_id: WorkspaceArg,
        approval_id: String,
        #[arg(long, default_value = "")]
        comment: String,
    },
}

pub async fn approval(
    client: &AdminClient,
    resolve: &Resolver<'_>,
    command: ApprovalCommand,
    json_output: bool,
) -> anyhow::Result<()> {
    match command {
        ApprovalCommand::Policy { workspace_id, required } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let policy = match required.as_deref() {
                Some(required) => client.set_approval_policy(&workspace_id, required == "on").await?,
                None => client.approval_policy(&workspace_id).await?,
            };
            if json_output {
                return output::json(&policy);
            }
            let state = if policy.approvals_required { "on" } else { "off" };
            println!("approvals: {state}");
            Ok(())
        }
        ApprovalCommand::List { workspace_id, status, page } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let approvals = list_pages(page, |params| {
                let (workspace_id, status) = (workspace_id.clone(), status.clone());
                async move { client.list_approvals(&workspace_id, status.as_deref(), &params).await }
            })
            .await?;
            if json_output {
                return output::json(&approvals);
            }
            let rows: Vec<Vec<String>> = approvals
                .items
                .iter()
                .map(|approval| {
                    vec![
                        approval.approval_id.clone(),
                        approval.status.clone(),
                        approval.summary.clone(),
                        approval.requested_by.clone(),
                        approval.requested_at.clone(),
                        optional(approval.decided_by.as_deref()),
                    ]
                })
                .collect();
            output::table(&["ID", "STATUS", "CHANGE", "ASKED BY", "ASKED AT", "DECIDED BY"], &rows);
            Ok(())
        }
        ApprovalCommand::Show { workspace_id, approval_id } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let approval = client.get_approval(&workspace_id, &approval_id).await?;
            if json_output {
                return output::json(&approval);
            }
            print_approval(&approval);
            Ok(())
        }
        ApprovalCommand::Approve { workspace_id, approval_id, comment } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let approval = client.approve_request(&workspace_id, &approval_id, &comment).await?;
            if json_output {
                return output::json(&approval);
            }
            print_approval(&approval);
            anyhow::ensure!(approval.status == "applied", "approved, but applying it failed: {}", approval.outcome);
            Ok(())
        }
        ApprovalCommand::Refuse { workspace_id, approval_id, comment } => {
            let workspace_id = resolve.workspace(&workspace_id).await?;
            let approval = client.refuse_request(&workspace_id, &approval_id, &comment).await?;
            if json_output {
                return output::json(&approval);
            }
            print_approval(&approval);
            Ok(())
        }
    }
}

pub fn print_approval(approval: &ApprovalView) {
    println!("request    {}", approval.approval_id);
    println!("change     {} ({})", approval.summary, approval.change);
    println!("status     {}", approval.status);
    println!("asked by   {} at {}", approval.requested_by, approval.requested_at);
    if let Some(decided_by) = &approval.decided_by {
        println!("decided by {} at {}", decided_by, optional(approval.decided_at.as_deref()));
    }
    if !approval.comment.is_empty() {
        println!("comment    {}", approval.comment);
    }
    if !approval.outcome.is_empty() {
        println!("outcome    {}", approval.outcome);
    }
}

/// What a gated command prints when its change waits for approval (exit status 3).
pub fn print_pending(approval: &ApprovalView, json_output: bool) {
    if json_output {
        println!("{}", serde_json::to_string_pretty(approval).unwrap_or_default());
        return;
    }
    println!("the workspace requires approvals: this change waits for another person");
    print_approval(approval);
    println!(
        "approve: midship approval approve --workspace {} {}   (or in the console, Approvals)",
        approval.workspace_id, approval.approval_id
    );
}
