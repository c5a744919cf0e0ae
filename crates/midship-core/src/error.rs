//! What kind of failure an error is. Every domain error names its kind ([`Classify`]); the server
//! maps each kind once to an HTTP status and error code, and the gateway once to a result code,
//! so the admin API and the device RPCs can never disagree about the same failure.

/// The kinds of failure, from the caller's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request breaks a rule: a malformed body, a bad field.
    Invalid,
    /// The request is larger than a limit allows.
    TooLarge,
    /// The caller did not say who it is, or not convincingly.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// The request names something that does not exist (or that the caller may not see).
    NotFound,
    /// The request does not fit the current state: a name taken, a release already ended.
    Conflict,
    /// The caller sent more than its share.
    RateLimited,
    /// Midship cannot serve this now (storage down, a writer stopping); trying again later may work.
    Unavailable,
    /// A failure of Midship itself (a corrupt row, a bug).
    Internal,
}

impl ErrorKind {
    /// Whether the caller may read the error's message. Failures of Midship itself are logged
    /// and not described to callers: their text can name hosts, files or SQL.
    pub fn describes_to_caller(self) -> bool {
        !matches!(self, ErrorKind::Unavailable | ErrorKind::Internal)
    }

    /// What the caller reads in place of a message it may not see.
    pub fn withheld_message(self) -> &'static str {
        match self {
            ErrorKind::Unavailable => "temporarily unavailable, try again",
            _ => "internal error, see the server log",
        }
    }
}

/// An error that knows its [`ErrorKind`].
pub trait Classify: std::error::Error {
    fn kind(&self) -> ErrorKind;

    /// The message a caller may read: the error's own, or the withheld one for its kind.
    fn caller_message(&self) -> String {
        let kind = self.kind();
        if kind.describes_to_caller() { self.to_string() } else { kind.withheld_message().to_owned() }
    }
}

impl Classify for crate::ValidationError {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

impl Classify for crate::access::AccessDenied {
    fn kind(&self) -> ErrorKind {
        ErrorKind::Forbidden
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_failures_of_midship_itself_are_withheld() {
        let denied =
            crate::access::AccessDenied { role: crate::Role::Viewer, action: "create apps", scope: String::new() };
        assert_eq!(denied.caller_message(), denied.to_string());
        assert!(ErrorKind::Invalid.describes_to_caller());
        assert!(!ErrorKind::Unavailable.describes_to_caller());
        assert!(!ErrorKind::Internal.describes_to_caller());
        assert_eq!(ErrorKind::Unavailable.withheld_message(), "temporarily unavailable, try again");
    }
}
