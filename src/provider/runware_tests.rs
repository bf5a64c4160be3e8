//! Runware protocol tests: pure classification first, then the wire over wiremock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::*;
use crate::catalog::Resolution;
use crate::provider::testkit::{LEAK_KEY, TASK_UUID, answer, answer_with, assert_no_key, endpoint, request, url};

const OTHER: &str = "11111111-2222-4333-8444-555555555555";

fn submit(status: u16, body: &str) -> Result<Accepted, ProviderError> {
    classify_submit(&answer(status, body), TASK_UUID)
}

fn class_of(r: Result<Accepted, ProviderError>) -> ErrorClass {
    r.expect_err("expected an error").class
}

fn task(id: &str) -> RemoteTask {
    RemoteTask {
        id: id.into(),
        status_url: None,
        response_url: None,
        api: Default::default(),
        kind: Default::default(),
    }
}

fn poll_one(status: u16, body: &str, number_results: u32) -> Result<PollOutcome, ProviderError> {
    let t = task(TASK_UUID);
    classify_poll(&answer(status, body), &[PollTarget { task: &t, number_results }]).map(|mut v| v.remove(0))
}

fn failed_class(o: PollOutcome) -> ErrorClass {
    match o {
        PollOutcome::Failed(e) => e.class,
        other => panic!("expected a task failure, got {other:?}"),
    }
}

fn success(video: &str) -> Value {
    json!({"taskType": "videoInference", "taskUUID": TASK_UUID, "status": "success", "videoUUID": video,
           "videoURL": format!("https://vm.runware.ai/video/{video}.mp4"), "seed": 173317559, "cost": 0.56})
}

#[test]
fn submit_body_carries_every_field_and_both_frames() {
    let mut r = request("minimax:3@1");
    r.mode = Mode::FirstLast;
    r.resolution = Resolution::P1080;
    r.number_results = 2;
    r.prompt_optimizer = true;
    r.first_frame = url("https://example.com/first.jpg");
    r.last_frame = url("https://example.com/last.jpg");
    let expected = json!([{
        "taskType": "videoInference", "taskUUID": TASK_UUID, "model": "minimax:3@1",
        "positivePrompt": "A stone drops into a calm pond [Push in]", "width": 1920, "height": 1080,
        "duration": 6, "fps": 25, "numberResults": 2, "outputType": "URL", "outputFormat": "MP4",
        "outputQuality": 95, "deliveryMethod": "async", "includeCost": true,
        "inputs": {"frameImages": [{"image": "https://example.com/first.jpg", "frame": "first"},
                                   {"image": "https://example.com/last.jpg", "frame": "last"}]},
        "providerSettings": {"minimax": {"promptOptimizer": true}}
    }]);
    assert_eq!(submit_body(&r).unwrap(), expected);
}

#[test]
fn submit_body_without_prompt_or_frames_omits_them() {
    let mut r = request("minimax:1@1");
    r.prompt = None;
    r.resolution = Resolution::P720;
    let body = submit_body(&r).unwrap();
    assert!(body[0].get("positivePrompt").is_none() && body[0].get("inputs").is_none(), "{body}");
    assert_eq!((body[0]["width"].as_u64(), body[0]["height"].as_u64()), (Some(1366), Some(768)));
}

#[test]
fn subject_reference_is_rejected_before_sending() {
    let mut r = request("minimax:1@1");
    r.mode = Mode::Subject;
    r.subject = url("https://example.com/face.png");
    assert_eq!(submit_body(&r).unwrap_err().class, ErrorClass::Rejected);
}

