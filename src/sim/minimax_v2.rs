//! MiniMax v2 (H3) in the simulator: create with `content[]` validation, query with
//! lowercase statuses, an inline URL and `usage`, and the list with its filters.
//! Errors use real HTTP statuses with the typed body `{type:"error", error:{type,
//! message:"… (code)", http_code}, request_id}`. Tasks can be queried and listed
//! for the retention window (7 days, time-scaled); after that: `invalid task_id`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::minimax::bearer;
use super::reply;
use super::state::{Fault, Outcome, Sim, Task, digest, now_ms};
use crate::catalog::{self, Api, Mode, Provider, Ratio, Resolution, h3};

const P: Provider = Provider::Minimax;

/// A typed v2 error answer.
fn error(sim: &Sim, status: u16, kind: &str, message: &str, code: u32) -> Response {
    let request_id = format!("{:016x}", (sim.draw(&["rid", message, &now_ms().to_string()]) * 1e18) as u64);
    let body = json!({
        "type": "error",
        "error": {"type": kind, "message": format!("{message} ({code})"), "http_code": status},
        "request_id": request_id,
    });
    let mut headers = Vec::new();
    if (status == 429 || status == 529) && sim.cfg.retry_after {
        // A simulated second, in real seconds (fractions when time-scaled).
        headers.push(("retry-after", format!("{:.3}", sim.scaled(1.0).as_secs_f64())));
    }
    reply::json(status, body, &headers)
}

fn auth(sim: &Sim, headers: &HeaderMap) -> Result<(), Response> {
    if sim.key_ok(P, bearer(headers).as_deref()) {
        return Ok(());
    }
    sim.count(P, |s| s.auth_refused += 1);
    Err(error(sim, 401, "authentication_error", "invalid api key", 1004))
}

fn early_fault(sim: &Sim, fault: Fault) -> Option<Response> {
    match fault {
        Fault::ResetBefore => Some(reply::dropped()),
        // MiniMax documents 529 for an overloaded service: nothing was started.
        Fault::Http5xx => Some(error(sim, 529, "overloaded_error", "the service is overloaded, retry later", 1000)),
        _ => None,
    }
}

/// What a valid create asks for.
struct Request {
    model: &'static catalog::Model,
    resolution: Resolution,
    duration: u32,
    ratio: Option<Ratio>,
    images: u32,
    task_type: &'static str,
}

fn parse_resolution(s: &str) -> Option<Resolution> {
    // v2 writes `768P`, `480P` and `2K`.
    (s.ends_with('P') || s == "2K").then(|| Resolution::parse(s)).flatten()
}

/// The v2 create schema (`shared/reference/field-notes-2026-12.md` §1.2).
fn validate(req: &Value) -> Result<Request, String> {
    let model_id = req["model"].as_str().ok_or("model is required")?;
    let model = catalog::MODELS
        .iter()
        .find(|m| m.provider == P && m.id == model_id && m.api == Api::V2)
        .ok_or_else(|| format!("model {model_id} is not supported"))?;
    let spec = model.h3.ok_or("model has no v2 spec")?;
    let parts = req["content"].as_array().ok_or("content is required")?;
    let mut texts = 0;
    let (mut frames, mut images, mut videos, mut audio, mut roles) = (0u32, 0u32, 0u32, 0u32, Vec::new());
    for part in parts {
        let kind = part["type"].as_str().unwrap_or_default();
        if kind == "text" {
            let text = part["text"].as_str().unwrap_or_default();
            if text.trim().is_empty() || text.chars().count() > spec.prompt_max {
                return Err(format!("text must be 1 to {} characters", spec.prompt_max));
            }
            texts += 1;
            continue;
        }
        let url = part[kind]["url"].as_str().unwrap_or_default();
        if !(url.starts_with("https://")
            || url.starts_with("http://")
            || url.starts_with("data:")
            || url.starts_with("mm_file://"))
        {
            return Err(format!("{kind}.url must be a URL, mm_file:// or a data URI"));
        }
        let role = part["role"].as_str().unwrap_or_default();
        match (kind, role) {
            ("image_url", "first_frame" | "last_frame") => frames += 1,
            ("image_url", "reference_image") => images += 1,
            ("video_url", "reference_video") => videos += 1,
            ("audio_url", "reference_audio") => audio += 1,
            _ => return Err(format!("role {role} is not valid for {kind}")),
        }
        roles.push(role);
    }
    if texts != 1 {
        return Err("exactly one non-empty text is required".into());
    }
    let references = images + videos + audio;
    if frames > 0 && references > 0 {
        return Err("frame roles and reference roles cannot be mixed".into());
    }
    let limits = &spec.references;
    if images > limits.images || videos > limits.videos || audio > limits.audio || frames + references > limits.files {
        return Err(format!("too many reference files for {model_id}"));
    }
    if audio > 0 && images + videos == 0 {
        return Err("reference audio cannot be the only input".into());
    }
    let first = roles.contains(&"first_frame");
    let mode = match (frames, first, references) {
        (0, _, 0) => Mode::Text,
        (1, true, _) => Mode::FirstFrame,
        (2, true, _) if roles.contains(&"last_frame") => Mode::FirstLast,
        (0, _, _) => Mode::Reference,
        _ => return Err("frames must be a first_frame and optionally a last_frame".into()),
    };
    if !model.supports(mode) {
        return Err(format!("model {model_id} does not support {}", mode.describe()));
    }
    let resolution = req["resolution"].as_str().and_then(parse_resolution).ok_or("resolution is required")?;
    let duration = req["duration"].as_u64().ok_or("duration must be an integer")? as u32;
    if !model.durations(resolution, mode).contains(&duration) {
        return Err(format!("duration {duration} at resolution {} is not supported by {model_id}", resolution.name()));
    }
    let ratio = match req.get("ratio") {
        None => None,
        Some(r) => Some(r.as_str().and_then(Ratio::parse).ok_or("ratio is not one of the supported ratios")?),
    };
    if mode == Mode::Text && ratio.is_none_or(|r| r == Ratio::Adaptive) {
        return Err("ratio is required for text-to-video and cannot be adaptive".into());
    }
    let task_type = match mode {
        Mode::Text => "t2v",
        Mode::FirstFrame | Mode::FirstLast => "i2v",
        _ => "r2v",
    };
    Ok(Request { model, resolution, duration, ratio, images, task_type })
}

