//! Runware in the simulator: `POST /v1` with a JSON array of tasks —
//! `videoInference` (async, acknowledged at once) and `getResponse` (cumulative
//! snapshots) — answered as the reference documents, `conflictTaskUUID` included.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::config::{ErrorShape, UnknownTask};
use super::ledger::SeenOptions;
use super::reply;
use super::state::{Fault, Outcome, Sim, Task, digest};
use crate::catalog::output::OutputFormat;
use crate::catalog::{self, Mode, Provider, Resolution};

const P: Provider = Provider::Runware;
const DOCS: &str = "https://runware.ai/docs/en/video-inference/api-reference";

/// A task-level error: HTTP status and the error object.
type TaskError = (u16, Value);

pub async fn handle(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let tasks = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Array(a)) => a,
        Ok(obj @ Value::Object(_)) => vec![obj],
        _ => {
            return envelope(
                400,
                vec![],
                vec![
                    json!({"code": "invalidPayload", "message": "The request body must be a JSON array of task objects."}),
                ],
            );
        }
    };
    let mut key = super::minimax::bearer(&headers);
    let mut work = Vec::new();
    for t in tasks {
        if t["taskType"] == "authentication" {
            key = t["apiKey"].as_str().map(str::to_owned);
        } else {
            work.push(t);
        }
    }
    if !sim.key_ok(P, key.as_deref()) {
        sim.count(P, |s| s.auth_refused += 1);
        let code = if key.is_none() { "missingApiKey" } else { "invalidApiKey" };
        let e = json!({"code": code, "message": "Invalid API key. Get one at https://my.runware.ai/signup", "parameter": "apiKey", "taskType": "authentication"});
        return envelope(401, vec![], vec![e]);
    }
    let submit_uuid = work.iter().find(|t| t["taskType"] == "videoInference").map(|t| t["taskUUID"].to_string());
    let identity = match &submit_uuid {
        Some(uuid) => format!("rw-submit:{uuid}"),
        None => format!("rw-poll:{}", work.iter().map(|t| t["taskUUID"].to_string()).collect::<Vec<_>>().join(",")),
    };
    sim.count(P, |s| if submit_uuid.is_some() { s.submits += 1 } else { s.polls += 1 });
    let fault = sim.fault(P, &identity);
    match fault {
        Fault::ResetBefore => return reply::dropped(),
        Fault::Http5xx => {
            let e = json!({"code": "serviceUnavailable", "message": "Temporary capacity constraint."});
            return envelope(503, vec![], vec![e]);
        }
        _ => {}
    }
    let wait = if submit_uuid.is_some() {
        sim.over_rate(P, false).or_else(|| sim.over_concurrency(P).then(|| std::time::Duration::from_secs(2)))
    } else {
        sim.over_rate(P, true)
    };
    if let Some(wait) = wait {
        sim.count(P, |s| s.rate_limited += 1);
        let e =
            json!({"code": "rateLimitExceeded", "message": "Queue capacity exceeded. Retry with exponential backoff."});
        let mut r = envelope(429, vec![], vec![e]);
        if sim.cfg.retry_after {
            // HTTP wants whole seconds; a time-scaled simulator says the fraction.
            let secs = if sim.cfg.time_scale < 1.0 {
                format!("{:.3}", wait.as_secs_f64())
            } else {
                wait.as_secs_f64().ceil().max(1.0).to_string()
            };
            r.headers_mut().insert("retry-after", secs.parse().expect("digits"));
        }
        return r;
    }

    let (mut data, mut errors, mut status) = (Vec::new(), Vec::new(), 200u16);
    for t in &work {
        match t["taskType"].as_str() {
            Some("videoInference") => match submit(&sim, t, &body) {
                Ok(ack) => data.push(ack),
                Err((s, e)) => {
                    status = if status == 200 { s } else { status };
                    errors.push(e);
                }
            },
            Some("getResponse") => poll(&sim, t, &mut data, &mut errors),
            other => {
                status = 400;
                errors.push(json!({"code": "unsupportedTaskType", "message": format!("Unsupported task type {other:?}."), "taskUUID": t["taskUUID"]}));
            }
        }
    }
    match fault {
        Fault::NoAnswer => reply::hold(sim.cfg.hang_secs).await,
        Fault::ResetAfter => return reply::dropped(),
        Fault::MalformedJson => return reply::malformed(),
        _ => {}
    }
    envelope(status, data, errors)
}

