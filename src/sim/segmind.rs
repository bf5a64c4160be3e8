//! Segmind async v2 in the simulator: submit returns absolute `status_url` and
//! `response_url`; QUEUED → PROCESSING → COMPLETED, FAILED served as HTTP 422 with
//! its body; records expire (404) after the retention time; 429 carries
//! `x-rate-limit-reset-at-utc`, not Retry-After.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::reply;
use super::state::{Fault, Outcome, Sim, Task, digest, uuid_from};
use crate::catalog::output::OutputFormat;
use crate::catalog::{self, Mode, Provider, Resolution};

const P: Provider = Provider::Segmind;

fn error(status: u16, message: &str) -> Response {
    reply::json(status, json!({"error": message}), &[])
}

fn auth(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok());
    if key.is_none() {
        sim.count(P, |s| s.auth_refused += 1);
        return Err(error(401, "Missing Authorization or x-api-key in header"));
    }
    if !sim.key_ok(P, key) {
        sim.count(P, |s| s.auth_refused += 1);
        return Err(error(401, "Invalid API key"));
    }
    Ok(())
}

fn rate_limited(sim: &Sim, wait: std::time::Duration) -> Response {
    sim.count(P, |s| s.rate_limited += 1);
    let reset = jiff::Timestamp::now() + jiff::SignedDuration::try_from(wait).unwrap_or_default();
    reply::json(429, json!({"error": "rate_limit_exceeded"}), &[("x-rate-limit-reset-at-utc", reset.to_string())])
}

pub async fn submit(
    State(sim): State<Arc<Sim>>,
    Path(slug): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(r) = auth(&sim, &headers) {
        return r;
    }
    let json_body = headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|c| c.contains("json"));
    if !json_body {
        return error(406, "Invalid content type");
    }
    let Some(model) = catalog::MODELS.iter().find(|m| m.provider == P && m.id == slug) else {
        return error(404, "Model not found");
    };
    sim.count(P, |s| s.submits += 1);
    let identity = format!("sg-submit:{}", digest(&body));
    let fault = sim.fault(P, &identity);
    match fault {
        Fault::ResetBefore => return reply::dropped(),
        Fault::Http5xx => return error(502, "Bad Gateway"),
        _ => {}
    }
    if let Some(wait) = sim.over_rate(P, false) {
        return rate_limited(&sim, wait);
    }
    if sim.over_concurrency(P) {
        return rate_limited(&sim, std::time::Duration::from_secs(2));
    }
    let price = model.price(Resolution::P768, 6).or(model.prices.first().map(|p| p.usd)).unwrap_or(0.5);
    if sim.out_of_credits(P) {
        return error(406, &format!("Insufficient credits. Balance 0.12, required {price}"));
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(400, "Invalid JSON body");
    };
    let (resolution, duration) = match validate(model, &req) {
        Ok(v) => v,
        Err(msg) => return error(400, &msg),
    };
    let nth = sim.attempt(&format!("accept:{identity}")).to_string();
    let request_id = uuid_from(&format!("{}:{identity}:{nth}", sim.cfg.seed)).to_string();
    let unit = model.price(resolution, duration).unwrap_or(price);
    let task = sim.accept(
        P,
        &request_id,
        &format!("{identity}:{nth}"),
        model.id,
        1,
        (1366, 768),
        Some(unit),
        true,
        digest(&body),
    );
    let prompt = req["prompt"].as_str().unwrap_or_default();
    let blocked = sim.draw(&["block_in", &identity, &nth]) < sim.cfg.faults(P).content_blocked_input;
    if blocked || (!sim.cfg.blocked_word.is_empty() && prompt.contains(&sim.cfg.blocked_word)) {
        // Segmind reports input moderation as a FAILED job, not a refused submit.
        sim.set_outcome(P, &task.id, Outcome::InputBlocked);
    }
    let base = format!("{}/v2/requests/{request_id}", sim.base_url);
    let ok = reply::json(
        200,
        json!({
            "request_id": request_id,
            "status": "QUEUED",
            "poll_url": format!("{}/v1/requests/{request_id}", sim.base_url),
            "status_url": format!("{base}/status"),
            "response_url": base,
        }),
        &[],
    );
    reply::late_fault(&sim, fault, ok).await
}

