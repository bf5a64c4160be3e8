//! MiniMax's v2 video API (H3): `POST /v2/video_generation` with `content[]` parts,
//! `GET /v2/query/video_generation/{id}` (lowercase statuses, the video URL inline,
//! `usage` in seconds), and the list `GET /v2/query/video_generation`. Unlike v1,
//! errors use real HTTP statuses with a typed body (`{type:"error", error:{type,
//! message:"… (code)", http_code}, request_id}`). A task can be queried for 7 days.
//!
//! Called by [`super::minimax::MinimaxClient`] for the models the catalog marks v2.

use serde::{Deserialize, Serialize};

use super::http::{self, Answer, Exchange};
use super::reconcile::{self, Listed, Reconciled, Sent, Window};
use super::{Accepted, Clip, Endpoint, ErrorClass, ImageInput, PollOutcome, ProviderError, RemoteTask, SubmitRequest};
use crate::catalog::{self, Api, Mode, Provider, Resolution, h3};

const P: Provider = Provider::Minimax;

/// An overload (529) without a `Retry-After`: everyone waits this long [inference].
const OVERLOADED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// The most list pages read when reconciling (100 tasks a page).
const MAX_LIST_PAGES: u32 = 10;
const PAGE_SIZE: u32 = 100;

// ---- the wire, typed ----

#[derive(Debug, Serialize)]
pub(crate) struct CreateBody<'a> {
    pub model: &'a str,
    pub content: Vec<Part<'a>>,
    pub resolution: &'static str,
    pub duration: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio: Option<&'static str>,
}