/// `{"data": [...], "errors": [...]}` with each key only when it has items (the
/// official SDK raises on an `errors` key even when it is empty).
fn envelope(status: u16, data: Vec<Value>, errors: Vec<Value>) -> Response {
    let mut body = serde_json::Map::new();
    if !data.is_empty() || errors.is_empty() {
        body.insert("data".into(), Value::Array(data));
    }
    if !errors.is_empty() {
        body.insert("errors".into(), Value::Array(errors));
    }
    reply::json(status, Value::Object(body), &[])
}

fn error(status: u16, uuid: &Value, code: &str, message: impl Into<String>) -> TaskError {
    let e = json!({"code": code, "message": message.into(), "taskType": "videoInference", "taskUUID": uuid, "documentation": DOCS});
    (status, e)
}

fn submit(sim: &Sim, t: &Value, body: &[u8]) -> Result<Value, TaskError> {
    let uuid_v = &t["taskUUID"];
    let uuid = uuid_v
        .as_str()
        .filter(|u| uuid::Uuid::parse_str(u).is_ok())
        .ok_or_else(|| error(400, uuid_v, "invalidTaskUUID", "taskUUID must be a UUID v4 string."))?;
    if sim.used(P, uuid) {
        let mut e = error(400, uuid_v, "conflictTaskUUID", format!("Task UUID {uuid} has already been used."));
        e.1["context"] = json!({"taskType": "videoInference", "taskUUID": uuid, "deliveryMethod": "async"});
        return Err(e);
    }
    if sim.out_of_credits(P) {
        return Err(error(402, uuid_v, "insufficientCredits", "Insufficient credits. Add funds to your account."));
    }
    let (model, resolution, duration, n) = validate(t)?;
    let (format, seen) = validate_options(t)?;
    let prompt = t["positivePrompt"].as_str().unwrap_or("");
    let blocked = sim.draw(&["block_in", uuid]) < sim.cfg.faults(P).content_blocked_input;
    if blocked || (!sim.cfg.blocked_word.is_empty() && prompt.contains(&sim.cfg.blocked_word)) {
        return Err(error(400, uuid_v, "contentPolicyViolation", "The prompt was flagged by the content policy."));
    }
    let include_cost = t["includeCost"].as_bool().unwrap_or(false);
    // Where no price is published the simulator charges its own (rounded to the cent).
    let unit = model.price(resolution, duration).unwrap_or((7.0 * f64::from(duration)).round() / 100.0);
    let size = resolution.runware_size();
    sim.accept(P, uuid, uuid, model.id, n, size, Some(unit), include_cost, digest(body));
    // The safety check flags a prompt holding the scenario's `nsfw_word`; without a check no verdict is given.
    let nsfw = seen.safety_mode.as_ref().map(|_| !sim.cfg.nsfw_word.is_empty() && prompt.contains(&sim.cfg.nsfw_word));
    sim.set_delivery(P, uuid, format, nsfw, seen);
    Ok(json!({"taskType": "videoInference", "taskUUID": uuid}))
}

