//! The error taxonomy every provider answer is mapped onto (DESIGN "provider").

use std::fmt;
use std::time::Duration;

use crate::catalog::Provider;

/// What the runner should do about an error.
#[derive(Clone, Debug, PartialEq)]
pub enum ErrorClass {
    /// Too many requests (HTTP 429, MiniMax 1002): wait (`retry_after` when the
    /// provider said how long), slow down, retry. Proves the request was not accepted.
    RateLimited { retry_after: Option<Duration> },
    /// A failure that proves nothing was accepted (refused connection, a 5xx the
    /// provider documents as not accepted, a failed poll): retry later.
    Transient,
    /// A submit whose outcome is unknown (timeout or reset after the body was sent):
    /// the task may exist and be billed. Never resubmitted without the user's word.
    InDoubt,
    /// The provider refused the input (validation): fix the manifest.
    Rejected,
    /// Content moderation refused the prompt, an image or the output.
    ContentBlocked,
    /// Not enough credits or quota: halt this provider.
    Billing,
    /// The key was refused: halt the run.
    Auth,
    /// The provider ran the task and it failed.
    Failed,
    /// The provider no longer knows the task (record expired).
    Gone,
}

impl ErrorClass {
    /// A short name for logs, the journal and the report.
    pub fn name(&self) -> &'static str {
        match self {
            ErrorClass::RateLimited { .. } => "rate_limited",
            ErrorClass::Transient => "transient",
            ErrorClass::InDoubt => "in_doubt",
            ErrorClass::Rejected => "rejected",
            ErrorClass::ContentBlocked => "content_blocked",
            ErrorClass::Billing => "billing",
            ErrorClass::Auth => "auth",
            ErrorClass::Failed => "failed",
            ErrorClass::Gone => "gone",
        }
    }

    /// Whether the same request may simply be sent again later.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ErrorClass::RateLimited { .. } | ErrorClass::Transient)
    }
}

/// An error from a provider, with what it said. Never contains the API key.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub struct ProviderError {
    pub class: ErrorClass,
    pub provider: Provider,
    /// The provider's own code (`invalidApiKey`, `1002`, `422`...).
    pub code: Option<String>,
    pub message: String,
    pub http_status: Option<u16>,
    /// MiniMax's `Trace-Id`, for support requests.
    pub trace_id: Option<String>,
}

impl ProviderError {
    pub fn new(provider: Provider, class: ErrorClass, message: impl Into<String>) -> Self {
        ProviderError { class, provider, code: None, message: message.into(), http_status: None, trace_id: None }
    }

    /// The provider was never reached: refused connection, DNS, TLS (a connection
    /// that could not be set up; see `http::transport_error`).
    pub fn is_unreachable(&self) -> bool {
        self.code.as_deref() == Some("transport") && self.message.starts_with("could not connect")
    }

    /// The provider asks us to slow down: a rate limit, or a retryable answer with a
    /// status it documents as its queue being full (Runware 503/504). Some(wait it
    /// named) when so.
    pub fn back_pressure(&self) -> Option<Option<Duration>> {
        match &self.class {
            ErrorClass::RateLimited { retry_after } => Some(*retry_after),
            ErrorClass::Transient
                if self
                    .http_status
                    .is_some_and(|s| super::capabilities(self.provider).back_pressure_statuses.contains(&s)) =>
            {
                Some(None)
            }
            _ => None,
        }
    }

    pub fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    pub fn status(mut self, status: u16) -> Self {
        self.http_status = Some(status);
        self
    }

    pub fn trace(mut self, trace_id: Option<String>) -> Self {
        self.trace_id = trace_id;
        self
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.provider, self.class.name())?;
        if let Some(code) = &self.code {
            write!(f, " ({code})")?;
        }
        if let Some(status) = self.http_status {
            write!(f, " [HTTP {status}]")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(trace) = &self.trace_id {
            write!(f, " (Trace-Id: {trace})")?;
        }
        Ok(())
    }
}
