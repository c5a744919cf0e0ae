//! Approvals ("four eyes"): in a workspace that requires them, the changes that reach every device
//! at once — publishing or rolling back switches, starting, widening or rolling back a release,
//! a broadcast push — become requests that another person must approve before they take effect.

use serde::{Deserialize, Serialize};

use crate::access::{Action, Principal};
use crate::clock::UnixMillis;

/// How long a request waits for a decision; after that it can only be asked again, so nobody
/// approves a change whose context is forgotten.
pub const REQUEST_LIFETIME_MS: UnixMillis = 7 * 24 * 3_600_000;

/// A change that goes through approval where the workspace requires it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GatedChange {
    ConfigPublish,
    ConfigRollback,
    /// Starting a release, or widening one (a new release of the same package with a wider
    /// stage ends the earlier one).
    ReleaseStart,
    ReleaseRollback,
    PushBroadcast,
}

impl GatedChange {
    pub const ALL: [GatedChange; 5] = [
        GatedChange::ConfigPublish,
        GatedChange::ConfigRollback,
        GatedChange::ReleaseStart,
        GatedChange::ReleaseRollback,
        GatedChange::PushBroadcast,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GatedChange::ConfigPublish => "config.publish",
            GatedChange::ConfigRollback => "config.rollback",
            GatedChange::ReleaseStart => "release.start",
            GatedChange::ReleaseRollback => "release.rollback",
            GatedChange::PushBroadcast => "push.broadcast",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|change| change.as_str() == text)
    }

    /// What the requester and the approver must both be allowed to do.
    pub fn action(self) -> Action {
        Action::Operate
    }

    /// How the console and the CLI name it.
    pub fn describe(self) -> &'static str {
        match self {
            GatedChange::ConfigPublish => "publish switches",
            GatedChange::ConfigRollback => "roll switches back",
            GatedChange::ReleaseStart => "start or widen a release",
            GatedChange::ReleaseRollback => "roll a release back",
            GatedChange::PushBroadcast => "send a broadcast push",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApprovalStatus {
    /// Waiting for another person.
    Pending,
    /// Approved, being applied; stays so only if the node stopped while applying it.
    Approved,
    /// Approved and applied: `outcome` says what it did.
    Applied,
    /// Approved, but applying it failed (the draft changed, the package was removed…):
    /// `outcome` says why; nothing changed.
    Failed,
    Refused,
    /// Withdrawn by the requester or an admin.
    Cancelled,
}

impl ApprovalStatus {
    pub const ALL: [ApprovalStatus; 6] = [
        ApprovalStatus::Pending,
        ApprovalStatus::Approved,
        ApprovalStatus::Applied,
        ApprovalStatus::Failed,
        ApprovalStatus::Refused,
        ApprovalStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Approved => "approved",
            ApprovalStatus::Applied => "applied",
            ApprovalStatus::Failed => "failed",
            ApprovalStatus::Refused => "refused",
            ApprovalStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

/// Who asked or decided: a token or a person, with the name the audit log shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorRef {
    pub token_id: Option<String>,
    pub person_id: Option<String>,
    pub name: String,
}

impl ActorRef {
    pub fn of(principal: &Principal) -> Self {
        Self {
            token_id: principal.token_id().map(str::to_owned),
            person_id: principal.person_id().map(str::to_owned),
            name: principal.actor_name().to_owned(),
        }
    }

    /// Whether `principal` is this same actor: the same person, or the same token.
    pub fn is(&self, principal: &Principal) -> bool {
        match (principal.person_id(), principal.token_id()) {
            (Some(person_id), _) => self.person_id.as_deref() == Some(person_id),
            (None, Some(token_id)) => self.token_id.as_deref() == Some(token_id),
            (None, None) => false,
        }
    }
}

/// One request for a gated change, and its decision.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalRecord {
    pub approval_id: String,
    pub tenant_id: String,
    pub app_id: String,
    pub workspace_id: String,
    pub change: GatedChange,
    /// Everything needed to apply the change later, exactly as asked (the request body, and for a
    /// publication the fingerprint of the draft that was reviewed).
    pub payload: serde_json::Value,
    /// One line for lists: "publish 3 changed switches", "broadcast `Sale` to everyone".
    pub summary: String,
    pub requested_by: ActorRef,
    pub requested_at: UnixMillis,
    pub status: ApprovalStatus,
    pub decided_by: Option<ActorRef>,
    pub decided_at: Option<UnixMillis>,
    /// The approver's or refuser's words.
    pub comment: String,
    /// After a decision: what applying did, or why it failed.
    pub outcome: String,
}

impl ApprovalRecord {
    pub fn expires_at(&self) -> UnixMillis {
        self.requested_at + REQUEST_LIFETIME_MS
    }

    /// Pending and not yet past its lifetime.
    pub fn is_open_at(&self, now: UnixMillis) -> bool {
        self.status == ApprovalStatus::Pending && now < self.expires_at()
    }

    /// The status shown: a pending request past its lifetime reads as expired.
    pub fn status_at(&self, now: UnixMillis) -> &'static str {
        if self.status == ApprovalStatus::Pending && !self.is_open_at(now) { "expired" } else { self.status.as_str() }
    }
}

/// The decision written when a request leaves `pending`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApprovalDecision {
    pub status: ApprovalStatus,
    pub decided_by: ActorRef,
    pub decided_at: UnixMillis,
    pub comment: String,
    pub outcome: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{Actor, Role};

    fn person(person_id: &str) -> Principal {
        Principal {
            actor: Actor::Person { person_id: person_id.into(), login: person_id.into() },
            tenant_id: "default".into(),
            role: Role::Operator,
            app_ids: None,
        }
    }

    #[test]
    fn names_read_back() {
        for change in GatedChange::ALL {
            assert_eq!(GatedChange::parse(change.as_str()), Some(change));
        }
        for status in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(GatedChange::parse("config.import"), None);
    }

    #[test]
    fn an_actor_is_recognised_by_person_or_token() {
        let alice = ActorRef::of(&person("alice"));
        assert!(alice.is(&person("alice")));
        assert!(!alice.is(&person("bob")));
        let token = Principal { actor: Actor::Token { token_id: "T1".into(), name: "ci".into() }, ..person("x") };
        let by_token = ActorRef::of(&token);
        assert!(by_token.is(&token));
        assert!(!by_token.is(&person("T1")), "a person whose id equals a token id is another actor");
    }

    #[test]
    fn a_request_expires_after_its_lifetime() {
        let record = ApprovalRecord {
            approval_id: "A".into(),
            tenant_id: "default".into(),
            app_id: "app".into(),
            workspace_id: "ws".into(),
            change: GatedChange::ConfigPublish,
            payload: serde_json::json!({}),
            summary: String::new(),
            requested_by: ActorRef::of(&person("alice")),
            requested_at: 1_000,
            status: ApprovalStatus::Pending,
            decided_by: None,
            decided_at: None,
            comment: String::new(),
            outcome: String::new(),
        };
        assert!(record.is_open_at(1_000 + REQUEST_LIFETIME_MS - 1));
        assert!(!record.is_open_at(1_000 + REQUEST_LIFETIME_MS));
        assert_eq!(record.status_at(1_000 + REQUEST_LIFETIME_MS), "expired");
        assert_eq!(record.status_at(1_000), "pending");
    }
}
