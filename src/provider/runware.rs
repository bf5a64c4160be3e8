//! Runware's inference API: every call is a POST of a JSON task array to one URL.
//! Submits are `videoInference` tasks made idempotent by our `taskUUID` (a re-send
//! is answered `conflictTaskUUID`); polls batch many `getResponse` tasks into one
//! POST and read cumulative snapshots.

use std::collections::HashSet;

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::http::{self, Answer, Exchange, json_f64, json_str};
use super::{Accepted, Clip, Endpoint, ErrorClass, PollOutcome, PollTarget, ProviderError, RemoteTask};
use super::{SubmitRequest, VideoApi};
use crate::catalog::{Mode, Provider};

const P: Provider = Provider::Runware;

/// Most `getResponse` tasks in one POST: one request serves a poll cycle of many jobs.
pub const MAX_POLL_BATCH: usize = 25;

const CONFLICT: &str = "conflictTaskUUID";
const RATE_CODES: &[&str] = &["rateLimitExceeded", "inferenceRateLimitExceeded", "providerRateLimitExceeded"];
const AUTH_CODES: &[&str] = &[
    "invalidApiKey",
    "missingApiKey",
    "authenticationFailed",
    "unauthorized",
    "forbidden",
    "permissionDenied",
    "insufficientPermissions",
    "tokenExpired",
    "accountSuspended",
];
const QUOTA_CODES: &[&str] = &[
    "insufficientCredits",
    "providerInsufficientCredits",
    "thirdPartyInsufficientCredits",
    "quotaExceeded",
    "paymentRequired",
];
const SAFETY_CODES: &[&str] = &[
    "contentPolicyViolation",
    "providerContentPolicyViolation",
    "nsfwContentDetected",
    "sensitiveContentDetected",
    "promptBlocked",
    "imageBlocked",
    "moderationFailed",
];
const GONE_CODES: &[&str] = &["taskNotFound", "taskExpired", "taskFailedOrNotFound"];
/// The SDKs' retryable "provider" and "serverError" codes (timeouts are matched by name).
const TRANSIENT_CODES: &[&str] = &[
    "providerError",
    "providerUnavailable",
    "providerBadGateway",
    "providerInternalError",
    "inferenceError",
    "processingFailed",
    "taskFailed",
    "downloadFailed",
    "uploadFailed",
    "noAvailableServer",
    "modelUnavailable",
    "modelNotReady",
    "internalServerError",
    "serviceUnavailable",
    "standardError",
    "unknownError",
];

pub struct RunwareClient {
    endpoint: Endpoint,
}

impl RunwareClient {
    pub fn new(endpoint: Endpoint) -> Self {
        RunwareClient { endpoint }
    }

    fn post(&self, body: &Value) -> reqwest::RequestBuilder {
        let e = &self.endpoint;
        e.http.post(&e.base_url).bearer_auth(e.key.expose()).json(body).timeout(e.timeout)
    }
}

impl VideoApi for RunwareClient {
    fn provider(&self) -> Provider {
        P
    }

    fn max_poll_batch(&self) -> usize {
        MAX_POLL_BATCH
    }

    async fn submit(&self, request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        let scrub = |e| http::scrub(&self.endpoint.key, e);
        let body = submit_body(request)?;
        let answer = http::exchange(P, Exchange::Submit, self.post(&body)).await.map_err(scrub)?;
        classify_submit(&answer, &request.task_uuid.to_string()).map_err(scrub)
    }

    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        if targets.is_empty() {
            return Ok(Vec::new());
        }
        let scrub = |e| http::scrub(&self.endpoint.key, e);
        let body: Vec<Value> =
            targets.iter().map(|t| json!({"taskType": "getResponse", "taskUUID": t.task.id})).collect();
        let answer = http::exchange(P, Exchange::Read, self.post(&Value::Array(body))).await.map_err(scrub)?;
        let outcomes = classify_poll(&answer, targets).map_err(scrub)?;
        Ok(outcomes
            .into_iter()
            .map(|o| match o {
                PollOutcome::Failed(e) => PollOutcome::Failed(scrub(e)),
                other => other,
            })
            .collect())
    }
}

