//! Segmind's async v2 API: `POST /v2/{slug}` answers with a request id and the URLs
//! to follow; the status URL reports QUEUED/PROCESSING/COMPLETED/FAILED (FAILED
//! arrives as HTTP 422 with a body) and the response URL holds the video. There is
//! no idempotency key: a submit whose outcome is unknown is in doubt.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use super::http::{self, Answer, Exchange, json_f64, json_str};
use super::{Accepted, Clip, Endpoint, ErrorClass, PollOutcome, PollTarget, ProviderError, RemoteTask};
use super::{SubmitRequest, VideoApi};
use crate::catalog::{Mode, Provider, Resolution};

const P: Provider = Provider::Segmind;

/// Longest wait a rate-limit header may impose; a later reset is taken as an hour.
const MAX_WAIT: Duration = Duration::from_secs(3600);

pub struct SegmindClient {
    endpoint: Endpoint,
}

impl SegmindClient {
    pub fn new(endpoint: Endpoint) -> Self {
        SegmindClient { endpoint }
    }

    fn get(&self, url: &str) -> reqwest::RequestBuilder {
        let e = &self.endpoint;
        e.http.get(url).header("x-api-key", e.key.expose()).timeout(e.timeout)
    }

    /// The URL Segmind returned (the SDK always follows those), or the documented
    /// path when none usable was stored.
    fn follow(&self, stored: Option<&str>, path: String) -> String {
        stored
            .filter(|u| http::is_http_url(u))
            .map_or_else(|| format!("{}{path}", self.endpoint.base_url), str::to_owned)
    }

    async fn poll_one(&self, target: &PollTarget<'_>) -> Result<PollOutcome, ProviderError> {
        let task = target.task;
        let status_url = self.follow(task.status_url.as_deref(), format!("/v2/requests/{}/status", task.id));
        let answer = http::exchange(P, Exchange::Read, self.get(&status_url)).await?;
        match classify_status(&answer)? {
            Status::Pending => Ok(PollOutcome::Pending { progress: None, clips: Vec::new() }),
            Status::Failed(e) => Ok(PollOutcome::Failed(e)),
            Status::Completed => {
                let response_url = self.follow(task.response_url.as_deref(), format!("/v2/requests/{}", task.id));
                let answer = http::exchange(P, Exchange::Read, self.get(&response_url)).await?;
                classify_result(&answer, &task.id)
            }
        }
    }
}

impl VideoApi for SegmindClient {
    fn provider(&self) -> Provider {
        P
    }

    async fn submit(&self, request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        let scrub = |e| http::scrub(&self.endpoint.key, e);
        let body = submit_body(request)?;
        let e = &self.endpoint;
        let post = e
            .http
            .post(format!("{}/v2/{}", e.base_url, request.model_id))
            .header("x-api-key", e.key.expose())
            .json(&body)
            .timeout(e.timeout);
        let answer = http::exchange(P, Exchange::Submit, post).await.map_err(scrub)?;
        classify_submit(&answer).map_err(scrub)
    }

    /// One status request per target (the batch size is 1; more are polled in turn).
    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        let scrub = |e| http::scrub(&self.endpoint.key, e);
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            out.push(match self.poll_one(target).await.map_err(scrub)? {
                PollOutcome::Failed(e) => PollOutcome::Failed(scrub(e)),
                other => other,
            });
        }
        Ok(out)
    }
}

/// The submit body for the model page of `slug`: each slug names its fields its own way.
pub(crate) fn submit_body(r: &SubmitRequest) -> Result<Value, ProviderError> {
    if let Some(what) = r.missing_image() {
        return Err(ProviderError::new(P, ErrorClass::Rejected, format!("the {} needs a {what}", r.mode.describe())));
    }
    let slug = r.model_id.as_str();
    // `prompt_optimizer` defaults to true on Segmind: always say what the shot wants.
    let mut body = json!({"prompt_optimizer": r.prompt_optimizer});
    if let Some(prompt) = &r.prompt {
        body["prompt"] = json!(prompt);
    }
    let first_key = if slug == "minimax-hailuo-2" { "image_url" } else { "first_frame_image" };
    let image = |i: &Option<super::ImageInput>| -> Value { i.as_ref().map(|i| json!(i.as_str())).into() };
    match r.mode {
        Mode::Text => {}
        Mode::FirstFrame => body[first_key] = image(&r.first_frame),
        Mode::FirstLast => {
            body[first_key] = image(&r.first_frame);
            body["last_frame_image"] = image(&r.last_frame);
        }
        Mode::Subject => body["subject_reference"] = image(&r.subject),
        Mode::Reference => {
            return Err(ProviderError::new(P, ErrorClass::Rejected, "Segmind takes no H3 references from shotlist"));
        }
        Mode::Template => {
            return Err(ProviderError::new(P, ErrorClass::Rejected, "Segmind has no MiniMax video templates"));
        }
    }
    match slug {
        "hailuo-2.3" | "hailuo-2.3-fast" => {
            body["duration"] = json!(r.duration);
            body["resolution"] = json!(r.resolution.name()); // lower-case "768p", unlike MiniMax
        }
        "hailuo-02-fast" => {
            body["duration"] = json!(r.duration);
            body["go_fast"] = json!(true);
        }
        "minimax-hailuo-2" => {
            body["mode"] = json!(if r.resolution == Resolution::P1080 { "pro" } else { "standard" });
        }
        _ => {}
    }
    Ok(body)
}

