//! MiniMax v1 in the simulator: create, query and retrieve, with business errors
//! as HTTP 200 + `base_resp`, the Preparing → Queueing → Processing → Success/Fail
//! lifecycle, `file_id` a string in the query and a number in retrieve, and
//! download URLs that expire.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::ledger::SeenOptions;
use super::reply;
use super::state::{Fault, Outcome, Sim, digest};
use crate::catalog::output::OutputFormat;
use crate::catalog::{self, Mode, Provider, Resolution};

const P: Provider = Provider::Minimax;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get("authorization")?.to_str().ok()?;
    value.strip_prefix("Bearer ").map(|k| k.trim().to_owned())
}

/// `{..., "base_resp": {"status_code", "status_msg"}}` over HTTP 200 with a Trace-Id.
pub(super) fn answer(sim: &Sim, mut body: Value, code: u32, msg: &str) -> Response {
    body["base_resp"] = json!({"status_code": code, "status_msg": msg});
    let trace = format!(
        "{:016x}",
        (sim.draw(&["trace", &body.to_string(), &super::state::now_ms().to_string()]) * 1e18) as u64
    );
    reply::json(200, body, &[("trace-id", trace)])
}

/// Auth as MiniMax answers it: 1004 without a valid key, 2049 for a key of the other region.
pub(super) fn auth(sim: &Sim, headers: &HeaderMap, empty: Value) -> Result<(), Response> {
    let key = bearer(headers);
    if key.as_deref().is_some_and(|k| {
        !sim.cfg.minimax_other_region_prefix.is_empty() && k.starts_with(&sim.cfg.minimax_other_region_prefix)
    }) {
        sim.count(P, |s| s.auth_refused += 1);
        return Err(answer(sim, empty, 2049, "invalid api key"));
    }
    if !sim.key_ok(P, key.as_deref()) {
        sim.count(P, |s| s.auth_refused += 1);
        return Err(answer(sim, empty, 1004, "not authorized"));
    }
    Ok(())
}

/// Faults that strike before a request is processed.
pub(super) fn early_fault(fault: Fault) -> Option<Response> {
    match fault {
        Fault::ResetBefore => Some(reply::dropped()),
        Fault::Http5xx => Some(reply::json(502, json!({"error": "bad gateway"}), &[])),
        _ => None,
    }
}

/// What every MiniMax create checks before it reads the request, in the provider's
/// order: the key, the fault dice, the rate and concurrency, the credits, the JSON.
/// `kind` names the endpoint in the request's identity (which the dice follow).
pub(super) fn admit(
    sim: &Sim,
    headers: &HeaderMap,
    body: &[u8],
    kind: &str,
) -> Result<(Value, Fault, String), Response> {
    let empty = json!({"task_id": ""});
    auth(sim, headers, empty.clone())?;
    sim.count(P, |s| s.submits += 1);
    let identity = format!("{kind}:{}", digest(body));
    let fault = sim.fault(P, &identity);
    if let Some(r) = early_fault(fault) {
        return Err(r);
    }
    if sim.over_rate(P, false).is_some() || sim.over_concurrency(P) {
        sim.count(P, |s| s.rate_limited += 1);
        return Err(answer(sim, empty, 1002, "rate limit"));
    }
    if sim.out_of_credits(P) {
        return Err(answer(sim, empty, 1008, "insufficient balance"));
    }
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return Err(answer(sim, empty, 2013, "invalid params, request body is not JSON"));
    };
    Ok((req, fault, identity))
}