/// The submit body: a one-task array. Refuses (without sending) what Runware cannot do.
pub(crate) fn submit_body(r: &SubmitRequest) -> Result<Value, ProviderError> {
    if r.mode == Mode::Template {
        return Err(ProviderError::new(P, ErrorClass::Rejected, "Runware has no MiniMax video templates"));
    }
    if r.mode == Mode::Subject || r.subject.is_some() {
        return Err(ProviderError::new(
            P,
            ErrorClass::Rejected,
            "Runware does not take a subject reference for MiniMax models; use provider minimax with S2V-01",
        ));
    }
    if let Some(what) = r.missing_image() {
        return Err(ProviderError::new(P, ErrorClass::Rejected, format!("the {} needs a {what}", r.mode.describe())));
    }
    if let Some(h3) = crate::catalog::MODELS.iter().find(|m| m.provider == P && m.id == r.model_id && m.h3.is_some()) {
        return h3_body(r, h3);
    }
    let (width, height) = r.resolution.runware_size();
    let mut task = json!({
        "taskType": "videoInference",
        "taskUUID": r.task_uuid.to_string(),
        "model": r.model_id,
        "width": width,
        "height": height,
        "duration": r.duration,
        "fps": r.fps,
        "numberResults": r.number_results,
        "outputType": "URL",
        "outputFormat": r.options.output_format.wire(),
        "outputQuality": r.options.quality(),
        "deliveryMethod": "async",
        "includeCost": true,
        // Lower-case "minimax": every real example uses it (reference §2.1).
        "providerSettings": {"minimax": {"promptOptimizer": r.prompt_optimizer}},
    });
    if let Some(prompt) = &r.prompt {
        task["positivePrompt"] = json!(prompt);
    }
    if let Some(ttl) = r.ttl_secs {
        task["ttl"] = json!(ttl);
    }
    if let Some(mode) = r.options.safety {
        task["safety"] = json!({"checkContent": true, "mode": mode.name()});
    }
    let mut frames = Vec::new();
    if let (Mode::FirstFrame | Mode::FirstLast, Some(first)) = (r.mode, &r.first_frame) {
        frames.push(json!({"image": first.as_str(), "frame": "first"}));
    }
    if let (Mode::FirstLast, Some(last)) = (r.mode, &r.last_frame) {
        frames.push(json!({"image": last.as_str(), "frame": "last"}));
    }
    if !frames.is_empty() {
        task["inputs"] = json!({"frameImages": frames});
    }
    Ok(json!([task]))
}

/// An H3 task (`minimax:h3@...`): `resolution` as `768p`/`1440p` instead of a size
/// (the SDK registry), width × height only to carry a text-to-video ratio (the twelve
/// pairs Runware takes, third-party), frames or `inputs.referenceImages`, never both
/// ("MiniMax H3 [does] not allow frameImages and referenceImages in the same request").
/// No `fps` and no prompt optimizer: H3 documents neither.
fn h3_body(r: &SubmitRequest, model: &crate::catalog::Model) -> Result<Value, ProviderError> {
    let refuse = |m: &str| ProviderError::new(P, ErrorClass::Rejected, m.to_owned());
    if !r.references.videos.is_empty() || !r.references.audio.is_empty() {
        return Err(refuse("Runware H3 takes reference images only (use provider minimax for videos and audio)"));
    }
    let mut task = json!({
        "taskType": "videoInference",
        "taskUUID": r.task_uuid.to_string(),
        "model": model.id,
        "resolution": r.resolution.name(),
        "duration": r.duration,
        "numberResults": r.number_results,
        "outputType": "URL",
        "outputFormat": "MP4",
        "outputQuality": 95,
        "deliveryMethod": "async",
        "includeCost": true,
    });
    if let Some(prompt) = &r.prompt {
        task["positivePrompt"] = json!(prompt);
    }
    if let (Mode::Text | Mode::Reference, Some(size)) =
        (r.mode, r.ratio.and_then(|ratio| ratio.runware_size(r.resolution)))
    {
        task["width"] = json!(size.0);
        task["height"] = json!(size.1);
    }
    match r.mode {
        Mode::FirstFrame | Mode::FirstLast => {
            let mut frames = Vec::new();
            if let Some(first) = &r.first_frame {
                frames.push(json!({"image": first.as_str(), "frame": "first"}));
            }
            if let (Mode::FirstLast, Some(last)) = (r.mode, &r.last_frame) {
                frames.push(json!({"image": last.as_str(), "frame": "last"}));
            }
            task["inputs"] = json!({"frameImages": frames});
        }
        Mode::Reference => {
            let images: Vec<&str> = r.references.images.iter().map(|i| i.as_str()).collect();
            task["inputs"] = json!({"referenceImages": images});
        }
        Mode::Text | Mode::Subject => {}
        Mode::Template => {
            return Err(ProviderError::new(P, ErrorClass::Rejected, "Runware has no MiniMax video templates"));
        }
    }
    Ok(json!([task]))
}