/// The `error` text of a body (`{"error": "..."}`, an `error.message`, or plain text).
fn error_text(a: &Answer, v: Option<&Value>) -> String {
    let from_json =
        v.and_then(|v| json_str(v, "error").or_else(|| v.get("error").and_then(|e| json_str(e, "message"))));
    from_json.unwrap_or_else(|| a.text())
}

fn error(a: &Answer, class: ErrorClass, message: String) -> ProviderError {
    let class = match class {
        ErrorClass::RateLimited { .. } => ErrorClass::RateLimited { retry_after: rate_limit_wait(&a.headers) },
        other => other,
    };
    ProviderError::new(P, class, message).status(a.status)
}

/// How long a 429 asks to wait: `x-rate-limit-reset-at-utc`, else `Retry-After`.
fn rate_limit_wait(headers: &HeaderMap) -> Option<Duration> {
    let reset = headers.get("x-rate-limit-reset-at-utc").and_then(|v| v.to_str().ok());
    reset.and_then(|v| parse_reset(v, SystemTime::now())).or_else(|| http::retry_after(headers))
}

/// The wait until a reset time given as RFC 3339 (with or without an offset; the
/// header says UTC), unix seconds or milliseconds, or an HTTP date. A small
/// number cannot be an epoch time and is read as seconds to wait. Capped at an hour.
pub(crate) fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let at = if let Ok(n) = value.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        match n {
            n if n >= 1e12 => SystemTime::UNIX_EPOCH + Duration::from_secs_f64(n / 1000.0),
            n if n >= 1e9 => SystemTime::UNIX_EPOCH + Duration::from_secs_f64(n),
            n => now + Duration::from_secs_f64(n),
        }
    } else if let Ok(ts) = value.parse::<jiff::Timestamp>() {
        ts.into()
    } else if let Ok(dt) = value.parse::<jiff::civil::DateTime>() {
        dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp().into()
    } else {
        httpdate::parse_http_date(value).ok()?
    };
    Some(at.duration_since(now).unwrap_or_default().min(MAX_WAIT))
}

/// Reads a submit's answer.
pub(crate) fn classify_submit(a: &Answer) -> Result<Accepted, ProviderError> {
    let v = a.json();
    if (200..300).contains(&a.status) {
        let Some(v) = v else {
            return Err(error(a, ErrorClass::InDoubt, format!("a 2xx answer that is not JSON: {}", a.text())));
        };
        let [id, status_url, response_url] = ["request_id", "status_url", "response_url"].map(|k| json_str(&v, k));
        if let (Some(id), Some(status_url), Some(response_url)) = (id, status_url, response_url) {
            let task = RemoteTask {
                id,
                status_url: Some(status_url),
                response_url: Some(response_url),
                api: Default::default(),
                kind: Default::default(),
            };
            return Ok(Accepted { task, replayed: false });
        }
        let message = format!("a 2xx answer without request_id, status_url and response_url: {}", a.text());
        return Err(error(a, ErrorClass::InDoubt, message));
    }
    let text = error_text(a, v.as_ref());
    let class = match a.status {
        401 | 403 => ErrorClass::Auth,
        406 if looks_like_billing(&text) => ErrorClass::Billing,
        429 => ErrorClass::RateLimited { retry_after: None },
        500 | 502 | 503 => ErrorClass::Transient, // Segmind: "if a submit returns a 5xx, retry the submit"
        408 => ErrorClass::InDoubt,               // cut off after the gateway may have passed it on
        400..=499 => ErrorClass::Rejected,        // 400, 404, 405 (HTML), 406 content type, 410 retired
        _ => ErrorClass::InDoubt,                 // 504 and other gateway failures may hide an accepted job
    };
    Err(error(a, class, format!("HTTP {}: {text}", a.status)))
}

