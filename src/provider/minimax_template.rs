//! MiniMax video templates ("Video Agent"): `POST /v1/video_template_generation`
//! creates a task from a template id and its inputs; `GET
//! /v1/query/video_template_generation?task_id=` reports Preparing / Processing /
//! Success / Fail and, on success, a direct `video_url` (valid 9 hours; there is no
//! `files/retrieve` step). Business errors arrive inside HTTP 200 as
//! `base_resp.status_code`, read with the v1 client's code table; as there, a
//! submit whose outcome is unknown is in doubt (no idempotency key).
//! Source: platform.minimax.io/docs/api-reference/video-agent-create and
//! video-agent-query (field notes 2026-12 §1.1).

use serde::{Deserialize, Serialize};

use super::http::{self, Answer, Exchange};
use super::minimax_codes::{Status, code_class, error, http_error, query_status, read_http_error};
use super::{Accepted, Clip, Endpoint, ErrorClass, PollOutcome, ProviderError, RemoteTask, TaskKind, TemplateRequest};
use crate::catalog::Provider;

const P: Provider = Provider::Minimax;
pub const CREATE_PATH: &str = "/v1/video_template_generation";
pub const QUERY_PATH: &str = "/v1/query/video_template_generation";

/// One slot's value (`{"value": ...}`).
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Input {
    pub value: String,
}

/// The create body (`VideoTemplateGenerationReq`). `callback_url` is never sent:
/// shotlist polls.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct CreateRequest {
    pub template_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_inputs: Vec<Input>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub text_inputs: Vec<Input>,
}

impl CreateRequest {
    pub fn new(r: &TemplateRequest) -> CreateRequest {
        let inputs = |v: Vec<String>| v.into_iter().map(|value| Input { value }).collect();
        CreateRequest {
            template_id: r.template_id.clone(),
            media_inputs: inputs(r.media.iter().map(|i| i.as_str().to_owned()).collect()),
            text_inputs: inputs(r.text.clone()),
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize, PartialEq)]
pub struct BaseResp {
    #[serde(default)]
    pub status_code: i64,
    #[serde(default)]
    pub status_msg: String,
}

/// A task id as MiniMax writes it: a string in the docs, a number tolerated.
#[derive(Debug, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum TaskId {
    Text(String),
    Number(u64),
}