/// One error an answer carried, from any of its shapes.
#[derive(Debug, Default)]
struct WireError {
    task_uuid: Option<String>,
    code: Option<String>,
    message: String,
}

impl WireError {
    fn from_value(v: &Value, task_uuid: Option<String>) -> WireError {
        if let Value::String(s) = v {
            return WireError { task_uuid, code: None, message: s.clone() };
        }
        let mut message = json_str(v, "message").unwrap_or_else(|| "no message".into());
        // `parameter` is a string, or a list for cross-field violations.
        match v.get("parameter") {
            Some(Value::String(p)) => message.push_str(&format!(" (parameter: {p})")),
            Some(Value::Array(ps)) => {
                let names: Vec<&str> = ps.iter().filter_map(Value::as_str).collect();
                message.push_str(&format!(" (parameters: {})", names.join(", ")));
            }
            _ => {}
        }
        if let Some(allowed) = v.get("allowedValues").filter(|a| !a.is_null()) {
            message.push_str(&format!(" (allowed values: {allowed})"));
        }
        let context = v.get("context").and_then(|c| json_str(c, "taskUUID"));
        WireError { task_uuid: json_str(v, "taskUUID").or(context).or(task_uuid), code: json_str(v, "code"), message }
    }

    fn is(&self, codes: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| codes.contains(&c))
    }
}

/// `data` items; a bare object is taken as a one-item list.
fn data_items(v: &Value) -> Vec<&Value> {
    match v.get("data") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => Vec::new(),
    }
}

/// Whether an answer's `taskUUID` names `uuid` (UUIDs compare without case).
fn is_uuid(found: Option<&str>, uuid: &str) -> bool {
    found.is_some_and(|f| f.eq_ignore_ascii_case(uuid))
}

fn status_of(item: &Value) -> String {
    item.get("status").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase()
}

/// Every error in an answer: `errors[]`, the singular `error`, and `data[]` items
/// with `status:"error"` and a nested `error` (the SDKs accept all three).
fn errors_of(v: &Value) -> Vec<WireError> {
    let mut out: Vec<WireError> = match v.get("errors") {
        Some(Value::Array(es)) => es.iter().map(|e| WireError::from_value(e, None)).collect(),
        _ => Vec::new(),
    };
    if let Some(e) = v.get("error").filter(|e| e.is_object() || e.is_string()) {
        out.push(WireError::from_value(e, None));
    }
    for item in data_items(v).into_iter().filter(|i| status_of(i) == "error") {
        let uuid = json_str(item, "taskUUID");
        out.push(WireError::from_value(item.get("error").filter(|e| e.is_object()).unwrap_or(item), uuid));
    }
    out
}

/// What an error code means, where it is known.
fn code_class(code: &str) -> Option<ErrorClass> {
    Some(if RATE_CODES.contains(&code) {
        ErrorClass::RateLimited { retry_after: None }
    } else if AUTH_CODES.contains(&code) {
        ErrorClass::Auth
    } else if QUOTA_CODES.contains(&code) {
        ErrorClass::Billing
    } else if SAFETY_CODES.contains(&code) {
        ErrorClass::ContentBlocked
    } else if TRANSIENT_CODES.contains(&code) || code.to_ascii_lowercase().contains("timeout") {
        ErrorClass::Transient
    } else {
        return None;
    })
}

/// What an HTTP status alone means. 5xx is transient even on a submit: a re-sent
/// `taskUUID` cannot start a second task.
fn status_class(status: u16) -> Option<ErrorClass> {
    Some(match status {
        429 => ErrorClass::RateLimited { retry_after: None },
        401 | 403 => ErrorClass::Auth,
        402 => ErrorClass::Billing,
        408 | 500..=599 => ErrorClass::Transient,
        400..=499 => ErrorClass::Rejected,
        _ => return None,
    })
}