/// 406 means insufficient credits, a team spend limit, or a wrong content type.
fn looks_like_billing(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("credit") || t.contains("spend")
}

fn looks_moderated(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["nsfw", "safety", "moderation", "sensitive", "blocked", "content policy"].iter().any(|w| t.contains(w))
}

fn state_of(v: Option<&Value>) -> String {
    v.and_then(|v| v.get("status")).and_then(Value::as_str).unwrap_or("").to_ascii_uppercase()
}

/// A FAILED body (HTTP 422 or 200): the task ran and failed.
fn task_failure(a: &Answer, v: Option<&Value>) -> ProviderError {
    let text = error_text(a, v);
    let class = if looks_moderated(&text) { ErrorClass::ContentBlocked } else { ErrorClass::Failed };
    error(a, class, text).code("FAILED")
}

/// The request's own failures (the outer error of a poll).
fn read_error(a: &Answer, v: Option<&Value>) -> ProviderError {
    let class = match a.status {
        401 | 403 => ErrorClass::Auth,
        429 => ErrorClass::RateLimited { retry_after: None },
        _ => ErrorClass::Transient,
    };
    error(a, class, format!("HTTP {}: {}", a.status, error_text(a, v)))
}

fn gone(a: &Answer, v: Option<&Value>) -> ProviderError {
    let text = error_text(a, v);
    error(
        a,
        ErrorClass::Gone,
        format!("Segmind no longer knows the request (records expire 1 h after submission): {text}"),
    )
}

/// What the status URL said.
#[derive(Debug, PartialEq)]
pub(crate) enum Status {
    Pending,
    Completed,
    Failed(ProviderError),
}

/// Reads the status URL's answer. A status body decides whatever the HTTP code
/// (FAILED comes as 422), as the official SDK does.
pub(crate) fn classify_status(a: &Answer) -> Result<Status, ProviderError> {
    let v = a.json();
    match state_of(v.as_ref()).as_str() {
        "FAILED" => return Ok(Status::Failed(task_failure(a, v.as_ref()))),
        "COMPLETED" => return Ok(Status::Completed),
        _ => {}
    }
    match a.status {
        404 => Ok(Status::Failed(gone(a, v.as_ref()))),
        200..=299 if v.is_some() => Ok(Status::Pending), // QUEUED, PROCESSING, or a status we do not know
        200..=299 => Err(error(a, ErrorClass::Transient, format!("a status answer that is not JSON: {}", a.text()))),
        _ => Err(read_error(a, v.as_ref())),
    }
}

/// Reads the response URL's answer into the clip.
pub(crate) fn classify_result(a: &Answer, request_id: &str) -> Result<PollOutcome, ProviderError> {
    let v = a.json();
    let state = state_of(v.as_ref());
    if state == "FAILED" {
        return Ok(PollOutcome::Failed(task_failure(a, v.as_ref())));
    }
    match (a.status, &v) {
        (404, _) => return Ok(PollOutcome::Failed(gone(a, v.as_ref()))),
        (200..=299, Some(_)) => {}
        (200..=299, None) => {
            return Err(error(a, ErrorClass::Transient, format!("a result answer that is not JSON: {}", a.text())));
        }
        _ => return Err(read_error(a, v.as_ref())),
    }
    let v = v.unwrap_or_default();
    // The shape varies by model; `output` is always there, `video.url` sometimes.
    let output = v.get("output");
    let candidates: Vec<&str> = [
        output.and_then(Value::as_str),
        output.and_then(|o| o.get(0)).and_then(Value::as_str),
        output.and_then(|o| o.get("url")).and_then(Value::as_str),
        v.pointer("/video/url").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.trim().is_empty())
    .collect();
    let url = match candidates.iter().find(|u| http::is_http_url(u)).or(candidates.first()) {
        Some(url) => http::video_url(P, url),
        None if matches!(state.as_str(), "QUEUED" | "PROCESSING") => {
            return Ok(PollOutcome::Pending { progress: None, clips: Vec::new() });
        }
        None => Err(error(a, ErrorClass::Failed, "a completed request without a video URL".into())),
    };
    let video_url = match url {
        Ok(url) => url,
        Err(e) => return Ok(PollOutcome::Failed(e.status(a.status))),
    };
    let cost_usd = v.get("metrics").and_then(|m| json_f64(m, "cost"));
    let clip = Clip {
        video_url,
        remote_id: request_id.to_owned(),
        seed: None,
        cost_usd,
        width: None,
        height: None,
        usage_secs: None,
        list_cost_usd: None,
        nsfw: None,
    };
    Ok(PollOutcome::Done { clips: vec![clip] })
}

#[cfg(test)]
#[path = "segmind_tests.rs"]
mod tests;
