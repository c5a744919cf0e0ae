//! The gateway's admin side: API groups, APIs, their policies and statistics (the device side
//! is `POST /mgw`, in [`crate::mgw`]), and `midship.time`.

pub(crate) mod api_console;
pub(crate) mod console;
pub(crate) mod rest;
pub(crate) mod rpc;