pub async fn create(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let empty = json!({"task_id": ""});
    let (req, fault, identity) = match admit(&sim, &headers, &body, "mm-submit") {
        Ok(admitted) => admitted,
        Err(r) => return r,
    };
    let (model, mode, resolution, duration) = match validate(&req) {
        Ok(v) => v,
        Err(msg) => return answer(&sim, empty, 2013, &format!("invalid params, {msg}")),
    };
    let mut seen = SeenOptions::default();
    for (key, slot) in [("fast_pretreatment", &mut seen.fast_pretreatment), ("aigc_watermark", &mut seen.watermark)] {
        match req.get(key) {
            None => {}
            Some(Value::Bool(b)) => *slot = Some(*b),
            Some(_) => return answer(&sim, empty, 2013, &format!("invalid params, {key} must be a boolean")),
        }
    }
    let prompt = req["prompt"].as_str().unwrap_or("");
    let nth = sim.attempt(&format!("block:{identity}")).to_string();
    let blocked = sim.draw(&["block_in", &identity, &nth]) < sim.cfg.faults(P).content_blocked_input;
    if blocked || (!sim.cfg.blocked_word.is_empty() && prompt.contains(&sim.cfg.blocked_word)) {
        return answer(&sim, empty, 1026, "input new_sensitive");
    }
    let task_id = sim.numeric_id();
    // MiniMax reports no cost: it bills its pay-as-you-go list price (the catalog's);
    // where none is published the simulator charges its own.
    let own = (4.5 * f64::from(duration) * if resolution == Resolution::P1080 { 1.8 } else { 1.0 }).round() / 100.0;
    let unit = model.price(resolution, duration).unwrap_or(own);
    let _ = mode;
    sim.accept(
        P,
        &task_id,
        // Outcomes follow the body and how often it was sent, not the task id: ids
        // count arrivals, whose order varies from run to run (same seed, same night).
        &format!("mm:{identity}:{nth}"),
        model.id,
        1,
        size(resolution),
        Some(unit),
        false,
        digest(&body),
    );
    sim.set_delivery(P, &task_id, OutputFormat::Mp4, None, seen);
    let ok = answer(&sim, json!({"task_id": task_id}), 0, "success");
    reply::late_fault(&sim, fault, ok).await
}

/// A resolution as MiniMax writes it (`768P`).
fn wire(r: Resolution) -> String {
    r.name().to_uppercase()
}

/// Pixel size MiniMax reports for a resolution.
fn size(r: Resolution) -> (u32, u32) {
    match r {
        Resolution::P512 => (912, 512),
        Resolution::P720 => (1280, 720),
        Resolution::P768 => (1366, 768),
        Resolution::P1080 => (1920, 1080),
        Resolution::P480 => (854, 480),
        Resolution::P1440 => (2560, 1440),
    }
}

pub(super) fn image_ok(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.starts_with("https://") || s.starts_with("http://") || s.starts_with("data:image/"))
}

/// The create schemas of the four modes (A3 in the reference).
fn validate(req: &Value) -> Result<(&'static catalog::Model, Mode, Resolution, u32), String> {
    let model_id = req["model"].as_str().ok_or("model is required")?;
    let model = catalog::MODELS
        .iter()
        .find(|m| m.provider == P && m.id == model_id)
        .ok_or_else(|| format!("model {model_id} is not supported"))?;
    let first = req.get("first_frame_image");
    let last = req.get("last_frame_image");
    let subject = req.get("subject_reference");
    let mode = match (first, last, subject) {
        (None, None, Some(_)) => Mode::Subject,
        (Some(_), Some(_), None) => Mode::FirstLast,
        (Some(_), None, None) => Mode::FirstFrame,
        (None, None, None) => Mode::Text,
        _ => {
            return Err(
                "this combination of first_frame_image, last_frame_image and subject_reference is not supported".into(),
            );
        }
    };
    for image in [first, last].into_iter().flatten() {
        if !image_ok(image) {
            return Err("images must be an https URL or a data URL".into());
        }
    }
    if let Some(s) = subject {
        let ok = s.as_array().is_some_and(|a| {
            a.len() == 1
                && a[0]["type"] == "character"
                && a[0]["image"].as_array().is_some_and(|i| i.len() == 1 && image_ok(&i[0]))
        });
        if !ok {
            return Err("subject_reference must be one {type: character, image: [url]}".into());
        }
    }
    if !model.supports(mode) {
        let name = match mode {
            Mode::Text => "Text-to-Video",
            Mode::FirstFrame => "Image-to-Video",
            Mode::FirstLast => "First-Last-Frame-to-Video",
            Mode::Subject => "Subject-Reference-to-Video",
            Mode::Reference => "Reference-to-Video",
            Mode::Template => "Template",
        };
        return Err(format!("model {model_id} does not support {name} mode"));
    }
    match req.get("prompt") {
        None if mode == Mode::Text => return Err("prompt is required".into()),
        Some(p) if p.as_str().is_none_or(|p| p.chars().count() > 2000) => {
            return Err("prompt must be a string of at most 2000 characters".into());
        }
        _ => {}
    }
    let resolution = match req.get("resolution") {
        None => model.default_resolution,
        Some(r) => {
            let text = r.as_str().unwrap_or_default();
            Resolution::parse(text)
                .filter(|_| text.ends_with('P'))
                .ok_or_else(|| format!("resolution {r} is not one of 512P, 720P, 768P, 1080P"))?
        }
    };
    let duration = match req.get("duration") {
        None => model.default_duration,
        Some(d) => d.as_u64().ok_or("duration must be an integer")? as u32,
    };
    if model.durations(resolution, mode).is_empty() {
        return Err(format!("resolution {} is not supported by {model_id} in this mode", wire(resolution)));
    }
    if !model.durations(resolution, mode).contains(&duration) {
        return Err(format!("duration {duration} is not supported by {model_id} at {}", wire(resolution)));
    }
    Ok((model, mode, resolution, duration))
}

