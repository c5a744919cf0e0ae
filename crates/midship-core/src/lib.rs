//! Midship's domain: the concepts every service shares (tenants, apps, workspaces, access tokens,
//! the audit log) and the rules on them. Pure code: no I/O, no HTTP, no database. Randomness and time
//! come in from the caller so every rule is testable as it is.

pub mod access;
pub mod api_calls;
pub mod approval;
pub mod audit;
pub mod cache;
pub mod clock;
pub mod error;
pub mod ids;
pub mod page;
pub mod people;
pub mod secrets;
pub mod tenancy;
pub mod validation;

pub use access::{Action, Actor, Principal, Role, TokenRecord};
pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{Classify, ErrorKind};
pub use page::{Page, PageRequest};
pub use tenancy::{App, AppKey, Platform, Tenant, Workspace};
pub use validation::ValidationError;