/// The MiniMax model pages' rules: model, dimensions, duration, fps, results, prompt, frames.
fn validate(t: &Value) -> Result<(&'static catalog::Model, Resolution, u32, u32), TaskError> {
    let uuid = &t["taskUUID"];
    let model_id = t["model"].as_str().unwrap_or_default();
    let model = catalog::MODELS.iter().find(|m| m.provider == P && m.id == model_id).ok_or_else(|| {
        error(400, uuid, "invalidModel", format!("Model {model_id:?} does not exist or is not available."))
    })?;
    if t.get("deliveryMethod").is_some_and(|d| d != "async") {
        return Err(error(400, uuid, "unsupportedParameter", "deliveryMethod must be async for video models."));
    }
    let frames = t["inputs"]["frameImages"].as_array().or_else(|| t["frameImages"].as_array());
    let frame_count = frames.map_or(0, Vec::len);
    let has_last =
        frames.is_some_and(|f| f.iter().any(|i| i["frame"] == "last" || i["frame"] == -1)) || frame_count >= 2;
    let mode = match (frame_count, has_last) {
        (0, _) => Mode::Text,
        (1, false) => Mode::FirstFrame,
        (2, true) => Mode::FirstLast,
        _ => {
            return Err(error(
                400,
                uuid,
                "invalidFrameImages",
                "frameImages takes a first frame and optionally a last frame.",
            ));
        }
    };
    let references = t["inputs"]["referenceImages"].as_array().map_or(0, Vec::len);
    let mode = match (references, mode) {
        (0, mode) => mode,
        (_, Mode::Text) if references as u32 <= model.h3.map_or(0, |s| s.references.images) => Mode::Reference,
        (_, Mode::Text) => {
            return Err(error(400, uuid, "invalidReferenceImages", "Too many reference images for this model."));
        }
        _ => {
            return Err(error(
                400,
                uuid,
                "incompatibleParameters",
                "MiniMax H3 does not allow frameImages and referenceImages in the same request.",
            ));
        }
    };
    if !model.supports(mode) {
        return Err(error(
            400,
            uuid,
            "unsupportedWorkflow",
            format!("{model_id} does not support {}.", mode.describe()),
        ));
    }
    let prompt = t.get("positivePrompt");
    match prompt.and_then(Value::as_str) {
        None if prompt.is_some() => {
            return Err(error(400, uuid, "invalidPositivePrompt", "positivePrompt must be a string."));
        }
        None if mode == Mode::Text => {
            return Err(error(400, uuid, "missingPositivePrompt", "positivePrompt is required for text-to-video."));
        }
        Some(p) if !(2..=model.h3.map_or(2000, |s| s.prompt_max)).contains(&p.chars().count()) => {
            return Err(error(
                400,
                uuid,
                "invalidPositivePromptLength",
                "positivePrompt is too short or too long for this model.",
            ));
        }
        _ => {}
    }
    let (w, h) = (t["width"].as_u64(), t["height"].as_u64());
    let h3_resolution = model.h3.map(|_| {
        let named = t["resolution"].as_str().and_then(Resolution::parse).unwrap_or(model.default_resolution);
        let sized = |(w, h): (u64, u64)| {
            catalog::Ratio::ALL.iter().any(|r| r.runware_size(named) == Some((w as u32, h as u32)))
        };
        match (w, h) {
            (Some(w), Some(h)) if !sized((w, h)) => {
                Err(error(400, uuid, "unsupportedDimensions", "This width and height are not supported by the model."))
            }
            _ if !model.resolutions(mode).contains(&named) => {
                Err(error(400, uuid, "unsupportedResolution", "This resolution is not supported by the model."))
            }
            _ => Ok(named),
        }
    });
    let resolution = match (w, h) {
        _ if h3_resolution.is_some() => h3_resolution.expect("some")?,
        (None, None) => model.default_resolution,
        (Some(w), Some(h)) => {
            model.resolutions(mode).into_iter().find(|r| r.runware_size() == (w as u32, h as u32)).ok_or_else(|| {
                let allowed: Vec<String> = model
                    .resolutions(mode)
                    .iter()
                    .map(|r| format!("{}x{}", r.runware_size().0, r.runware_size().1))
                    .collect();
                let mut e =
                    error(400, uuid, "unsupportedDimensions", "This width and height are not supported by the model.");
                e.1["parameter"] = json!(["width", "height"]);
                e.1["allowedValues"] = json!(allowed);
                e
            })?
        }
        _ => return Err(error(400, uuid, "incompatibleParameters", "width and height must be used together.")),
    };
    let duration = t["duration"].as_f64().unwrap_or(f64::from(model.default_duration));
    let allowed = model.durations(resolution, mode);
    if duration.fract() != 0.0 || !allowed.contains(&(duration as u32)) {
        let mut e = error(
            400,
            uuid,
            "unsupportedDuration",
            "Invalid value for duration parameter. This duration is not supported by the model architecture.",
        );
        e.1["parameter"] = json!("duration");
        e.1["type"] = json!("float");
        e.1["allowedValues"] = json!(allowed);
        return Err(e);
    }
    if t.get("fps").is_some_and(|f| f.as_u64() != Some(u64::from(model.fps))) {
        let mut e = error(400, uuid, "unsupportedFPS", "This fps is not supported by the model.");
        e.1["allowedValues"] = json!([model.fps]);
        return Err(e);
    }
    let n = t["numberResults"].as_u64().unwrap_or(1);
    if !(1..=u64::from(model.max_results)).contains(&n) {
        return Err(error(
            400,
            uuid,
            "invalidNumberResults",
            format!("numberResults must be 1 to {}.", model.max_results),
        ));
    }
    Ok((model, resolution, duration as u32, n as u32))
}