#[test]
fn ack_for_our_uuid_means_accepted() {
    let a = submit(200, &format!(r#"{{"data":[{{"taskType":"videoInference","taskUUID":"{TASK_UUID}"}}]}}"#)).unwrap();
    assert_eq!((a.task.id.as_str(), a.replayed), (TASK_UUID, false));
}

#[test]
fn conflict_for_our_uuid_means_accepted() {
    for status in [400, 409, 200, 500] {
        let body = format!(
            r#"{{"data":[],"errors":[{{"code":"conflictTaskUUID","message":"already used","taskUUID":"{TASK_UUID}"}}]}}"#
        );
        let a = submit(status, &body).unwrap_or_else(|e| panic!("HTTP {status}: {e}"));
        assert!(a.replayed && a.task.id == TASK_UUID);
    }
    // Named only in `context`, or not named at all (we send one task per request).
    let ctx = format!(r#"{{"errors":[{{"code":"conflictTaskUUID","context":{{"taskUUID":"{TASK_UUID}"}}}}]}}"#);
    assert!(submit(400, &ctx).unwrap().replayed);
    assert!(submit(400, r#"{"errors":[{"code":"conflictTaskUUID","message":"dup"}]}"#).unwrap().replayed);
}

#[test]
fn uuids_match_without_case() {
    let upper = TASK_UUID.to_ascii_uppercase();
    let ack = format!(r#"{{"data":[{{"taskType":"videoInference","taskUUID":"{upper}"}}]}}"#);
    assert!(!submit(200, &ack).unwrap().replayed);
    let body =
        json!({"data": [{"taskUUID": upper, "status": "success", "videoUUID": "v", "videoURL": "https://x/v.mp4"}]});
    assert!(matches!(poll_one(200, &body.to_string(), 1).unwrap(), PollOutcome::Done { .. }));
}

#[test]
fn conflict_for_another_uuid_is_not_accepted() {
    let body = format!(r#"{{"errors":[{{"code":"conflictTaskUUID","taskUUID":"{OTHER}"}}]}}"#);
    assert_eq!(class_of(submit(400, &body)), ErrorClass::Rejected);
}

#[test]
fn two_xx_without_our_ack_is_in_doubt() {
    let other = format!(r#"{{"data":[{{"taskType":"videoInference","taskUUID":"{OTHER}"}}]}}"#);
    for body in [r#"{"data":[]}"#, "{}", other.as_str(), "<html>ok</html>", ""] {
        assert_eq!(class_of(submit(200, body)), ErrorClass::InDoubt, "{body}");
    }
}

#[test]
fn ack_wins_when_data_and_errors_come_together() {
    let body = format!(
        r#"{{"data":[{{"taskType":"videoInference","taskUUID":"{TASK_UUID}"}}],"errors":[{{"code":"x","taskUUID":"{OTHER}"}}]}}"#
    );
    assert!(!submit(200, &body).unwrap().replayed);
}

#[test]
fn rate_limits_are_rate_limited_and_honour_retry_after() {
    let a = answer_with(429, &[("retry-after", "7")], r#"{"errors":[{"code":"whatever"}]}"#);
    let e = classify_submit(&a, TASK_UUID).unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(7)) });
    assert_eq!(class_of(submit(429, "Too Many Requests")), ErrorClass::RateLimited { retry_after: None });
    for code in RATE_CODES {
        let body = format!(r#"{{"errors":[{{"code":"{code}","taskUUID":"{TASK_UUID}"}}]}}"#);
        assert_eq!(class_of(submit(200, &body)), ErrorClass::RateLimited { retry_after: None }, "{code}");
    }
}

#[test]
fn auth_statuses_and_codes_are_auth() {
    let invalid = r#"{"errors":[{"code":"invalidApiKey","message":"Invalid API key","parameter":"apiKey","taskType":"authentication"}]}"#;
    assert_eq!(class_of(submit(401, invalid)), ErrorClass::Auth);
    assert_eq!(class_of(submit(403, r#"{"errors":[]}"#)), ErrorClass::Auth);
    assert_eq!(class_of(submit(401, "nope")), ErrorClass::Auth);
    for code in AUTH_CODES {
        assert_eq!(class_of(submit(400, &format!(r#"{{"errors":[{{"code":"{code}"}}]}}"#))), ErrorClass::Auth);
    }
}

#[test]
fn payment_and_quota_codes_are_billing() {
    assert_eq!(class_of(submit(402, r#"{"errors":[{"code":"insufficientCredits"}]}"#)), ErrorClass::Billing);
    for code in QUOTA_CODES {
        assert_eq!(class_of(submit(400, &format!(r#"{{"errors":[{{"code":"{code}"}}]}}"#))), ErrorClass::Billing);
    }
}

#[test]
fn safety_codes_are_content_blocked() {
    for code in SAFETY_CODES {
        let body = format!(r#"{{"errors":[{{"code":"{code}","taskUUID":"{TASK_UUID}"}}]}}"#);
        assert_eq!(class_of(submit(400, &body)), ErrorClass::ContentBlocked, "{code}");
    }
}

#[test]
fn validation_error_keeps_code_parameter_and_allowed_values() {
    let body = format!(
        r#"{{"errors":[{{"code":"unsupportedDuration","message":"Invalid value for duration parameter.","parameter":"duration","type":"float","taskUUID":"{TASK_UUID}","allowedValues":[6]}}]}}"#
    );
    let e = submit(400, &body).unwrap_err();
    assert_eq!(
        (e.class, e.code.as_deref(), e.http_status),
        (ErrorClass::Rejected, Some("unsupportedDuration"), Some(400))
    );
    assert!(e.message.contains("parameter: duration") && e.message.contains("[6]"), "{}", e.message);
    let cross = r#"{"errors":[{"code":"invalidSize","parameter":["width","height"]}]}"#;
    assert!(submit(400, cross).unwrap_err().message.contains("width, height"));
    assert_eq!(class_of(submit(404, "not found")), ErrorClass::Rejected);
}

#[test]
fn timeouts_and_server_errors_are_transient() {
    for status in [408, 500, 502, 503, 504] {
        assert_eq!(class_of(submit(status, r#"{"errors":[{"code":"x"}]}"#)), ErrorClass::Transient, "{status}");
        assert_eq!(class_of(submit(status, "<html>")), ErrorClass::Transient, "{status}");
    }
    let body = format!(r#"{{"errors":[{{"code":"timeoutProvider","taskUUID":"{TASK_UUID}"}}]}}"#);
    assert_eq!(class_of(submit(200, &body)), ErrorClass::Transient);
}

#[test]
fn a_503_or_504_is_the_queue_full_and_slows_the_lane_as_a_429_does() {
    for status in [503, 504] {
        let e = submit(status, r#"{"errors":[{"code":"x"}]}"#).unwrap_err();
        assert_eq!(e.back_pressure(), Some(None), "{status}");
    }
    let limited = submit(429, r#"{"errors":[{"code":"rateLimitExceeded"}]}"#).unwrap_err();
    assert_eq!(limited.back_pressure(), Some(None));
    for status in [500, 502] {
        assert_eq!(submit(status, "<html>").unwrap_err().back_pressure(), None, "{status}");
    }
}

#[test]
fn singular_error_shape_is_read() {
    let e = submit(400, r#"{"error":{"code":"invalidApiKey","message":"bad key"}}"#).unwrap_err();
    assert_eq!((e.class, e.code.as_deref()), (ErrorClass::Auth, Some("invalidApiKey")));
    let e = submit(400, r#"{"error":"Something went wrong"}"#).unwrap_err();
    assert_eq!(e.class, ErrorClass::Rejected);
    assert!(e.message.contains("Something went wrong"));
}

#[test]
fn poll_matches_items_by_uuid_not_position() {
    let body = json!({"data": [
        {"taskType": "videoInference", "taskUUID": OTHER, "status": "processing"},
        success("v1"),
    ]});
    let (mine, other) = (task(TASK_UUID), task(OTHER));
    let targets = [PollTarget { task: &other, number_results: 1 }, PollTarget { task: &mine, number_results: 1 }];
    let out = classify_poll(&answer(200, &body.to_string()), &targets).unwrap();
    assert!(matches!(&out[0], PollOutcome::Pending { clips, .. } if clips.is_empty()), "{out:?}");
    assert!(matches!(&out[1], PollOutcome::Done { clips } if clips[0].remote_id == "v1"), "{out:?}");
}

#[test]
fn poll_snapshots_are_deduplicated_by_video_uuid() {
    let body = json!({"data": [success("v1"), success("v1"), {"taskUUID": TASK_UUID, "status": "processing", "progress": 40}]});
    match poll_one(200, &body.to_string(), 2).unwrap() {
        PollOutcome::Pending { progress, clips } => assert_eq!((progress, clips.len()), (Some(40), 1)),
        other => panic!("{other:?}"),
    }
    let done = json!({"data": [success("v1"), success("v2")]});
    assert!(matches!(poll_one(200, &done.to_string(), 2).unwrap(), PollOutcome::Done { clips } if clips.len() == 2));
}

#[test]
fn poll_dedupe_falls_back_to_result_index_then_url() {
    let by_index = json!({"data": [
        {"taskUUID": TASK_UUID, "status": "success", "resultIndex": 0, "videoURL": "https://x/a.mp4"},
        {"taskUUID": TASK_UUID, "status": "success", "resultIndex": 0, "videoURL": "https://x/a.mp4"},
    ]});
    assert!(
        matches!(poll_one(200, &by_index.to_string(), 2).unwrap(), PollOutcome::Pending { clips, .. } if clips.len() == 1)
    );
    let by_url = json!({"data": [
        {"taskUUID": TASK_UUID, "status": "success", "videoURL": "https://x/a.mp4"},
        {"taskUUID": TASK_UUID, "status": "success", "videoURL": "https://x/b.mp4"},
    ]});
    assert!(matches!(poll_one(200, &by_url.to_string(), 2).unwrap(), PollOutcome::Done { clips } if clips.len() == 2));
}

#[test]
fn poll_empty_data_and_unknown_statuses_are_pending_never_failed() {
    for body in [
        r#"{"data":[]}"#.to_string(),
        "{}".into(),
        json!({"data": [
        {"taskUUID": TASK_UUID, "status": "queued"}, {"taskUUID": TASK_UUID, "status": "pending", "progress": 10}]})
        .to_string(),
    ] {
        assert!(matches!(poll_one(200, &body, 1).unwrap(), PollOutcome::Pending { .. }), "{body}");
    }
}

#[test]
fn poll_errors_in_both_shapes_fail_only_their_task() {
    let top = json!({"data": [success("v9")], "errors": [{"code": "timeoutProvider", "status": "error",
        "message": "The external provider did not respond", "taskUUID": OTHER}]});
    let (mine, other) = (task(TASK_UUID), task(OTHER));
    let targets = [PollTarget { task: &mine, number_results: 1 }, PollTarget { task: &other, number_results: 1 }];
    let out = classify_poll(&answer(200, &top.to_string()), &targets).unwrap();
    assert!(matches!(out[0], PollOutcome::Done { .. }));
    assert_eq!(failed_class(out[1].clone()), ErrorClass::Failed);
    let nested = json!({"data": [{"taskType": "videoInference", "taskUUID": TASK_UUID, "status": "error",
        "error": {"code": "timeoutProvider", "message": "late"}}]});
    match poll_one(200, &nested.to_string(), 1).unwrap() {
        PollOutcome::Failed(e) => {
            assert_eq!((e.class, e.code.as_deref()), (ErrorClass::Failed, Some("timeoutProvider")))
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn poll_safety_errors_are_blocked_and_lost_tasks_are_gone() {
    let blocked = json!({"errors": [{"code": "providerContentPolicyViolation", "taskUUID": TASK_UUID}]});
    assert_eq!(failed_class(poll_one(200, &blocked.to_string(), 1).unwrap()), ErrorClass::ContentBlocked);
    for code in GONE_CODES {
        let body = json!({"data": [{"taskUUID": TASK_UUID, "status": "error", "error": {"code": code}}]});
        assert_eq!(failed_class(poll_one(200, &body.to_string(), 1).unwrap()), ErrorClass::Gone, "{code}");
    }
}

#[test]
fn poll_whole_request_failures_are_outer_errors() {
    let a = answer_with(429, &[("retry-after", "3")], r#"{"errors":[{"code":"rateLimitExceeded"}]}"#);
    let t = task(TASK_UUID);
    let e = classify_poll(&a, &[PollTarget { task: &t, number_results: 1 }]).unwrap_err();
    assert_eq!(e.class, ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(3)) });
    for (status, class) in [(401, ErrorClass::Auth), (403, ErrorClass::Auth), (402, ErrorClass::Billing)] {
        assert_eq!(poll_one(status, r#"{"errors":[{"code":"x"}]}"#, 1).unwrap_err().class, class);
    }
    for status in [500, 502, 503, 504] {
        assert_eq!(poll_one(status, "oops", 1).unwrap_err().class, ErrorClass::Transient);
    }
    let unscoped_auth = r#"{"errors":[{"code":"invalidApiKey","taskType":"authentication"}]}"#;
    assert_eq!(poll_one(200, unscoped_auth, 1).unwrap_err().class, ErrorClass::Auth);
    assert_eq!(poll_one(400, r#"{"errors":[{"code":"weird"}]}"#, 1).unwrap_err().class, ErrorClass::Transient);
}

#[test]
fn poll_malformed_json_is_transient() {
    assert_eq!(poll_one(200, "{\"data\": [", 1).unwrap_err().class, ErrorClass::Transient);
}

#[test]
fn poll_clip_carries_url_id_seed_and_cost_and_refuses_non_http_urls() {
    match poll_one(200, &json!({"data": [success("v1")]}).to_string(), 1).unwrap() {
        PollOutcome::Done { clips } => {
            let c = &clips[0];
            assert_eq!((c.video_url.as_str(), c.remote_id.as_str()), ("https://vm.runware.ai/video/v1.mp4", "v1"));
            assert_eq!((c.seed, c.cost_usd), (Some(173317559), Some(0.56)));
        }
        other => panic!("{other:?}"),
    }
    for bad in ["file:///etc/passwd", "data:video/mp4;base64,AAAA", "/video/v1.mp4"] {
        let body = json!({"data": [{"taskUUID": TASK_UUID, "status": "success", "videoUUID": "v1", "videoURL": bad}]});
        match poll_one(200, &body.to_string(), 1).unwrap() {
            PollOutcome::Failed(e) => assert!(e.class == ErrorClass::Failed && e.message.contains("refused"), "{e}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

// ---- over the wire ----

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

async fn server_with(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/v1")).respond_with(response).mount(&server).await;
    server
}

#[tokio::test]
async fn submit_posts_one_task_array_with_bearer_auth_to_the_base_url() {
    let server = server_with(ok(json!({"data": [{"taskType": "videoInference", "taskUUID": TASK_UUID}]}))).await;
    let client = RunwareClient::new(endpoint(format!("{}/v1", server.uri()), "rw-key"));
    let accepted = client.submit(&request("minimax:4@1")).await.unwrap();
    assert_eq!(accepted.task.id, TASK_UUID);
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].url.path(), "/v1");
    assert_eq!(sent[0].headers["authorization"], "Bearer rw-key");
    assert_eq!(sent[0].headers["content-type"], "application/json");
    let body: Value = sent[0].body_json().unwrap();
    assert_eq!(body.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (body[0]["taskType"].as_str(), body[0]["model"].as_str()),
        (Some("videoInference"), Some("minimax:4@1"))
    );
}

#[tokio::test]
async fn subject_reference_sends_nothing() {
    let server = server_with(ok(json!({}))).await;
    let client = RunwareClient::new(endpoint(format!("{}/v1", server.uri()), "k"));
    let mut r = request("minimax:1@1");
    r.subject = url("https://example.com/face.png");
    assert_eq!(client.submit(&r).await.unwrap_err().class, ErrorClass::Rejected);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn poll_batches_every_target_into_one_post() {
    let ids = [TASK_UUID, OTHER, "22222222-3333-4444-8555-666666666666"];
    let server =
        server_with(ok(json!({"data": [success("v1")], "errors": [{"code": "taskNotFound", "taskUUID": ids[2]}]})))
            .await;
    let client = RunwareClient::new(endpoint(format!("{}/v1", server.uri()), "k"));
    let tasks: Vec<RemoteTask> = ids.iter().map(|id| task(id)).collect();
    let targets: Vec<PollTarget> = tasks.iter().map(|t| PollTarget { task: t, number_results: 1 }).collect();
    let out = client.poll(&targets).await.unwrap();
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 1, "one POST for the whole batch");
    let expected: Vec<Value> = ids.iter().map(|id| json!({"taskType": "getResponse", "taskUUID": id})).collect();
    assert_eq!(sent[0].body_json::<Value>().unwrap(), Value::Array(expected));
    assert!(matches!(out[0], PollOutcome::Done { .. }));
    assert!(matches!(out[1], PollOutcome::Pending { .. }));
    assert_eq!(failed_class(out[2].clone()), ErrorClass::Gone);
    assert_eq!(client.max_poll_batch(), 100);
}

/// A tiny Runware: acknowledges the submit, answers "processing" once, then two videos.
struct FakeRunware {
    polls: AtomicUsize,
}

impl Respond for FakeRunware {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = request.body_json().unwrap();
        let uuid = body[0]["taskUUID"].as_str().unwrap().to_owned();
        if body[0]["taskType"] == "videoInference" {
            return ok(json!({"data": [{"taskType": "videoInference", "taskUUID": uuid}]}));
        }
        let mut items = vec![success("v1")];
        if self.polls.fetch_add(1, Ordering::SeqCst) == 0 {
            items.push(json!({"taskType": "videoInference", "taskUUID": uuid, "status": "processing", "progress": 50}));
        } else {
            items.push(success("v2"));
        }
        ok(json!({"data": items}))
    }
}

#[tokio::test]
async fn submit_then_poll_until_done() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1"))
        .respond_with(FakeRunware { polls: AtomicUsize::new(0) })
        .mount(&server)
        .await;
    let client = RunwareClient::new(endpoint(format!("{}/v1", server.uri()), "k"));
    let mut r = request("minimax:3@1");
    r.number_results = 2;
    let accepted = client.submit(&r).await.unwrap();
    let target = [PollTarget { task: &accepted.task, number_results: 2 }];
    match client.poll(&target).await.unwrap().remove(0) {
        PollOutcome::Pending { progress, clips } => assert_eq!((progress, clips.len()), (Some(50), 1)),
        other => panic!("{other:?}"),
    }
    match client.poll(&target).await.unwrap().remove(0) {
        PollOutcome::Done { clips } => {
            let ids: Vec<&str> = clips.iter().map(|c| c.remote_id.as_str()).collect();
            assert_eq!(ids, ["v1", "v2"]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn auth_failures_never_show_the_key() {
    // A server that echoes the key back, as some gateways do.
    let echo = json!({"errors": [{"code": "invalidApiKey", "message": format!("Invalid API key {LEAK_KEY}")}]});
    let server = server_with(ResponseTemplate::new(401).set_body_json(echo)).await;
    let client = RunwareClient::new(endpoint(format!("{}/v1", server.uri()), LEAK_KEY));
    let e = client.submit(&request("minimax:1@1")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    assert_no_key(&e, LEAK_KEY);
    let t = task(TASK_UUID);
    let e = client.poll(&[PollTarget { task: &t, number_results: 1 }]).await.unwrap_err();
    assert_no_key(&e, LEAK_KEY);
    // And a transport failure (nothing listening).
    let dead = RunwareClient::new(endpoint("http://127.0.0.1:9/v1", LEAK_KEY));
    assert_no_key(&dead.submit(&request("minimax:1@1")).await.unwrap_err(), LEAK_KEY);
}

#[test]
fn h3_tasks_name_their_resolution_and_send_reference_images() {
    let mut r = crate::provider::testkit::request("minimax:h3@0");
    r.resolution = crate::catalog::Resolution::P1440;
    r.ratio = Some(crate::catalog::Ratio::R9x16);
    let t = &submit_body(&r).unwrap()[0];
    assert_eq!(t["resolution"], "1440p");
    assert_eq!((t["width"].as_u64(), t["height"].as_u64()), (Some(1440), Some(2560)));
    assert!(t.get("fps").is_none() && t.get("providerSettings").is_none(), "{t}");
    r.mode = Mode::Reference;
    r.references.images = vec![crate::provider::ImageInput::Url("https://x/a.png".into())];
    let t = &submit_body(&r).unwrap()[0];
    assert_eq!(t["inputs"]["referenceImages"], serde_json::json!(["https://x/a.png"]));
    r.references.videos = vec![crate::provider::ImageInput::Url("https://x/a.mp4".into())];
    assert_eq!(submit_body(&r).unwrap_err().class, ErrorClass::Rejected);
}

#[test]
fn clip_options_and_the_ttl_go_on_the_wire() {
    use crate::catalog::output::{ClipOptions, OutputFormat, SafetyMode};
    let plain = submit_body(&request("minimax:4@1")).unwrap();
    assert_eq!((&plain[0]["outputFormat"], &plain[0]["outputQuality"]), (&json!("MP4"), &json!(95)));
    assert!(plain[0].get("safety").is_none() && plain[0].get("ttl").is_none());
    let mut r = request("minimax:4@1");
    r.options = ClipOptions {
        output_format: OutputFormat::Webm,
        output_quality: Some(80),
        safety: Some(SafetyMode::Full),
        ..ClipOptions::default()
    };
    r.ttl_secs = Some(259_200);
    let t = &submit_body(&r).unwrap()[0];
    assert_eq!(t["outputFormat"], "WEBM");
    assert_eq!(t["outputQuality"], 80);
    assert_eq!(t["safety"], json!({"checkContent": true, "mode": "full"}));
    assert_eq!(t["ttl"], 259_200);
}

#[test]
fn a_safety_verdict_is_kept_on_the_clip() {
    let body = format!(
        r#"{{"data":[{{"taskType":"videoInference","taskUUID":"{TASK_UUID}","status":"success","videoUUID":"v1","videoURL":"https://vm.runware.ai/v.webm","NSFWContent":true}}]}}"#
    );
    match poll_one(200, &body, 1).unwrap() {
        PollOutcome::Done { clips } => assert_eq!(clips[0].nsfw, Some(true)),
        other => panic!("{other:?}"),
    }
}
