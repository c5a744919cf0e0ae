//! The names Midship reserves on the device side: built-in operation types (docs/protocol.md,
//! "Built-in services") and the bizTypes of the long connection that carry Midship's own data.

/// Operation types under this prefix are Midship's; an API registered in the gateway may not use it.
pub const BUILTIN_PREFIX: &str = "midship.";

/// Operation types of the built-in services.
pub mod operation {
    /// The operation type a signed hello of the long connection signs (method `CONNECT`).
    pub const CONNECT: &str = "midship.connect";
    pub const TIME: &str = "midship.time";
    pub const DEVICE_CHALLENGE: &str = "midship.device.challenge";
    pub const DEVICE_REGISTER: &str = "midship.device.register";
    pub const CONFIG_PULL: &str = "midship.config.pull";
    pub const SYNC_TOKEN: &str = "midship.sync.token";
    pub const PUSH_REPORT: &str = "midship.push.report";
    pub const PUSH_BIND: &str = "midship.push.bind";
    pub const PUSH_UNBIND: &str = "midship.push.unbind";
    pub const PUSH_ACK: &str = "midship.push.ack";
    pub const DELIVERY_CHECK: &str = "midship.delivery.check";
    pub const DELIVERY_REPORT: &str = "midship.delivery.report";
    pub const ANALYTICS_UPLOAD: &str = "midship.analytics.upload";
    pub const ANALYTICS_POLICY: &str = "midship.analytics.policy";
    pub const ANALYTICS_LOG_UPLOAD: &str = "midship.analytics.log.upload";

    /// The method a hello's signature covers, where RPCs sign `POST`.
    pub const CONNECT_METHOD: &str = "CONNECT";
    pub const RPC_METHOD: &str = "POST";
}

/// BizTypes of the long connection that carry Midship's own messages (docs/sync.md).
pub mod biz_type {
    /// Push messages of Midship's own channel (docs/push.md).
    pub const PUSH: &str = "midship.push";
    /// New releases and switch changes, so online devices check or pull at once (docs/delivery.md).
    pub const DELIVERY: &str = "midship.delivery";
    /// A request for a device's local logs, addressed to one device (docs/analytics.md).
    pub const DIAGNOSIS_DEVICE: &str = "midship.diagnosis";
    /// A request for the logs of a user's devices.
    pub const DIAGNOSIS_USER: &str = "midship.diagnosis.user";
}
