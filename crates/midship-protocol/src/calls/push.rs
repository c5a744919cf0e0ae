//! `midship.push.report`, `.bind`, `.unbind` and `.ack` (docs/push.md): one body, each call
//! reading its own fields.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushCall {
    /// `report`: the platform channel (`apns`, `fcm` or a vendor's); none for the own channel only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// `report`: the channel's device token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `bind`: the user (default: the `User-Id` header).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// `ack`: the push task the event is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// `ack`: `delivered`, `opened` or `dismissed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
}