pub async fn query(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let empty = json!({"task_id": "", "status": ""});
    if let Err(r) = auth(&sim, &headers, empty.clone()) {
        return r;
    }
    sim.count(P, |s| s.polls += 1);
    let task_id = q.get("task_id").cloned().unwrap_or_default();
    let fault = sim.fault(P, &format!("mm-query:{task_id}"));
    if let Some(r) = early_fault(fault) {
        return r;
    }
    if sim.over_rate(P, true).is_some() {
        sim.count(P, |s| s.rate_limited += 1);
        return answer(&sim, empty, 1002, "rate limit");
    }
    // A template task is queried on its own endpoint, not here.
    let Some(task) = sim.task(P, &task_id).filter(|t| !t.template) else {
        return answer(&sim, empty, 2013, "invalid params, task not found");
    };
    let now = Instant::now();
    let r = &task.results[0];
    let body = if r.ready_at > now {
        let p = task.progress(now);
        let status = if p < 0.1 {
            "Preparing"
        } else if p < 0.3 {
            "Queueing"
        } else {
            "Processing"
        };
        answer(&sim, json!({"task_id": task_id, "status": status}), 0, "success")
    } else {
        match r.outcome {
            Outcome::Success => answer(
                &sim,
                json!({"task_id": task_id, "status": "Success", "file_id": r.clip_id, "video_width": task.width, "video_height": task.height}),
                0,
                "success",
            ),
            Outcome::ProviderFailure => answer(&sim, json!({"task_id": task_id, "status": "Fail"}), 0, "success"),
            Outcome::OutputBlocked | Outcome::InputBlocked => {
                answer(&sim, json!({"task_id": task_id, "status": "Fail"}), 1027, "output new_sensitive")
            }
        }
    };
    reply::late_fault(&sim, fault, body).await
}

pub async fn retrieve(
    State(sim): State<Arc<Sim>>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let empty = json!({"file": null});
    if let Err(r) = auth(&sim, &headers, empty.clone()) {
        return r;
    }
    sim.count(P, |s| s.polls += 1);
    let file_id = q.get("file_id").cloned().unwrap_or_default();
    let fault = sim.fault(P, &format!("mm-retrieve:{file_id}"));
    if let Some(r) = early_fault(fault) {
        return r;
    }
    let owner = sim.lock().files.get(&file_id).cloned();
    let task = owner.and_then(|(p, id)| sim.task(p, &id)).filter(|t| t.provider == P);
    let ready = task.as_ref().is_some_and(|t| {
        t.results.iter().any(|r| r.clip_id == file_id && r.outcome == Outcome::Success && r.ready_at <= Instant::now())
    });
    let (Some(task), true, Ok(numeric)) = (task, ready, file_id.parse::<u64>()) else {
        return answer(&sim, empty, 2013, "invalid params, file not found");
    };
    let file = json!({
        "file_id": numeric,
        "bytes": super::files::clip_len(&sim, &file_id, task.format),
        "created_at": super::state::now_ms() / 1000 - task.created.elapsed().as_secs(),
        "filename": "output.mp4",
        "purpose": "video_generation",
        "download_url": sim.signed_url(&file_id, task.format),
    });
    let body = answer(&sim, json!({"file": file}), 0, "success");
    reply::late_fault(&sim, fault, body).await
}