pub async fn create(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = auth(&sim, &headers) {
        return r;
    }
    sim.count(P, |s| s.submits += 1);
    let identity = format!("mm2-submit:{}", digest(&body));
    let fault = sim.fault(P, &identity);
    if let Some(r) = early_fault(&sim, fault) {
        return r;
    }
    if sim.over_rate(P, false).is_some() || sim.over_concurrency(P) {
        sim.count(P, |s| s.rate_limited += 1);
        return error(&sim, 429, "rate_limit_error", "rate limit exceeded", 1002);
    }
    if sim.out_of_credits(P) {
        return error(&sim, 402, "insufficient_balance_error", "insufficient balance", 1008);
    }
    if body.len() as u64 > h3::BODY_MAX_BYTES {
        return error(&sim, 400, "bad_request_error", "request body exceeds 64 MB", 2013);
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(&sim, 400, "bad_request_error", "invalid params, request body is not JSON", 2013);
    };
    let r = match validate(&req) {
        Ok(r) => r,
        Err(msg) => return error(&sim, 400, "bad_request_error", &format!("invalid params, {msg}"), 2013),
    };
    let text = req["content"].as_array().and_then(|c| c.iter().find(|p| p["type"] == "text")).map(|p| &p["text"]);
    let text = text.and_then(Value::as_str).unwrap_or_default();
    let nth = sim.attempt(&format!("block:{identity}")).to_string();
    let blocked = sim.draw(&["block_in", &identity, &nth]) < sim.cfg.faults(P).content_blocked_input;
    if blocked || (!sim.cfg.blocked_word.is_empty() && text.contains(&sim.cfg.blocked_word)) {
        return error(&sim, 422, "sensitive_content_error", "input new_sensitive", 1026);
    }
    let task_id = sim.numeric_id();
    let usage =
        h3::Usage { output_seconds: f64::from(r.duration), input_video_seconds: 0.0, input_image_count: r.images };
    // MiniMax bills usage at its list price; the ledger charges the same.
    let unit = h3::usage_cost(r.model, r.resolution, &usage).unwrap_or(0.0);
    let size = r.resolution.runware_size();
    sim.accept(
        P,
        &task_id,
        &format!("mm2:{identity}:{task_id}"),
        r.model.id,
        1,
        size,
        Some(unit),
        false,
        digest(&body),
    );
    let meta = json!({
        "model": r.model.id,
        "resolution": crate::provider::minimax_v2::wire_resolution(r.resolution),
        "duration": r.duration,
        "ratio": r.ratio.map_or("adaptive", |r| r.name()),
        "task_type": r.task_type,
        "modality": "video",
        "created_at": now_ms() / 1000,
        "usage": {"total_seconds": r.duration, "input_seconds": 0, "output_seconds": r.duration, "input_image_count": r.images},
    });
    sim.lock().meta.insert((P, task_id.clone()), meta);
    let ok = reply::json(200, json!({"task_id": task_id}), &[]);
    reply::late_fault(&sim, fault, ok).await
}