/// The platform options of the seed pages: `outputFormat` MP4 | WEBM | MOV,
/// `outputQuality` 20..99, `safety {checkContent, mode: none | fast | full}`, `ttl` >= 60.
fn validate_options(t: &Value) -> Result<(OutputFormat, SeenOptions), TaskError> {
    let uuid = &t["taskUUID"];
    let mut seen = SeenOptions::default();
    let format = match t.get("outputFormat") {
        None => OutputFormat::Mp4,
        Some(f) => {
            let text = f.as_str().unwrap_or_default();
            seen.output_format = Some(text.to_owned());
            // Runware spells them upper-case.
            OutputFormat::ALL.into_iter().find(|o| o.wire() == text).ok_or_else(|| {
                let mut e = error(400, uuid, "invalidOutputFormat", "Invalid value for outputFormat parameter.");
                e.1["parameter"] = json!("outputFormat");
                e.1["allowedValues"] = json!(["MP4", "WEBM", "MOV"]);
                e
            })?
        }
    };
    if let Some(q) = t.get("outputQuality") {
        match q.as_u64().filter(|q| (20..=99).contains(q)) {
            Some(q) => seen.output_quality = Some(q),
            None => {
                return Err(error(
                    400,
                    uuid,
                    "invalidOutputQuality",
                    "outputQuality must be an integer from 20 to 99.",
                ));
            }
        }
    }
    if let Some(s) = t.get("safety") {
        let check = s.get("checkContent").map(|c| c.as_bool().ok_or(()));
        let mode = s.get("mode").map(|m| m.as_str().filter(|m| ["none", "fast", "full"].contains(m)).ok_or(()));
        let (Ok(check), Ok(mode)) = (check.transpose(), mode.transpose()) else {
            return Err(error(
                400,
                uuid,
                "invalidSafety",
                "safety takes checkContent (boolean) and mode (none, fast or full).",
            ));
        };
        if check == Some(true) {
            seen.safety_mode = Some(mode.unwrap_or("fast").to_owned());
        }
    }
    if let Some(ttl) = t.get("ttl") {
        match ttl.as_u64().filter(|s| *s >= 60) {
            Some(s) => seen.ttl_secs = Some(s),
            None => return Err(error(400, uuid, "invalidTtl", "ttl must be an integer of at least 60 seconds.")),
        }
    }
    Ok((format, seen))
}

fn poll(sim: &Sim, t: &Value, data: &mut Vec<Value>, errors: &mut Vec<Value>) {
    let uuid = t["taskUUID"].as_str().unwrap_or_default();
    let Some(task) = sim.task(P, uuid) else {
        if sim.cfg.runware_unknown_task == UnknownTask::NotFound {
            errors.push(json!({"code": "taskNotFound", "status": "error", "message": "Task not found or expired.", "taskUUID": uuid}));
        }
        return;
    };
    let now = Instant::now();
    for (i, r) in task.results.iter().enumerate() {
        if r.ready_at > now {
            let progress = (task.progress(now) * 100.0).floor().min(99.0) as u64;
            data.push(
                json!({"taskType": "videoInference", "taskUUID": uuid, "status": "processing", "progress": progress}),
            );
            continue;
        }
        match r.outcome {
            Outcome::Success => data.push(success(sim, &task, i)),
            Outcome::ProviderFailure | Outcome::OutputBlocked | Outcome::InputBlocked => {
                let (code, message) = if r.outcome != Outcome::ProviderFailure {
                    ("providerContentPolicyViolation", "The provider blocked the generated video for its content.")
                } else {
                    (
                        "timeoutProvider",
                        "The external provider did not respond within the timeout window. The request was automatically terminated.",
                    )
                };
                let nested = match sim.cfg.runware_error_shape {
                    ErrorShape::Top => false,
                    ErrorShape::Nested => true,
                    ErrorShape::Mixed => sim.draw(&["shape", uuid, &i.to_string()]) < 0.5,
                };
                if nested {
                    data.push(json!({"taskType": "videoInference", "taskUUID": uuid, "status": "error", "error": {"code": code, "message": message}}));
                } else {
                    errors.push(json!({"code": code, "status": "error", "message": message, "documentation": DOCS, "taskUUID": uuid}));
                }
            }
        }
    }
}

/// A result URL: it lives as long as the submit's `ttl` asked, else the scenario's
/// default lifetime (Runware documents none).
fn runware_url(sim: &Sim, task: &Task, clip_id: &str) -> String {
    match task.url_ttl_secs {
        Some(secs) => sim.signed_url_for(clip_id, task.format, secs),
        None => sim.signed_url(clip_id, task.format),
    }
}

fn success(sim: &Sim, task: &Task, i: usize) -> Value {
    let r = &task.results[i];
    let mut item = json!({
        "taskType": "videoInference",
        "taskUUID": task.id,
        "status": "success",
        "videoUUID": r.clip_id,
        "videoURL": runware_url(sim, task, &r.clip_id),
        "seed": r.seed,
    });
    if let Some(nsfw) = task.nsfw {
        item["NSFWContent"] = json!(nsfw);
    }
    if task.reports_cost {
        item["cost"] = json!(task.unit_cost);
    }
    item
}