/// Classes that stop more than one task: the key, the credits, the rate.
fn halts_request(class: &ErrorClass) -> bool {
    matches!(class, ErrorClass::RateLimited { .. } | ErrorClass::Auth | ErrorClass::Billing)
}

/// The class of an error answer: a whole-request status (429, 401/403, 402) wins,
/// then the code, then the status; an error for our task in a 2xx is a refusal.
fn error_class(status: u16, code: Option<&str>) -> ErrorClass {
    let by_status = status_class(status);
    if let Some(c) = by_status.as_ref().filter(|c| halts_request(c)) {
        return c.clone();
    }
    code.and_then(code_class).or(by_status).unwrap_or(ErrorClass::Rejected)
}

fn build_error(a: &Answer, class: ErrorClass, e: Option<&WireError>) -> ProviderError {
    let class = with_wait(class, &a.headers);
    let message = e.map_or_else(|| format!("HTTP {}: {}", a.status, a.text()), |e| e.message.clone());
    let err = ProviderError::new(P, class, message).status(a.status);
    match e.and_then(|e| e.code.clone()) {
        Some(code) => err.code(code),
        None => err,
    }
}

/// Fills a rate limit's wait from `Retry-After` (not documented for Runware; honoured if sent).
fn with_wait(class: ErrorClass, headers: &HeaderMap) -> ErrorClass {
    match class {
        ErrorClass::RateLimited { retry_after: None } => {
            ErrorClass::RateLimited { retry_after: http::retry_after(headers) }
        }
        other => other,
    }
}

/// Reads a submit's answer for the task `uuid`.
pub(crate) fn classify_submit(a: &Answer, uuid: &str) -> Result<Accepted, ProviderError> {
    let ok = (200..300).contains(&a.status);
    let accepted = |replayed| Accepted {
        task: RemoteTask {
            id: uuid.to_owned(),
            status_url: None,
            response_url: None,
            api: Default::default(),
            kind: Default::default(),
        },
        replayed,
    };
    let Some(v) = a.json() else {
        // A 2xx we cannot read may be an acknowledgement.
        let class = if ok { ErrorClass::InDoubt } else { status_class(a.status).unwrap_or(ErrorClass::InDoubt) };
        return Err(build_error(a, class, None));
    };
    if data_items(&v).iter().any(|i| is_uuid(json_str(i, "taskUUID").as_deref(), uuid) && status_of(i) != "error") {
        return Ok(accepted(false));
    }
    let errors = errors_of(&v);
    // We send one task per request, so a conflict that names no task is ours too.
    if errors.iter().any(|e| e.is(&[CONFLICT]) && e.task_uuid.as_deref().is_none_or(|u| u.eq_ignore_ascii_case(uuid))) {
        return Ok(accepted(true));
    }
    let ours = errors.iter().find(|e| is_uuid(e.task_uuid.as_deref(), uuid));
    let relevant = ours.or_else(|| errors.iter().find(|e| e.task_uuid.is_none()));
    let relevant = if ok { relevant } else { relevant.or(errors.first()) };
    match relevant {
        Some(e) => Err(build_error(a, error_class(a.status, e.code.as_deref()), Some(e))),
        None if ok => Err(build_error(
            a,
            ErrorClass::InDoubt,
            Some(&WireError {
                message: "a 2xx answer without an acknowledgement for our taskUUID".into(),
                ..Default::default()
            }),
        )),
        None => Err(build_error(a, error_class(a.status, None), None)),
    }
}

/// Reads a `getResponse` batch answer: per target, in order.
pub(crate) fn classify_poll(a: &Answer, targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
    let v = a.json();
    let errors = v.as_ref().map(errors_of).unwrap_or_default();
    let unscoped = errors.iter().find(|e| e.task_uuid.is_none());
    let whole = status_class(a.status).filter(|c| halts_request(c) || *c == ErrorClass::Transient);
    if let Some(class) = whole {
        return Err(build_error(a, class, unscoped.or(errors.first())));
    }
    let Some(v) = v else {
        return Err(build_error(a, ErrorClass::Transient, None));
    };
    // An error for no task that halts (key, credits, rate) is the request's own failure.
    let halting = unscoped.and_then(|e| Some((e, e.code.as_deref().and_then(code_class).filter(halts_request)?)));
    if let Some((e, class)) = halting {
        return Err(build_error(a, class, Some(e)));
    }
    let ours = |u: Option<&str>| targets.iter().any(|t| is_uuid(u, &t.task.id));
    let scoped = errors.iter().any(|e| ours(e.task_uuid.as_deref()))
        || data_items(&v).iter().any(|i| ours(json_str(i, "taskUUID").as_deref()));
    // Nothing about our tasks and a complaint (or a non-2xx): retry the poll later.
    if !scoped && (unscoped.is_some() || !(200..300).contains(&a.status)) {
        return Err(build_error(a, ErrorClass::Transient, unscoped));
    }
    Ok(targets.iter().map(|t| outcome_for(&v, &errors, t)).collect())
}

