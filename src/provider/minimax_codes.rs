//! MiniMax's error answers, shared by its v1 video and template APIs: the
//! `base_resp.status_code` business codes (in HTTP 200 or in a 4xx) and what each
//! means, the HTTP statuses of the other answers, and the `Trace-Id` every error
//! keeps for support requests.

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::http::{self, Answer, json_str};
use super::{ErrorClass, ProviderError};
use crate::catalog::Provider;

const P: Provider = Provider::Minimax;

const REGION_HINT: &str = "MiniMax refused the API key (2049 invalid api key). MiniMax keys are regional: \
a global key (platform.minimax.io) works only with MINIMAX_BASE_URL=https://api.minimax.io, a mainland China key \
(platform.minimaxi.com) only with MINIMAX_BASE_URL=https://api.minimaxi.com. Check that MINIMAX_API_KEY and \
MINIMAX_BASE_URL belong to the same region.";

/// `base_resp.status_code` (0 when absent) and its message.
pub(super) fn base_resp(v: &Value) -> (i64, String) {
    let b = v.get("base_resp").unwrap_or(&Value::Null);
    let code = b.get("status_code").and_then(|c| c.as_i64().or_else(|| c.as_str()?.trim().parse().ok()));
    (code.unwrap_or(0), json_str(b, "status_msg").unwrap_or_default())
}

/// What a non-zero `base_resp.status_code` means (error-code page, reference A7).
pub(super) fn code_class(code: i64) -> ErrorClass {
    match code {
        1002 | 1039 | 1041 | 2045 => ErrorClass::RateLimited { retry_after: None },
        // 2038: the account needs real-name verification; no request can succeed.
        1004 | 2038 | 2049 => ErrorClass::Auth,
        1008 | 1028 | 1030 | 2056 | 2061 => ErrorClass::Billing,
        1026 | 1027 => ErrorClass::ContentBlocked,
        1000 | 1001 | 1013 | 1024 | 1033 => ErrorClass::Transient,
        _ => ErrorClass::Rejected,
    }
}

/// On a query or retrieve nothing can be "rejected input": an unknown code is
/// retried later (the runner's deadline bounds it).
pub(super) fn read_code_class(code: i64) -> ErrorClass {
    match code_class(code) {
        ErrorClass::Rejected => ErrorClass::Transient,
        class => class,
    }
}

pub(super) fn trace_id(headers: &HeaderMap) -> Option<String> {
    headers.get("trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// An error with MiniMax's code, its message and the `Trace-Id`.
pub(super) fn error(a: &Answer, class: ErrorClass, code: Option<i64>, message: String) -> ProviderError {
    let class = match class {
        ErrorClass::RateLimited { retry_after: None } => {
            ErrorClass::RateLimited { retry_after: http::retry_after(&a.headers) }
        }
        other => other,
    };
    let region = class == ErrorClass::Auth && (code == Some(2049) || message.contains("2049"));
    let message = if region { format!("{REGION_HINT} ({message})") } else { message };
    let e = ProviderError::new(P, class, message).status(a.status).trace(trace_id(&a.headers));
    match code {
        Some(code) => e.code(code.to_string()),
        None => e,
    }
}

/// A non-2xx answer: its message from `base_resp`, an `error` object, or the text.
pub(super) fn http_error(a: &Answer, class: ErrorClass) -> ProviderError {
    let v = a.json().unwrap_or(Value::Null);
    let (code, msg) = base_resp(&v);
    let nested = v.get("error").and_then(|e| json_str(e, "message"));
    let message = Some(msg).filter(|m| !m.is_empty()).or(nested).unwrap_or_else(|| a.text());
    error(a, class, (code != 0).then_some(code), format!("HTTP {}: {message}", a.status))
}

/// A failed query, retrieve or template poll: what its HTTP status says.
pub(super) fn read_http_error(a: &Answer) -> ProviderError {
    let class = match a.status {
        429 => ErrorClass::RateLimited { retry_after: None },
        401 | 403 => ErrorClass::Auth,
        _ => ErrorClass::Transient,
    };
    http_error(a, class)
}

/// What a query's business code and status say, before its result is read.
pub(super) enum Status {
    /// The task ended without a result (blocked, failed, unknown to MiniMax).
    Failed(ProviderError),
    /// Preparing, Queueing, Processing, or a status we do not know.
    Pending,
    Success,
}

/// Reads a v1 or template query's `base_resp` code and `status` alike; `what` names
/// the task in messages. An error of the request itself is the `Err`.
pub(super) fn query_status(
    a: &Answer,
    code: i64,
    msg: String,
    status: &str,
    what: &str,
) -> Result<Status, ProviderError> {
    let code_opt = (code != 0).then_some(code);
    if matches!(code, 1026 | 1027) {
        return Ok(Status::Failed(error(a, ErrorClass::ContentBlocked, code_opt, msg)));
    }
    let status = status.to_ascii_lowercase();
    // The docs say "Fail"; the official CLI expects "Failed".
    if status == "fail" || status == "failed" {
        let msg = if msg.is_empty() || msg == "success" { format!("the {what} failed") } else { msg };
        return Ok(Status::Failed(error(a, ErrorClass::Failed, code_opt, msg)));
    }
    match code {
        0 => {}
        2013 => {
            let msg = format!("MiniMax does not know this {what} (it may have expired): {msg}");
            return Ok(Status::Failed(error(a, ErrorClass::Gone, code_opt, msg)));
        }
        _ => return Err(error(a, read_code_class(code), code_opt, msg)),
    }
    Ok(if status == "success" { Status::Success } else { Status::Pending })
}