/// Whether a task is still inside the query window.
fn retained(sim: &Sim, task: &Task) -> bool {
    task.created.elapsed() < sim.scaled(sim.cfg.minimax_v2_retention_secs)
}

/// The task object as query and list show it.
fn task_object(sim: &Sim, task: &Task, meta: &Value) -> Value {
    let now = Instant::now();
    let r = &task.results[0];
    let mut t = meta.clone();
    t["id"] = json!(task.id);
    let updated = now_ms() / 1000;
    t["updated_at"] = json!(updated);
    let (status, content, error): (&str, Value, Value) = if r.ready_at > now {
        let status = if task.progress(now) < 0.2 { "queued" } else { "running" };
        (status, Value::Null, Value::Null)
    } else {
        match r.outcome {
            Outcome::Success => (
                "succeeded",
                json!({"url": sim.signed_url(&r.clip_id, crate::catalog::output::OutputFormat::Mp4)}),
                Value::Null,
            ),
            Outcome::ProviderFailure => ("failed", Value::Null, json!({"code": 1000, "message": "generation failed"})),
            Outcome::OutputBlocked | Outcome::InputBlocked => {
                ("failed", Value::Null, json!({"code": 1027, "message": "output new_sensitive"}))
            }
        }
    };
    t["status"] = json!(status);
    if !content.is_null() {
        t["content"] = content;
    } else if let Some(o) = t.as_object_mut() {
        o.remove("usage"); // usage is reported once the task is done
    }
    if !error.is_null() {
        t["error"] = error;
    }
    t
}

fn v2_task(sim: &Sim, id: &str) -> Option<(Task, Value)> {
    let meta = sim.lock().meta.get(&(P, id.to_owned())).cloned()?;
    let task = sim.task(P, id)?;
    retained(sim, &task).then_some((task, meta))
}

pub async fn query(State(sim): State<Arc<Sim>>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    if let Err(r) = auth(&sim, &headers) {
        return r;
    }
    sim.count(P, |s| s.polls += 1);
    let fault = sim.fault(P, &format!("mm2-query:{id}"));
    if let Some(r) = early_fault(&sim, fault) {
        return r;
    }
    if sim.over_rate(P, true).is_some() {
        sim.count(P, |s| s.rate_limited += 1);
        return error(&sim, 429, "rate_limit_error", "rate limit exceeded", 1002);
    }
    let Some((task, meta)) = v2_task(&sim, &id) else {
        return error(&sim, 400, "bad_request_error", "invalid task_id", 2013);
    };
    let body = reply::json(200, json!({"task": task_object(&sim, &task, &meta)}), &[]);
    reply::late_fault(&sim, fault, body).await
}

/// `GET /v2/query/video_generation?page_num&page_size&filter.status&filter.task_ids&filter.model&filter.task_type`:
/// the account's tasks of the window, newest first.
pub async fn list(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if let Err(r) = auth(&sim, &headers) {
        return r;
    }
    sim.count(P, |s| s.polls += 1);
    if sim.over_rate(P, true).is_some() {
        sim.count(P, |s| s.rate_limited += 1);
        return error(&sim, 429, "rate_limit_error", "rate limit exceeded", 1002);
    }
    let page = q.get("page_num").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let size = q.get("page_size").and_then(|p| p.parse::<usize>().ok()).unwrap_or(20).clamp(1, 100);
    let ids: Option<Vec<&str>> = q.get("filter.task_ids").map(|s| s.split(',').map(str::trim).collect());
    let metas: Vec<(String, Value)> =
        sim.lock().meta.iter().filter(|((p, _), _)| *p == P).map(|((_, id), m)| (id.clone(), m.clone())).collect();
    let mut items: Vec<Value> = metas
        .into_iter()
        .filter_map(|(id, meta)| {
            let task = sim.task(P, &id).filter(|t| retained(&sim, t))?;
            Some(task_object(&sim, &task, &meta))
        })
        .filter(|t| q.get("filter.model").is_none_or(|m| t["model"] == m.as_str()))
        .filter(|t| q.get("filter.status").is_none_or(|s| t["status"] == s.as_str()))
        .filter(|t| q.get("filter.task_type").is_none_or(|s| t["task_type"] == s.as_str()))
        .filter(|t| ids.as_ref().is_none_or(|ids| ids.iter().any(|i| t["id"] == *i)))
        .collect();
    let key = |t: &Value| (t["created_at"].as_u64().unwrap_or(0), t["id"].as_str().unwrap_or("").to_owned());
    items.sort_by_key(|t| std::cmp::Reverse(key(t)));
    let total = items.len();
    let page_items: Vec<Value> = items.into_iter().skip((page - 1) * size).take(size).collect();
    reply::json(200, json!({"items": page_items, "total": total}), &[])
}