#[derive(Debug, Serialize)]
pub(crate) struct UrlRef<'a> {
    pub url: &'a str,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum Part<'a> {
    Text { text: &'a str },
    ImageUrl { image_url: UrlRef<'a>, role: &'static str },
    VideoUrl { video_url: UrlRef<'a>, role: &'static str },
    AudioUrl { audio_url: UrlRef<'a>, role: &'static str },
}

#[derive(Debug, Deserialize)]
struct CreateResp {
    #[serde(default)]
    task_id: Option<serde_json::Value>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: Option<ErrorObj>,
    #[serde(default)]
    request_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorObj {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct QueryResp {
    task: TaskObj,
}

/// A task as query and list describe it.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct TaskObj {
    #[serde(deserialize_with = "id_string")]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub content: Option<ContentObj>,
    #[serde(default)]
    pub resolution: Option<String>,
    #[serde(default)]
    pub duration: Option<u32>,
    #[serde(default)]
    pub usage: Option<UsageObj>,
    #[serde(default)]
    pub ratio: Option<String>,
    #[serde(default)]
    pub error: Option<TaskError>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ContentObj {
    #[serde(default)]
    pub url: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct UsageObj {
    #[serde(default)]
    pub total_seconds: Option<f64>,
    #[serde(default)]
    pub input_seconds: Option<f64>,
    #[serde(default)]
    pub output_seconds: Option<f64>,
    #[serde(default)]
    pub input_image_count: Option<u32>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct TaskError {
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ListResp {
    #[serde(default)]
    items: Vec<TaskObj>,
    #[serde(default)]
    total: Option<u64>,
}

fn id_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom("task id is neither a string nor a number")),
    }
}

/// A resolution as v2 writes it.
pub(crate) fn wire_resolution(r: Resolution) -> &'static str {
    match r {
        Resolution::P1440 => "2K",
        Resolution::P480 => "480P",
        Resolution::P512 => "512P",
        Resolution::P720 => "720P",
        Resolution::P768 => "768P",
        Resolution::P1080 => "1080P",
    }
}

// ---- requests ----

/// The create body for a request; refuses (without sending) what v2 cannot take.
pub(crate) fn create_body(r: &SubmitRequest) -> Result<CreateBody<'_>, ProviderError> {
    let refuse = |m: String| ProviderError::new(P, ErrorClass::Rejected, m);
    if let Some(what) = r.missing_image() {
        return Err(refuse(format!("the {} needs a {what}", r.mode.describe())));
    }
    let Some(text) = r.prompt.as_deref().filter(|t| !t.trim().is_empty()) else {
        return Err(refuse("v2 needs exactly one non-empty text part (the prompt)".into()));
    };
    let mut content = vec![Part::Text { text }];
    fn image<'a>(i: &'a ImageInput, role: &'static str) -> Part<'a> {
        Part::ImageUrl { image_url: UrlRef { url: i.as_str() }, role }
    }
    match r.mode {
        Mode::Text => {}
        Mode::FirstFrame | Mode::FirstLast => {
            content.extend(r.first_frame.iter().map(|i| image(i, "first_frame")));
            if r.mode == Mode::FirstLast {
                content.extend(r.last_frame.iter().map(|i| image(i, "last_frame")));
            }
        }
        Mode::Reference => {
            content.extend(r.references.images.iter().map(|i| image(i, "reference_image")));
            content.extend(
                r.references
                    .videos
                    .iter()
                    .map(|v| Part::VideoUrl { video_url: UrlRef { url: v.as_str() }, role: "reference_video" }),
            );
            content.extend(
                r.references
                    .audio
                    .iter()
                    .map(|a| Part::AudioUrl { audio_url: UrlRef { url: a.as_str() }, role: "reference_audio" }),
            );
        }
        Mode::Subject => return Err(refuse("v2 takes no subject reference; use S2V-01".into())),
        Mode::Template => return Err(refuse("a template is not a v2 video_generation request".into())),
    }
    // Text-to-video needs a fixed ratio; with frames the clip is always adaptive.
    let ratio = match r.mode {
        Mode::FirstFrame | Mode::FirstLast => None,
        _ => r.ratio.map(|r| r.name()),
    };
    if r.mode == Mode::Text && ratio.is_none_or(|r| r == "adaptive") {
        return Err(refuse("text-to-video on v2 needs a ratio other than adaptive".into()));
    }
    Ok(CreateBody {
        model: &r.model_id,
        content,
        resolution: wire_resolution(r.resolution),
        duration: r.duration,
        ratio,
    })
}

fn bearer(e: &Endpoint, b: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    b.bearer_auth(e.key.expose()).timeout(e.timeout)
}

pub(crate) async fn submit(e: &Endpoint, r: &SubmitRequest) -> Result<Accepted, ProviderError> {
    let body = create_body(r)?;
    let post = bearer(e, e.http.post(format!("{}/v2/video_generation", e.base_url))).json(&body);
    let answer = http::exchange(P, Exchange::Submit, post).await?;
    classify_submit(&answer)
}

pub(crate) async fn query(e: &Endpoint, task_id: &str) -> Result<TaskObj, ProviderError> {
    let get = bearer(e, e.http.get(format!("{}/v2/query/video_generation/{task_id}", e.base_url)));
    let answer = http::exchange(P, Exchange::Read, get).await?;
    classify_query(&answer)
}

pub(crate) async fn poll_one(e: &Endpoint, task: &RemoteTask) -> Result<PollOutcome, ProviderError> {
    match query(e, &task.id).await {
        Ok(t) => Ok(outcome(&t)),
        // The task itself is lost (past the 7-day window), not the request: it ends.
        Err(err) if err.class == ErrorClass::Gone => Ok(PollOutcome::Failed(err)),
        Err(err) => Err(err),
    }
}

/// A fresh URL: v2 says to query again for one.
pub(crate) async fn refresh_url(e: &Endpoint, task: &RemoteTask) -> Result<Option<String>, ProviderError> {
    let t = query(e, &task.id).await?;
    Ok(t.content.and_then(|c| c.url).filter(|u| http::is_http_url(u)))
}

/// One page of the account's tasks for `model` (the last 7 days).
async fn list_page(e: &Endpoint, model: &str, page: u32) -> Result<ListResp, ProviderError> {
    let url = format!("{}/v2/query/video_generation", e.base_url);
    let q = [("page_num", page.to_string()), ("page_size", PAGE_SIZE.to_string()), ("filter.model", model.to_owned())];
    let answer = http::exchange(P, Exchange::Read, bearer(e, e.http.get(url).query(&q))).await?;
    if !(200..300).contains(&answer.status) {
        return Err(http_error(&answer, read_class(&answer)));
    }
    serde_json::from_slice(&answer.body)
        .map_err(|err| error_at(&answer, ErrorClass::Transient, format!("a list answer that does not parse: {err}")))
}

/// Looks the lost submit up among the account's listed tasks.
pub(crate) async fn find_submitted(
    e: &Endpoint,
    r: &SubmitRequest,
    window: &Window,
) -> Result<Reconciled, ProviderError> {
    let mut listed = Vec::new();
    for page in 1..=MAX_LIST_PAGES {
        let resp = list_page(e, &r.model_id, page).await?;
        let n = resp.items.len();
        listed.extend(resp.items.into_iter().map(|t| Listed {
            cancelled: t.status.eq_ignore_ascii_case("cancelled"),
            resolution: t.resolution.as_deref().and_then(Resolution::parse),
            id: t.id,
            model: t.model,
            duration: t.duration,
            ratio: t.ratio,
            prompt: None,
            created_at: t.created_at.unwrap_or_default(),
        }));
        // Newest first: a page that reaches before the window ends the search.
        let before_window = listed.last().is_some_and(|t| t.created_at < window.from - window.slack_secs);
        if n < PAGE_SIZE as usize || resp.total.is_some_and(|t| listed.len() as u64 >= t) || before_window {
            break;
        }
    }
    let sent = Sent {
        model: &r.model_id,
        duration: r.duration,
        resolution: r.resolution,
        ratio: create_body(r).ok().and_then(|b| b.ratio),
        prompt: r.prompt.as_deref(),
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    Ok(reconcile::reconcile(&sent, window, &listed, now))
}

// ---- answers ----

/// `(code)` at the end of a v2 error message.
fn trailing_code(message: &str) -> Option<String> {
    let inner = message.trim_end().strip_suffix(')')?;
    let (_, code) = inner.rsplit_once('(')?;
    code.chars().all(|c| c.is_ascii_digit()).then(|| code.to_owned()).filter(|c| !c.is_empty())
}

fn error_at(a: &Answer, class: ErrorClass, message: String) -> ProviderError {
    let trace = a.headers.get("trace-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    ProviderError::new(P, class, message).status(a.status).trace(trace)
}

/// An error answer: its typed body's message and code, the request id for support.
fn http_error(a: &Answer, class: ErrorClass) -> ProviderError {
    let body: ErrorBody = serde_json::from_slice(&a.body).unwrap_or_default();
    let err = body.error.unwrap_or_default();
    let message = err.message.clone().unwrap_or_else(|| a.text());
    let kind = err.kind.map(|k| format!("{k}: ")).unwrap_or_default();
    let class = match class {
        ErrorClass::RateLimited { retry_after: None } => {
            let wait = http::retry_after(&a.headers).or((a.status == 529).then_some(OVERLOADED_WAIT));
            ErrorClass::RateLimited { retry_after: wait }
        }
        other => other,
    };
    let mut e = error_at(a, class, format!("HTTP {}: {kind}{message}", a.status));
    if e.trace_id.is_none() {
        e.trace_id = body.request_id;
    }
    let code = trailing_code(&message).unwrap_or_else(|| a.status.to_string());
    e.code(code)
}

/// What a status means on a submit (documented: 400/2013, 401/1004, 402/1008,
/// 422/1026, 429/1002, 500/1000, 529).
fn submit_class(status: u16) -> ErrorClass {
    match status {
        400 | 404 | 413 => ErrorClass::Rejected,
        401 | 403 => ErrorClass::Auth,
        402 => ErrorClass::Billing,
        422 => ErrorClass::ContentBlocked,
        // Refused before any work: proves nothing was accepted; wait, then again.
        429 | 529 => ErrorClass::RateLimited { retry_after: None },
        // 408 and any other 5xx: undocumented whether the task was created.
        _ => ErrorClass::InDoubt,
    }
}

fn read_class(a: &Answer) -> ErrorClass {
    match a.status {
        401 | 403 => ErrorClass::Auth,
        402 => ErrorClass::Billing,
        429 | 529 => ErrorClass::RateLimited { retry_after: None },
        _ => ErrorClass::Transient,
    }
}

pub(crate) fn classify_submit(a: &Answer) -> Result<Accepted, ProviderError> {
    if !(200..300).contains(&a.status) {
        return Err(http_error(a, submit_class(a.status)));
    }
    let id = serde_json::from_slice::<CreateResp>(&a.body).ok().and_then(|r| match r.task_id? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    match id {
        Some(id) => Ok(Accepted {
            task: RemoteTask { id, status_url: None, response_url: None, api: Api::V2, kind: Default::default() },
            replayed: false,
        }),
        None => Err(error_at(a, ErrorClass::InDoubt, format!("a 2xx answer without a task_id: {}", a.text()))),
    }
}

pub(crate) fn classify_query(a: &Answer) -> Result<TaskObj, ProviderError> {
    if a.status == 400 || a.status == 404 {
        // "Beyond that window the task_id returns invalid task_id" (the 7-day window).
        let e = http_error(a, ErrorClass::Gone);
        let message = format!(
            "MiniMax no longer knows this task: v2 tasks can be queried for {} days only, so its result cannot be \
             collected any more ({})",
            h3::QUERY_WINDOW_SECS / 86_400,
            e.message
        );
        return Err(ProviderError { message, ..e });
    }
    if !(200..300).contains(&a.status) {
        return Err(http_error(a, read_class(a)));
    }
    serde_json::from_slice::<QueryResp>(&a.body)
        .map(|r| r.task)
        .map_err(|err| error_at(a, ErrorClass::Transient, format!("a query answer that does not parse: {err}")))
}

/// What a task's state means for the runner.
pub(crate) fn outcome(t: &TaskObj) -> PollOutcome {
    match t.status.to_ascii_lowercase().as_str() {
        "succeeded" => {
            let Some(url) = t.content.as_ref().and_then(|c| c.url.clone()) else {
                return PollOutcome::Failed(ProviderError::new(P, ErrorClass::Failed, "succeeded without a video URL"));
            };
            let video_url = match http::video_url(P, &url) {
                Ok(u) => u,
                Err(e) => return PollOutcome::Failed(e),
            };
            let usage = t.usage.clone().unwrap_or_default();
            let output = usage
                .output_seconds
                .or_else(|| Some(usage.total_seconds? - usage.input_seconds.unwrap_or(0.0)))
                .or(t.duration.map(f64::from));
            let priced = h3::Usage {
                output_seconds: output.unwrap_or(0.0),
                input_video_seconds: usage.input_seconds.unwrap_or(0.0),
                input_image_count: usage.input_image_count.unwrap_or(0),
            };
            let model = catalog::MODELS.iter().find(|m| m.provider == P && m.id == t.model);
            let resolution = t.resolution.as_deref().and_then(Resolution::parse);
            let list_cost_usd = match (model, resolution, output) {
                (Some(m), Some(r), Some(_)) => h3::usage_cost(m, r, &priced),
                _ => None,
            };
            PollOutcome::Done {
                clips: vec![Clip {
                    video_url,
                    remote_id: t.id.clone(),
                    seed: None,
                    cost_usd: None,
                    width: None,
                    height: None,
                    usage_secs: usage.total_seconds.or(output),
                    list_cost_usd,
                    nsfw: None,
                }],
            }
        }
        "failed" => {
            let err = t.error.clone();
            let code = err.as_ref().and_then(|e| e.code.as_ref()).map(|c| c.to_string().trim_matches('"').to_owned());
            let message = err.and_then(|e| e.message).unwrap_or_else(|| "the task failed".into());
            let class = match code.as_deref() {
                Some("1026" | "1027") => ErrorClass::ContentBlocked,
                _ => ErrorClass::Failed,
            };
            let e = ProviderError::new(P, class, message);
            PollOutcome::Failed(match code {
                Some(c) => e.code(c),
                None => e,
            })
        }
        "cancelled" => PollOutcome::Failed(ProviderError::new(P, ErrorClass::Failed, "the task was cancelled")),
        _ => PollOutcome::Pending { progress: None, clips: Vec::new() }, // queued, running, or unknown
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::testkit::answer;

    #[test]
    fn statuses_map_onto_the_taxonomy() {
        let class = |status, body: &str| classify_submit(&answer(status, body)).unwrap_err().class;
        let body = |t: &str, m: &str| {
            format!(r#"{{"type":"error","error":{{"type":"{t}","message":"{m}"}},"request_id":"r1"}}"#)
        };
        assert_eq!(class(400, &body("bad_request_error", "invalid params (2013)")), ErrorClass::Rejected);
        assert_eq!(class(401, &body("authentication_error", "no (1004)")), ErrorClass::Auth);
        assert_eq!(class(402, &body("insufficient_balance_error", "balance (1008)")), ErrorClass::Billing);
        assert_eq!(class(422, &body("sensitive", "input new_sensitive (1026)")), ErrorClass::ContentBlocked);
        assert!(matches!(class(429, &body("rate_limit_error", "rate (1002)")), ErrorClass::RateLimited { .. }));
        assert_eq!(
            class(529, &body("overloaded_error", "busy")),
            ErrorClass::RateLimited { retry_after: Some(OVERLOADED_WAIT) }
        );
        assert_eq!(class(500, &body("api_error", "unknown (1000)")), ErrorClass::InDoubt);
        let e = classify_submit(&answer(402, &body("insufficient_balance_error", "balance (1008)"))).unwrap_err();
        assert_eq!(e.code.as_deref(), Some("1008"));
        assert_eq!(e.trace_id.as_deref(), Some("r1"));
        assert_eq!(classify_submit(&answer(200, r#"{"task_id":"77"}"#)).unwrap().task.api, Api::V2);
        assert_eq!(classify_submit(&answer(200, "{}")).unwrap_err().class, ErrorClass::InDoubt);
    }

    #[test]
    fn a_task_past_the_7_day_window_is_gone_and_says_why() {
        let a =
            answer(400, r#"{"type":"error","error":{"type":"bad_request_error","message":"invalid task_id (2013)"}}"#);
        let e = classify_query(&a).unwrap_err();
        assert_eq!(e.class, ErrorClass::Gone);
        assert!(e.message.contains("7 days"), "{}", e.message);
    }

    #[test]
    fn a_succeeded_task_is_priced_from_its_usage() {
        let t: TaskObj = serde_json::from_str(
            r#"{"id":"5","model":"MiniMax-H3","status":"succeeded","content":{"url":"https://x/v.mp4"},
                "resolution":"2K","duration":6,"usage":{"total_seconds":6,"output_seconds":6,"input_image_count":0}}"#,
        )
        .unwrap();
        let PollOutcome::Done { clips } = outcome(&t) else { panic!() };
        assert_eq!(clips[0].list_cost_usd, Some(0.78));
        assert_eq!(clips[0].cost_usd, None);
        let failed: TaskObj =
            serde_json::from_str(r#"{"id":"6","status":"failed","error":{"code":1027,"message":"output sensitive"}}"#)
                .unwrap();
        assert!(matches!(outcome(&failed), PollOutcome::Failed(e) if e.class == ErrorClass::ContentBlocked));
        let queued: TaskObj = serde_json::from_str(r#"{"id":7,"status":"queued"}"#).unwrap();
        assert!(matches!(outcome(&queued), PollOutcome::Pending { .. }));
    }

    #[test]
    fn the_body_has_one_text_part_and_roles_for_frames_and_references() {
        let mut r = crate::provider::testkit::request("MiniMax-H3");
        assert!(create_body(&r).is_err(), "text-to-video without a ratio");
        r.ratio = Some(crate::catalog::Ratio::R9x16);
        let v = serde_json::to_value(create_body(&r).unwrap()).unwrap();
        assert_eq!(v["content"][0], serde_json::json!({"type": "text", "text": r.prompt.clone().unwrap()}));
        assert_eq!((v["ratio"].as_str(), v["resolution"].as_str()), (Some("9:16"), Some("768P")));
        r.mode = Mode::Reference;
        r.references.images = vec![ImageInput::Url("https://x/a.png".into())];
        r.references.audio = vec![ImageInput::Url("https://x/a.wav".into())];
        let v = serde_json::to_value(create_body(&r).unwrap()).unwrap();
        assert_eq!(v["content"][1]["role"], "reference_image");
        assert_eq!(
            v["content"][2],
            serde_json::json!({"type": "audio_url", "audio_url": {"url": "https://x/a.wav"}, "role": "reference_audio"})
        );
    }
}
