//! MiniMax video templates in the simulator: create (`task_id` and `base_resp` in
//! HTTP 200) and query (Preparing → Processing → Success / Fail, with a direct
//! `video_url` valid 9 hours at most), with the same auth, rate limits, credits,
//! fault injection and ledger as v1. Template ids of both hosts' lists are known;
//! each request's inputs are checked against its template's slots.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use serde_json::{Value, json};

use super::ledger::SeenOptions;
use super::minimax::{admit, answer, auth, early_fault, image_ok};
use super::reply;
use super::state::{Outcome, Sim, digest};
use crate::catalog::output::OutputFormat;
use crate::catalog::{Provider, templates};

const P: Provider = Provider::Minimax;
/// MiniMax's template prices are historical; the ledger charges the simulator's own.
const SIM_TEMPLATE_USD: f64 = 0.5;

pub async fn create(State(sim): State<Arc<Sim>>, headers: HeaderMap, body: Bytes) -> Response {
    let empty = json!({"task_id": ""});
    let (req, fault, identity) = match admit(&sim, &headers, &body, "mm-template") {
        Ok(admitted) => admitted,
        Err(r) => return r,
    };
    let (template, seen) = match validate(&req) {
        Ok(v) => v,
        Err(msg) => return answer(&sim, empty, 2013, &format!("invalid params, {msg}")),
    };
    let texts: Vec<&str> =
        req["text_inputs"].as_array().into_iter().flatten().filter_map(|t| t["value"].as_str()).collect();
    if !sim.cfg.blocked_word.is_empty() && texts.iter().any(|t| t.contains(&sim.cfg.blocked_word)) {
        return answer(&sim, empty, 1026, "input new_sensitive");
    }
    let task_id = sim.numeric_id();
    sim.accept(
        P,
        &task_id,
        &format!("mm:{identity}:{task_id}"),
        &format!("template:{}", template.id),
        1,
        (1280, 720),
        Some(SIM_TEMPLATE_USD),
        false,
        digest(&body),
    );
    sim.set_delivery(P, &task_id, OutputFormat::Mp4, None, seen);
    let ok = answer(&sim, json!({"task_id": task_id}), 0, "success");
    reply::late_fault(&sim, fault, ok).await
}

/// `VideoTemplateGenerationReq`: a known `template_id`, and `media_inputs` /
/// `text_inputs` of `{value}` objects filling exactly the template's slots.
fn validate(req: &Value) -> Result<(&'static templates::Template, SeenOptions), String> {
    let id = req["template_id"].as_str().ok_or("template_id is required")?;
    let template = templates::by_id(id).ok_or_else(|| format!("template {id} does not exist"))?;
    let list = |key: &str| -> Result<Vec<Value>, String> {
        match req.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) if items.iter().all(|i| i["value"].is_string()) => {
                Ok(items.iter().map(|i| i["value"].clone()).collect())
            }
            Some(_) => Err(format!("{key} must be a list of {{\"value\": string}}")),
        }
    };
    let (media, text) = (list("media_inputs")?, list("text_inputs")?);
    if media.len() != template.media || text.len() != template.text {
        return Err(format!(
            "template {} takes {} media and {} text inputs, got {} and {}",
            template.id,
            template.media,
            template.text,
            media.len(),
            text.len()
        ));
    }
    if !media.iter().all(image_ok) {
        return Err("media inputs must be an https URL or a data URL".into());
    }
    let seen = SeenOptions {
        template_id: Some(template.id.to_owned()),
        media_inputs: Some(media.len()),
        text_inputs: Some(text.len()),
        ..SeenOptions::default()
    };
    Ok((template, seen))
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
    let fault = sim.fault(P, &format!("mm-template-query:{task_id}"));
    if let Some(r) = early_fault(fault) {
        return r;
    }
    if sim.over_rate(P, true).is_some() {
        sim.count(P, |s| s.rate_limited += 1);
        return answer(&sim, empty, 1002, "rate limit");
    }
    // A v1 task is not a template task (and the other way round).
    let Some(task) = sim.task(P, &task_id).filter(|t| t.template) else {
        return answer(&sim, empty, 2013, "invalid params, task not found");
    };
    let now = Instant::now();
    let r = &task.results[0];
    let body = if r.ready_at > now {
        let status = if task.progress(now) < 0.2 { "Preparing" } else { "Processing" };
        answer(&sim, json!({"task_id": task_id, "status": status}), 0, "success")
    } else {
        match r.outcome {
            Outcome::Success => {
                let secs = sim.cfg.url_ttl_secs.min(templates::URL_VALID_SECS as f64);
                let url = sim.signed_url_for(&r.clip_id, OutputFormat::Mp4, secs);
                answer(&sim, json!({"task_id": task_id, "status": "Success", "video_url": url}), 0, "success")
            }
            Outcome::ProviderFailure => answer(&sim, json!({"task_id": task_id, "status": "Fail"}), 0, "success"),
            Outcome::OutputBlocked | Outcome::InputBlocked => {
                answer(&sim, json!({"task_id": task_id, "status": "Fail"}), 1027, "output new_sensitive")
            }
        }
    };
    reply::late_fault(&sim, fault, body).await
}