/// One task's state from a cumulative snapshot: items matched by `taskUUID`, never
/// by position; successes counted once each.
fn outcome_for(v: &Value, errors: &[WireError], target: &PollTarget<'_>) -> PollOutcome {
    let id = target.task.id.as_str();
    let failure = errors.iter().find(|e| is_uuid(e.task_uuid.as_deref(), id)).map(task_failure);
    if let Some(f) = failure.as_ref().filter(|f| f.class == ErrorClass::Gone) {
        return PollOutcome::Failed(f.clone());
    }
    let mut seen = HashSet::new();
    let mut clips = Vec::new();
    let mut progress: Option<u8> = None;
    let mut unfinished = 0usize;
    for item in data_items(v).into_iter().filter(|i| is_uuid(json_str(i, "taskUUID").as_deref(), id)) {
        let status = status_of(item);
        let success = status == "success" || (status.is_empty() && item.get("videoURL").is_some());
        if status == "error" {
            continue; // A nested error: counted in `errors` already.
        }
        if !success {
            unfinished += 1;
            // processing, queued, pending, ...: not done. Report the slowest one.
            if let Some(p) = item.get("progress").and_then(Value::as_u64) {
                let p = p.min(100) as u8;
                progress = Some(progress.map_or(p, |q| q.min(p)));
            }
            continue;
        }
        let key =
            ["videoUUID", "resultIndex", "videoURL"].iter().find_map(|k| json_str(item, k).map(|s| format!("{k}:{s}")));
        if key.is_some_and(|k| !seen.insert(k)) {
            continue;
        }
        match clip_of(item) {
            Ok(clip) => clips.push(clip),
            Err(e) => return PollOutcome::Failed(e),
        }
    }
    // A failed generation does not end the task while others still render: they
    // are billed when they finish, so they are collected first (the official SDKs
    // give up on the whole task here and lose them).
    match failure {
        Some(_) if unfinished > 0 => PollOutcome::Pending { progress, clips },
        Some(error) if clips.is_empty() => PollOutcome::Failed(error),
        Some(error) => PollOutcome::PartlyFailed { clips, error },
        None if clips.len() >= target.number_results.max(1) as usize => PollOutcome::Done { clips },
        None => PollOutcome::Pending { progress, clips },
    }
}

fn task_failure(e: &WireError) -> ProviderError {
    let class = if e.is(SAFETY_CODES) {
        ErrorClass::ContentBlocked
    } else if e.is(GONE_CODES) {
        ErrorClass::Gone
    } else {
        ErrorClass::Failed
    };
    let err = ProviderError::new(P, class, e.message.clone());
    match &e.code {
        Some(code) => err.code(code.clone()),
        None => err,
    }
}

fn clip_of(item: &Value) -> Result<Clip, ProviderError> {
    let Some(url) = json_str(item, "videoURL") else {
        return Err(ProviderError::new(P, ErrorClass::Failed, "a success without a videoURL"));
    };
    let video_url = http::video_url(P, &url)?;
    let remote_id = json_str(item, "videoUUID").or_else(|| json_str(item, "resultIndex")).unwrap_or(url);
    let seed = item.get("seed").and_then(|s| s.as_u64().or_else(|| s.as_str().and_then(|s| s.parse().ok())));
    let nsfw = item.get("NSFWContent").and_then(Value::as_bool);
    Ok(Clip {
        video_url,
        remote_id,
        seed,
        cost_usd: json_f64(item, "cost"),
        width: None,
        height: None,
        usage_secs: None,
        list_cost_usd: None,
        nsfw,
    })
}

#[cfg(test)]
#[path = "runware_tests.rs"]
mod tests;
