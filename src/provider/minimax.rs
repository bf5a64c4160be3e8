//! MiniMax's own video API (v1): create a task, query it, then retrieve its file.
//! Business errors arrive inside HTTP 200 as a non-zero `base_resp.status_code`,
//! and there is no idempotency key: a submit whose outcome is unknown is in doubt.

use serde_json::{Value, json};

use super::http::{self, Answer, Exchange, json_str};
use super::minimax_codes::{
    Status, base_resp, code_class, error, http_error, query_status, read_code_class, read_http_error, trace_id,
};
use super::{Accepted, Clip, Endpoint, ErrorClass, PollOutcome, PollTarget, ProviderError, RemoteTask};
use super::{SubmitRequest, TaskKind, VideoApi, minimax_template};
use crate::catalog::{Api, Mode, Provider};

const P: Provider = Provider::Minimax;

pub struct MinimaxClient {
    endpoint: Endpoint,
}

impl MinimaxClient {
    pub fn new(endpoint: Endpoint) -> Self {
        MinimaxClient { endpoint }
    }

    fn get(&self, path: &str, param: (&str, &str)) -> reqwest::RequestBuilder {
        let e = &self.endpoint;
        e.http.get(format!("{}{path}", e.base_url)).query(&[param]).bearer_auth(e.key.expose()).timeout(e.timeout)
    }

    async fn retrieve(&self, file_id: &str) -> Result<Retrieved, ProviderError> {
        let answer = http::exchange(P, Exchange::Read, self.get("/v1/files/retrieve", ("file_id", file_id))).await?;
        classify_retrieve(&answer)
    }

    async fn poll_one(&self, target: &PollTarget<'_>) -> Result<PollOutcome, ProviderError> {
        if target.task.kind == TaskKind::Template {
            return minimax_template::poll(&self.endpoint, target.task).await;
        }
        let query = ("task_id", target.task.id.as_str());
        let answer = http::exchange(P, Exchange::Read, self.get("/v1/query/video_generation", query)).await?;
        let (file_id, width, height) = match classify_query(&answer)? {
            Query::Pending => return Ok(PollOutcome::Pending { progress: None, clips: Vec::new() }),
            Query::Failed(e) => return Ok(PollOutcome::Failed(e)),
            Query::Success { file_id, width, height } => (file_id, width, height),
        };
        Ok(match self.retrieve(&file_id).await? {
            Retrieved::Url(video_url) => PollOutcome::Done {
                clips: vec![Clip {
                    video_url,
                    remote_id: file_id,
                    seed: None,
                    cost_usd: None,
                    width,
                    height,
                    usage_secs: None,
                    list_cost_usd: None,
                    nsfw: None,
                }],
            },
            Retrieved::Failed(e) => PollOutcome::Failed(e),
        })
    }
}

impl VideoApi for MinimaxClient {
    fn provider(&self) -> Provider {
        P
    }

    async fn submit(&self, request: &SubmitRequest) -> Result<Accepted, ProviderError> {
        let scrub = |e| http::scrub(&self.endpoint.key, e);
        if is_v2(&request.model_id) {
            return super::minimax_v2::submit(&self.endpoint, request).await.map_err(scrub);
        }
        if let Some(template) = &request.template {
            return minimax_template::submit(&self.endpoint, template).await.map_err(scrub);
        }
        let body = submit_body(request)?;
        let e = &self.endpoint;
        let post = e
            .http
            .post(format!("{}/v1/video_generation", e.base_url))
            .bearer_auth(e.key.expose())
            .json(&body)
            .timeout(e.timeout);
        let answer = http::exchange(P, Exchange::Submit, post).await.map_err(scrub)?;
        classify_submit(&answer).map_err(scrub)
    }