impl TaskId {
    fn text(&self) -> Option<String> {
        match self {
            TaskId::Text(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            TaskId::Text(_) => None,
            TaskId::Number(n) => Some(n.to_string()),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, PartialEq)]
pub struct CreateResponse {
    #[serde(default)]
    pub task_id: Option<TaskId>,
    #[serde(default)]
    pub base_resp: BaseResp,
}

/// The query answer. `status`: Preparing, Processing, Success, Fail.
#[derive(Debug, Deserialize, Serialize, PartialEq)]
pub struct QueryResponse {
    #[serde(default)]
    pub task_id: Option<TaskId>,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub video_url: Option<String>,
    #[serde(default)]
    pub base_resp: BaseResp,
}

pub async fn submit(endpoint: &Endpoint, r: &TemplateRequest) -> Result<Accepted, ProviderError> {
    let post = endpoint
        .http
        .post(format!("{}{CREATE_PATH}", endpoint.base_url))
        .bearer_auth(endpoint.key.expose())
        .json(&CreateRequest::new(r))
        .timeout(endpoint.timeout);
    let answer = http::exchange(P, Exchange::Submit, post).await?;
    classify_create(&answer)
}

pub async fn poll(endpoint: &Endpoint, task: &RemoteTask) -> Result<PollOutcome, ProviderError> {
    let get = endpoint
        .http
        .get(format!("{}{QUERY_PATH}", endpoint.base_url))
        .query(&[("task_id", task.id.as_str())])
        .bearer_auth(endpoint.key.expose())
        .timeout(endpoint.timeout);
    let answer = http::exchange(P, Exchange::Read, get).await?;
    classify_query(&answer)
}

/// Reads a create answer: the same rules as a v1 create (a task id means a task
/// that may be billed, whatever the code; an unreadable 2xx is in doubt).
pub(crate) fn classify_create(a: &Answer) -> Result<Accepted, ProviderError> {
    if !(200..300).contains(&a.status) {
        let code = serde_json::from_slice::<CreateResponse>(&a.body).map_or(0, |r| r.base_resp.status_code);
        let class = match a.status {
            429 => ErrorClass::RateLimited { retry_after: None },
            401 | 403 => ErrorClass::Auth,
            408 => ErrorClass::InDoubt,
            400..=499 if code != 0 => code_class(code),
            400..=499 => ErrorClass::Rejected,
            _ => ErrorClass::InDoubt,
        };
        return Err(http_error(a, class));
    }
    let Ok(resp) = serde_json::from_slice::<CreateResponse>(&a.body) else {
        return Err(error(
            a,
            ErrorClass::InDoubt,
            None,
            format!("a 2xx answer that is not a template create answer: {}", a.text()),
        ));
    };
    if let Some(id) = resp.task_id.as_ref().and_then(TaskId::text) {
        let task = RemoteTask { id, kind: TaskKind::Template, ..RemoteTask::default() };
        return Ok(Accepted { task, replayed: false });
    }
    let code = resp.base_resp.status_code;
    if code == 0 {
        return Err(error(a, ErrorClass::InDoubt, None, "status 0 but no task_id in the answer".into()));
    }
    Err(error(a, code_class(code), Some(code), resp.base_resp.status_msg))
}

/// Reads a query answer; errors of the request itself are the outer `Err`.
pub(crate) fn classify_query(a: &Answer) -> Result<PollOutcome, ProviderError> {
    if !(200..300).contains(&a.status) {
        return Err(read_http_error(a));
    }
    let Ok(q) = serde_json::from_slice::<QueryResponse>(&a.body) else {
        return Err(error(a, ErrorClass::Transient, None, format!("a query answer that is not JSON: {}", a.text())));
    };
    let (code, msg) = (q.base_resp.status_code, q.base_resp.status_msg.clone());
    match query_status(a, code, msg, &q.status, "template task")? {
        Status::Failed(e) => return Ok(PollOutcome::Failed(e)),
        Status::Pending => return Ok(PollOutcome::Pending { progress: None, clips: Vec::new() }),
        Status::Success => {}
    }
    let Some(url) = q.video_url.filter(|u| !u.trim().is_empty()) else {
        return Ok(PollOutcome::Failed(error(a, ErrorClass::Failed, None, "Success without a video_url".into())));
    };
    let video_url = match http::video_url(P, &url) {
        Ok(u) => u,
        Err(e) => return Ok(PollOutcome::Failed(e.status(a.status))),
    };
    let remote_id = q.task_id.as_ref().and_then(TaskId::text).unwrap_or_else(|| url.clone());
    let clip = Clip {
        video_url,
        remote_id,
        seed: None,
        cost_usd: None,
        width: None,
        height: None,
        usage_secs: None,
        list_cost_usd: None,
        nsfw: None,
    };
    Ok(PollOutcome::Done { clips: vec![clip] })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::testkit::answer;

    #[test]
    fn the_create_body_is_the_documented_one() {
        let r = TemplateRequest {
            template_id: "393769180141805569".into(),
            media: vec![crate::provider::ImageInput::Url("https://example.com/a.jpeg".into())],
            text: vec!["Lion".into()],
        };
        let body = serde_json::to_value(CreateRequest::new(&r)).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"template_id":"393769180141805569","media_inputs":[{"value":"https://example.com/a.jpeg"}],"text_inputs":[{"value":"Lion"}]})
        );
    }

    #[test]
    fn create_answers_are_read_like_v1() {
        let ok =
            answer(200, r#"{"task_id":"401047179385389059","base_resp":{"status_code":0,"status_msg":"success"}}"#);
        let acc = classify_create(&ok).unwrap();
        assert_eq!((acc.task.id.as_str(), acc.task.kind), ("401047179385389059", TaskKind::Template));
        let limited = answer(200, r#"{"task_id":"","base_resp":{"status_code":1002,"status_msg":"rate limit"}}"#);
        assert!(matches!(classify_create(&limited).unwrap_err().class, ErrorClass::RateLimited { .. }));
        let bad = answer(200, r#"{"base_resp":{"status_code":2013,"status_msg":"invalid params"}}"#);
        assert_eq!(classify_create(&bad).unwrap_err().class, ErrorClass::Rejected);
        assert_eq!(classify_create(&answer(200, "<html>")).unwrap_err().class, ErrorClass::InDoubt);
    }

    #[test]
    fn query_answers_map_onto_poll_outcomes() {
        let q = |body: &str| classify_query(&answer(200, body));
        assert!(matches!(
            q(r#"{"task_id":"1","status":"Preparing","base_resp":{"status_code":0}}"#),
            Ok(PollOutcome::Pending { .. })
        ));
        assert!(matches!(
            q(r#"{"task_id":"1","status":"Processing","base_resp":{"status_code":0}}"#),
            Ok(PollOutcome::Pending { .. })
        ));
        match q(
            r#"{"task_id":"1","status":"Success","video_url":"https://cdn.example.com/v.mp4","base_resp":{"status_code":0}}"#,
        ) {
            Ok(PollOutcome::Done { clips }) => assert_eq!(clips[0].video_url, "https://cdn.example.com/v.mp4"),
            other => panic!("{other:?}"),
        }
        assert!(
            matches!(q(r#"{"task_id":"1","status":"Fail","base_resp":{"status_code":0}}"#), Ok(PollOutcome::Failed(e)) if e.class == ErrorClass::Failed)
        );
        assert!(
            matches!(q(r#"{"status":"","base_resp":{"status_code":2013,"status_msg":"task not found"}}"#), Ok(PollOutcome::Failed(e)) if e.class == ErrorClass::Gone)
        );
        assert!(q(r#"{"status":"","base_resp":{"status_code":1002}}"#).is_err());
    }
}