/// The model pages' parameters for the MiniMax slugs.
fn validate(model: &catalog::Model, req: &Value) -> Result<(Resolution, u32), String> {
    if !req["prompt"].is_string() {
        return Err("Prompt is Mandatory and must be string".into());
    }
    let first_key = if model.id == "minimax-hailuo-2" { "image_url" } else { "first_frame_image" };
    let url = |k: &str| req.get(k).filter(|v| !v.is_null());
    for k in [first_key, "last_frame_image", "subject_reference"] {
        if let Some(v) = url(k) {
            let s = v.as_str().unwrap_or_default();
            if !(s.starts_with("https://") || s.starts_with("http://") || s.starts_with("data:image/")) {
                return Err(format!("{k} must be a uri"));
            }
        }
    }
    let mode = match (url(first_key).is_some(), url("last_frame_image").is_some(), url("subject_reference").is_some()) {
        (false, false, true) => Mode::Subject,
        (true, true, false) => Mode::FirstLast,
        (true, false, false) => Mode::FirstFrame,
        (false, false, false) => Mode::Text,
        _ => return Err("Unsupported combination of image inputs".into()),
    };
    if !model.supports(mode) {
        return Err(match mode {
            Mode::Text => format!("{first_key} is required"),
            _ => format!("{} is not supported by {}", mode.describe(), model.id),
        });
    }
    let resolution = match (model.id, req.get("resolution"), req.get("mode")) {
        (_, Some(r), _) => {
            let text = r.as_str().unwrap_or_default();
            Resolution::parse(text).filter(|_| text.ends_with('p')).ok_or(format!("resolution {r} is not allowed"))?
        }
        ("minimax-hailuo-2", None, Some(m)) if m == "pro" => Resolution::P1080,
        _ => model.default_resolution,
    };
    let duration = match req.get("duration") {
        Some(d) => d.as_u64().ok_or("duration must be an integer")? as u32,
        None => model.default_duration,
    };
    if !model.durations(resolution, mode).contains(&duration) {
        return Err(format!("duration {duration} is not allowed at {resolution}"));
    }
    Ok((resolution, duration))
}

/// The task, or a 404 once its record expired.
fn live_task(sim: &Sim, id: &str) -> Result<Task, Response> {
    let task = sim.task(P, id).filter(|t| t.created.elapsed() < sim.scaled(sim.cfg.segmind_retention_secs));
    task.ok_or_else(|| error(404, &format!("Request {id} not found")))
}

async fn read(sim: Arc<Sim>, id: String, headers: HeaderMap, full: bool) -> Response {
    if let Err(r) = auth(&sim, &headers) {
        return r;
    }
    sim.count(P, |s| s.polls += 1);
    let fault = sim.fault(P, &format!("sg-read:{id}:{full}"));
    match fault {
        Fault::ResetBefore => return reply::dropped(),
        Fault::Http5xx => return error(502, "Bad Gateway"),
        _ => {}
    }
    if let Some(wait) = sim.over_rate(P, true) {
        return rate_limited(&sim, wait);
    }
    let task = match live_task(&sim, &id) {
        Ok(t) => t,
        Err(r) => return r,
    };
    let now = Instant::now();
    let r = &task.results[0];
    let elapsed = task.created.elapsed().as_secs_f64() / sim.cfg.time_scale;
    let answer = if r.ready_at > now {
        let status = if task.progress(now) < 0.2 { "QUEUED" } else { "PROCESSING" };
        let base = format!("{}/v2/requests/{id}", sim.base_url);
        reply::json(
            200,
            json!({"status": status, "request_id": id, "status_url": format!("{base}/status"), "response_url": base, "metrics": {}}),
            &[],
        )
    } else if r.outcome == Outcome::Success {
        if full {
            let url = sim.signed_url(&r.clip_id, OutputFormat::Mp4);
            let size = super::files::clip_len(&sim, &r.clip_id, OutputFormat::Mp4);
            reply::json(
                200,
                json!({
                    "status": "COMPLETED",
                    "request_id": id,
                    "error": null,
                    "output": url,
                    "video": {"url": url, "content_type": "video/mp4", "file_name": format!("{id}.mp4"), "file_size": size.to_string()},
                    "metrics": {"cost": task.unit_cost, "remaining_credits": 41.2, "inference_time": elapsed, "queue_time": 0.23, "total_time": elapsed + 0.23},
                }),
                &[],
            )
        } else {
            reply::json(
                200,
                json!({"status": "COMPLETED", "request_id": id, "metrics": {"inference_time": elapsed}}),
                &[],
            )
        }
    } else {
        let message = match r.outcome {
            Outcome::InputBlocked => {
                "NSFW content detected in the prompt; the request was blocked by content moderation."
            }
            Outcome::OutputBlocked => "The generated video was blocked by content moderation.",
            _ => "Upstream provider failed to generate the video.",
        };
        reply::json(
            422,
            json!({"status": "FAILED", "error": message, "metrics": {"inference_time": elapsed}, "request_id": id}),
            &[],
        )
    };
    reply::late_fault(&sim, fault, answer).await
}

pub async fn status(State(sim): State<Arc<Sim>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    read(sim, id, headers, false).await
}

pub async fn result(State(sim): State<Arc<Sim>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    read(sim, id, headers, true).await
}