    /// One query per target (the batch size is 1; more are polled in turn).
    async fn poll(&self, targets: &[PollTarget<'_>]) -> Result<Vec<PollOutcome>, ProviderError> {
        let scrub = |e| http::scrub(&self.endpoint.key, e);
        let mut out = Vec::with_capacity(targets.len());
        for target in targets {
            let outcome = match target.task.api {
                Api::V2 => super::minimax_v2::poll_one(&self.endpoint, target.task).await,
                Api::V1 => self.poll_one(target).await,
            };
            out.push(match outcome.map_err(scrub)? {
                PollOutcome::Failed(e) => PollOutcome::Failed(scrub(e)),
                other => other,
            });
        }
        Ok(out)
    }

    /// Only v2 has a list to look in; a v1 submit cannot be looked up.
    async fn find_submitted(
        &self,
        request: &SubmitRequest,
        window: &super::Window,
    ) -> Result<super::Reconciled, ProviderError> {
        if !is_v2(&request.model_id) {
            return Ok(super::Reconciled::CannotLookUp);
        }
        super::minimax_v2::find_submitted(&self.endpoint, request, window)
            .await
            .map_err(|e| http::scrub(&self.endpoint.key, e))
    }

    async fn refresh_url(&self, task: &RemoteTask, clip: &Clip) -> Result<Option<String>, ProviderError> {
        if task.api == Api::V2 {
            return super::minimax_v2::refresh_url(&self.endpoint, task)
                .await
                .map_err(|e| http::scrub(&self.endpoint.key, e));
        }
        if task.kind == TaskKind::Template {
            return Ok(None); // A template's video_url is direct (valid 9 h); there is no file to retrieve.
        }
        match self.retrieve(&clip.remote_id).await.map_err(|e| http::scrub(&self.endpoint.key, e))? {
            Retrieved::Url(url) => Ok(Some(url)),
            Retrieved::Failed(e) => Err(http::scrub(&self.endpoint.key, e)),
        }
    }
}

/// Whether the catalog serves this model id on MiniMax's v2 API (H3).
fn is_v2(model: &str) -> bool {
    crate::catalog::MODELS.iter().any(|m| m.provider == P && m.id == model && m.api == Api::V2)
}

/// Hailuo models take `duration` and `resolution`; the 01 series and S2V-01 are
/// reported to reject them, so they are left out there.
fn is_hailuo(model: &str) -> bool {
    model.starts_with("MiniMax-Hailuo-")
}

/// The create body for the request's mode.
pub(crate) fn submit_body(r: &SubmitRequest) -> Result<Value, ProviderError> {
    if let Some(what) = r.missing_image() {
        return Err(ProviderError::new(P, ErrorClass::Rejected, format!("the {} needs a {what}", r.mode.describe())));
    }
    // `prompt_optimizer` defaults to true on MiniMax: always say what the shot wants.
    let mut body = json!({"model": r.model_id, "prompt_optimizer": r.prompt_optimizer});
    if let Some(prompt) = &r.prompt {
        body["prompt"] = json!(prompt);
    }
    let image = |i: &Option<super::ImageInput>| i.as_ref().map(|i| json!(i.as_str()));
    match r.mode {
        Mode::Text => {}
        Mode::FirstFrame => body["first_frame_image"] = image(&r.first_frame).into(),
        Mode::FirstLast => {
            body["first_frame_image"] = image(&r.first_frame).into();
            body["last_frame_image"] = image(&r.last_frame).into();
        }
        Mode::Subject => {
            body["subject_reference"] = json!([{"type": "character", "image": [image(&r.subject)]}]);
        }
        Mode::Reference => {
            return Err(ProviderError::new(P, ErrorClass::Rejected, "references are sent by the v2 API (MiniMax H3)"));
        }
        // Templates have their own endpoint (`minimax_template`); the client sends them there.
        Mode::Template => {
            return Err(ProviderError::new(P, ErrorClass::Rejected, "a template is not a video_generation request"));
        }
    }
    // Sent only when asked for, so a shot without them sends what it always did.
    if r.options.fast_pretreatment {
        body["fast_pretreatment"] = json!(true);
    }
    if r.options.watermark {
        body["aigc_watermark"] = json!(true);
    }
    if is_hailuo(&r.model_id) {
        body["duration"] = json!(r.duration);
        body["resolution"] = json!(r.resolution.name().to_ascii_uppercase());
    }
    Ok(body)
}

/// Reads a create answer.
pub(crate) fn classify_submit(a: &Answer) -> Result<Accepted, ProviderError> {
    if !(200..300).contains(&a.status) {
        let code = a.json().map_or(0, |v| base_resp(&v).0);
        let class = match a.status {
            429 => ErrorClass::RateLimited { retry_after: None },
            401 | 403 => ErrorClass::Auth,
            // A request timeout may have been cut off after the gateway passed it on.
            408 => ErrorClass::InDoubt,
            // A business code in a 4xx says more than the status.
            400..=499 if code != 0 => code_class(code),
            400..=499 => ErrorClass::Rejected,
            // Undocumented whether a 5xx (or anything else) created the task.
            _ => ErrorClass::InDoubt,
        };
        return Err(http_error(a, class));
    }
    let Some(v) = a.json() else {
        return Err(error(a, ErrorClass::InDoubt, None, format!("a 2xx answer that is not JSON: {}", a.text())));
    };
    let (code, msg) = base_resp(&v);
    // A task id names a task that may exist and be billed, whatever the code says;
    // polling it settles what happened, resubmitting could pay twice.
    if let Some(id) = json_str(&v, "task_id") {
        return Ok(Accepted {
            task: RemoteTask {
                id,
                status_url: None,
                response_url: None,
                api: Default::default(),
                kind: Default::default(),
            },
            replayed: false,
        });
    }
    if code == 0 {
        return Err(error(a, ErrorClass::InDoubt, None, "status 0 but no task_id in the answer".into()));
    }
    Err(error(a, code_class(code), Some(code), msg))
}

/// What a query found.
#[derive(Debug, PartialEq)]
pub(crate) enum Query {
    Pending,
    Failed(ProviderError),
    Success { file_id: String, width: Option<u32>, height: Option<u32> },
}

/// Reads a query answer; errors of the request itself are the outer `Err`.
pub(crate) fn classify_query(a: &Answer) -> Result<Query, ProviderError> {
    if !(200..300).contains(&a.status) {
        return Err(read_http_error(a));
    }
    let Some(v) = a.json() else {
        return Err(error(a, ErrorClass::Transient, None, format!("a query answer that is not JSON: {}", a.text())));
    };
    let (code, msg) = base_resp(&v);
    let status = v.get("status").and_then(Value::as_str).unwrap_or("");
    match query_status(a, code, msg, status, "task")? {
        Status::Failed(e) => return Ok(Query::Failed(e)),
        Status::Pending => return Ok(Query::Pending),
        Status::Success => {}
    }
    let Some(file_id) = json_str(&v, "file_id") else {
        return Ok(Query::Failed(error(a, ErrorClass::Failed, None, "Success without a file_id".into())));
    };
    let dim = |k| v.get(k).and_then(Value::as_u64).and_then(|n| u32::try_from(n).ok());
    Ok(Query::Success { file_id, width: dim("video_width"), height: dim("video_height") })
}

/// What a file retrieve found.
#[derive(Debug, PartialEq)]
pub(crate) enum Retrieved {
    Url(String),
    Failed(ProviderError),
}

/// Reads a `files/retrieve` answer.
pub(crate) fn classify_retrieve(a: &Answer) -> Result<Retrieved, ProviderError> {
    if !(200..300).contains(&a.status) {
        return Err(read_http_error(a));
    }
    let Some(v) = a.json() else {
        return Err(error(a, ErrorClass::Transient, None, format!("a retrieve answer that is not JSON: {}", a.text())));
    };
    let (code, msg) = base_resp(&v);
    let code_opt = (code != 0).then_some(code);
    match code {
        0 => {}
        1026 | 1027 => return Ok(Retrieved::Failed(error(a, ErrorClass::ContentBlocked, code_opt, msg))),
        2013 => return Ok(Retrieved::Failed(error(a, ErrorClass::Gone, code_opt, msg))),
        _ => return Err(error(a, read_code_class(code), code_opt, msg)),
    }
    let Some(url) = v.get("file").and_then(|f| json_str(f, "download_url")) else {
        return Err(error(a, ErrorClass::Transient, None, "a retrieve answer without file.download_url".into()));
    };
    Ok(match http::video_url(P, &url) {
        Ok(url) => Retrieved::Url(url),
        Err(e) => Retrieved::Failed(e.status(a.status).trace(trace_id(&a.headers))),
    })
}

#[cfg(test)]
#[path = "minimax_tests.rs"]
mod tests;
