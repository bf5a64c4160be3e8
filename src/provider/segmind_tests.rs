//! Segmind protocol tests: pure classification first, then the wire over wiremock.

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::provider::testkit::{LEAK_KEY, answer, answer_with, assert_no_key, endpoint, request, url};

const ID: &str = "2c7f59ea-13f1-402c-9353-915a2b5a2124";

fn accepted_body(base: &str) -> Value {
    json!({"request_id": ID, "status": "QUEUED", "poll_url": format!("{base}/v1/requests/{ID}"),
           "status_url": format!("{base}/v2/requests/{ID}/status"), "response_url": format!("{base}/v2/requests/{ID}")})
}

fn submit_class(status: u16, body: &str) -> ErrorClass {
    classify_submit(&answer(status, body)).expect_err("expected an error").class
}

fn status_failed(status: u16, body: &str) -> ProviderError {
    match classify_status(&answer(status, body)).unwrap() {
        Status::Failed(e) => e,
        other => panic!("expected a task failure, got {other:?}"),
    }
}

fn result(status: u16, body: Value) -> PollOutcome {
    classify_result(&answer(status, &body.to_string()), ID).unwrap()
}

#[test]
fn hailuo_23_body_has_duration_and_lower_case_resolution() {
    let mut r = request("hailuo-2.3");
    r.mode = Mode::FirstFrame;
    r.duration = 10;
    r.first_frame = url("https://example.com/f.png");
    let expected = json!({"prompt": "A stone drops into a calm pond [Push in]", "prompt_optimizer": false,
                          "first_frame_image": "https://example.com/f.png", "duration": 10, "resolution": "768p"});
    assert_eq!(submit_body(&r).unwrap(), expected);
    r.model_id = "hailuo-2.3-fast".into();
    r.resolution = Resolution::P1080;
    assert_eq!(submit_body(&r).unwrap()["resolution"], "1080p");
}

#[test]
fn hailuo_2_body_uses_image_url_and_mode() {
    let mut r = request("minimax-hailuo-2");
    r.mode = Mode::FirstLast;
    r.first_frame = url("https://example.com/a.png");
    r.last_frame = url("https://example.com/b.png");
    let body = submit_body(&r).unwrap();
    assert_eq!(body["image_url"], "https://example.com/a.png");
    assert_eq!(body["last_frame_image"], "https://example.com/b.png");
    assert_eq!(body["mode"], "standard");
    assert!(body.get("first_frame_image").is_none() && body.get("duration").is_none(), "{body}");
    r.resolution = Resolution::P1080;
    assert_eq!(submit_body(&r).unwrap()["mode"], "pro");
}

#[test]
fn fast_02_body_has_go_fast_and_video_01_takes_a_subject() {
    let mut r = request("hailuo-02-fast");
    r.resolution = Resolution::P512;
    let body = submit_body(&r).unwrap();
    assert_eq!((body["go_fast"].as_bool(), body["duration"].as_u64()), (Some(true), Some(6)));
    assert!(body.get("resolution").is_none());
    let mut s = request("minimax-ai");
    s.mode = Mode::Subject;
    s.subject = url("https://example.com/face.png");
    let body = submit_body(&s).unwrap();
    assert_eq!(body["subject_reference"], "https://example.com/face.png");
    assert!(body.get("duration").is_none() && body.get("resolution").is_none());
}

#[test]
fn submit_with_all_three_urls_is_accepted_and_keeps_them() {
    let a = classify_submit(&answer(200, &accepted_body("https://api.segmind.com").to_string())).unwrap();
    assert_eq!(a.task.id, ID);
    assert_eq!(a.task.status_url.as_deref(), Some(&*format!("https://api.segmind.com/v2/requests/{ID}/status")));
    assert_eq!(a.task.response_url.as_deref(), Some(&*format!("https://api.segmind.com/v2/requests/{ID}")));
}

#[test]
fn submit_2xx_missing_any_url_or_not_json_is_in_doubt() {
    for missing in ["request_id", "status_url", "response_url"] {
        let mut body = accepted_body("https://api.segmind.com");
        body.as_object_mut().unwrap().remove(missing);
        assert_eq!(submit_class(200, &body.to_string()), ErrorClass::InDoubt, "{missing}");
    }
    assert_eq!(submit_class(200, "<html>"), ErrorClass::InDoubt);
}

#[test]
fn submit_http_errors_map_to_the_taxonomy() {
    assert_eq!(submit_class(401, r#"{"error":"Invalid API key"}"#), ErrorClass::Auth);
    assert_eq!(submit_class(403, "forbidden"), ErrorClass::Auth);
    assert_eq!(
        submit_class(406, r#"{"error":"Insufficient credits. Balance 0.12, required 0.625"}"#),
        ErrorClass::Billing
    );
    assert_eq!(submit_class(406, "Invalid content type"), ErrorClass::Rejected);
    for status in [400, 404, 405, 410] {
        assert_eq!(submit_class(status, "<html>Method Not Allowed</html>"), ErrorClass::Rejected, "{status}");
    }
    for status in [500, 502, 503] {
        assert_eq!(submit_class(status, r#"{"error":"boom"}"#), ErrorClass::Transient, "{status}");
    }
    assert_eq!(submit_class(504, "Gateway Timeout"), ErrorClass::InDoubt);
    assert_eq!(submit_class(408, "Request Timeout"), ErrorClass::InDoubt);
    let e = classify_submit(&answer(400, r#"{"error":"Prompt is Mandatory and must be string"}"#)).unwrap_err();
    assert!(e.message.contains("Prompt is Mandatory"), "{e}");
}

#[test]
fn rate_limit_waits_for_the_reset_header_or_retry_after() {
    let a = answer_with(429, &[("x-rate-limit-reset-at-utc", "30")], r#"{"error":"rate_limit_exceeded"}"#);
    match classify_submit(&a).unwrap_err().class {
        ErrorClass::RateLimited { retry_after: Some(d) } => {
            assert!(d > Duration::from_secs(28) && d <= Duration::from_secs(30))
        }
        other => panic!("{other:?}"),
    }
    let a = answer_with(429, &[("retry-after", "5")], "");
    assert_eq!(
        classify_submit(&a).unwrap_err().class,
        ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(5)) }
    );
    assert_eq!(submit_class(429, ""), ErrorClass::RateLimited { retry_after: None });
}

#[test]
fn reset_header_reads_rfc3339_unix_seconds_and_http_dates_capped_at_an_hour() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000); // 2027-01-15T08:00:00Z
    let secs = |v: &str| parse_reset(v, now).map(|d| d.as_secs());
    assert_eq!(secs("2027-01-15T08:00:42Z"), Some(42));
    assert_eq!(secs("2027-01-15T08:00:42+00:00"), Some(42));
    assert_eq!(secs("2027-01-15T08:00:42"), Some(42)); // no offset: the header says UTC
    assert_eq!(secs("1800000042"), Some(42));
    assert_eq!(secs("1800000042000"), Some(42)); // milliseconds
    assert_eq!(secs(&httpdate::fmt_http_date(now + Duration::from_secs(42))), Some(42));
    assert_eq!(secs("2027-01-16T08:00:00Z"), Some(3600));
    assert_eq!(secs("2027-01-15T07:00:00Z"), Some(0)); // already past
    assert_eq!(secs("tomorrow"), None);
}

#[test]
fn status_queued_processing_and_unknown_are_pending() {
    for s in ["QUEUED", "PROCESSING", "WARMING_UP"] {
        let body = json!({"status": s, "request_id": ID, "metrics": {}}).to_string();
        assert_eq!(classify_status(&answer(200, &body)).unwrap(), Status::Pending, "{s}");
    }
    let done = json!({"status": "COMPLETED", "request_id": ID, "metrics": {"inference_time": 13.06}}).to_string();
    assert_eq!(classify_status(&answer(200, &done)).unwrap(), Status::Completed);
}

#[test]
fn segmind_failed_422_body_is_a_task_failure() {
    let body =
        r#"{"status":"FAILED","error":"Upstream provider rejected the prompt","metrics":{"inference_time":3.1}}"#;
    let e = status_failed(422, body);
    assert_eq!((e.class, e.http_status), (ErrorClass::Failed, Some(422)));
    assert!(e.message.contains("Upstream provider rejected the prompt"));
    assert_eq!(status_failed(200, body).class, ErrorClass::Failed);
}

#[test]
fn moderation_failures_are_content_blocked() {
    for text in [
        "NSFW content detected",
        "Safety checker tripped",
        "blocked by moderation",
        "Sensitive content",
        "violates content policy",
    ] {
        let body = json!({"status": "FAILED", "error": text}).to_string();
        assert_eq!(status_failed(422, &body).class, ErrorClass::ContentBlocked, "{text}");
    }
}

#[test]
fn status_404_is_gone_and_request_failures_are_outer() {
    assert_eq!(status_failed(404, &format!(r#"{{"error":"Request {ID} not found"}}"#)).class, ErrorClass::Gone);
    let outer = |status, body: &str| classify_status(&answer(status, body)).unwrap_err().class;
    assert_eq!(outer(401, r#"{"error":"Invalid API key"}"#), ErrorClass::Auth);
    assert_eq!(outer(429, ""), ErrorClass::RateLimited { retry_after: None });
    for status in [500, 502, 503, 504] {
        assert_eq!(outer(status, "bad gateway"), ErrorClass::Transient, "{status}");
    }
    assert_eq!(outer(200, "{oops"), ErrorClass::Transient);
    assert_eq!(outer(422, "not json"), ErrorClass::Transient);
}

#[test]
fn result_reads_output_or_video_url_and_cost() {
    let full = json!({"status": "COMPLETED", "output": "https://images.segmind.com/outputs/a.mp4",
                      "metrics": {"cost": 0.625, "remaining_credits": 41.2}});
    match result(200, full) {
        PollOutcome::Done { clips } => {
            assert_eq!(
                (clips[0].video_url.as_str(), clips[0].remote_id.as_str()),
                ("https://images.segmind.com/outputs/a.mp4", ID)
            );
            assert_eq!(clips[0].cost_usd, Some(0.625));
        }
        other => panic!("{other:?}"),
    }
    let video = json!({"status": "COMPLETED", "output": {"other": 1}, "video": {"url": "https://x/b.mp4"}});
    assert!(
        matches!(result(200, video), PollOutcome::Done { clips } if clips[0].video_url == "https://x/b.mp4" && clips[0].cost_usd.is_none())
    );
}

#[test]
fn result_refuses_non_http_urls_and_reads_failures() {
    match result(200, json!({"status": "COMPLETED", "output": "file:///tmp/x.mp4"})) {
        PollOutcome::Failed(e) => assert!(e.class == ErrorClass::Failed && e.message.contains("refused"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(
        matches!(result(200, json!({"status": "COMPLETED", "output": null})), PollOutcome::Failed(e) if e.class == ErrorClass::Failed)
    );
    assert!(
        matches!(result(422, json!({"status": "FAILED", "error": "x"})), PollOutcome::Failed(e) if e.class == ErrorClass::Failed)
    );
    assert!(matches!(result(404, json!({"error": "gone"})), PollOutcome::Failed(e) if e.class == ErrorClass::Gone));
    assert_eq!(classify_result(&answer(503, ""), ID).unwrap_err().class, ErrorClass::Transient);
    assert_eq!(classify_result(&answer(200, "<html>"), ID).unwrap_err().class, ErrorClass::Transient);
}

// ---- over the wire ----

#[tokio::test]
async fn submit_posts_the_slug_path_with_x_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v2/hailuo-2.3"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accepted_body(&server.uri())))
        .mount(&server)
        .await;
    let client = SegmindClient::new(endpoint(server.uri(), "sg-key"));
    let accepted = client.submit(&request("hailuo-2.3")).await.unwrap();
    assert_eq!(accepted.task.id, ID);
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.headers["x-api-key"], "sg-key");
    assert!(sent.headers.get("authorization").is_none());
    assert_eq!(sent.headers["content-type"], "application/json");
    let body: Value = sent.body_json().unwrap();
    assert_eq!((body["resolution"].as_str(), body["duration"].as_u64()), (Some("768p"), Some(6)));
}

#[tokio::test]
async fn submit_then_follow_the_returned_urls_until_done() {
    let server = MockServer::start().await;
    let base = server.uri();
    // URLs that are not the documented paths: the client must follow what it was given.
    let accepted = json!({"request_id": ID, "status": "QUEUED", "status_url": format!("{base}/elsewhere/s"),
                          "response_url": format!("{base}/elsewhere/r")});
    Mock::given(method("POST"))
        .and(path("/v2/minimax-ai"))
        .respond_with(ResponseTemplate::new(200).set_body_json(accepted))
        .mount(&server)
        .await;
    let status = |s: &str| ResponseTemplate::new(200).set_body_json(json!({"status": s, "request_id": ID}));
    Mock::given(method("GET"))
        .and(path("/elsewhere/s"))
        .respond_with(status("PROCESSING"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/elsewhere/s"))
        .and(header("x-api-key", "k"))
        .respond_with(status("COMPLETED"))
        .mount(&server)
        .await;
    let done = json!({"status": "COMPLETED", "output": format!("{base}/out/{ID}.mp4"), "metrics": {"cost": 0.6}});
    Mock::given(method("GET"))
        .and(path("/elsewhere/r"))
        .respond_with(ResponseTemplate::new(200).set_body_json(done))
        .mount(&server)
        .await;
    let client = SegmindClient::new(endpoint(base.clone(), "k"));
    let task = client.submit(&request("minimax-ai")).await.unwrap().task;
    let target = [PollTarget { task: &task, number_results: 1 }];
    assert!(matches!(client.poll(&target).await.unwrap()[0], PollOutcome::Pending { .. }));
    match client.poll(&target).await.unwrap().remove(0) {
        PollOutcome::Done { clips } => {
            assert_eq!((clips[0].video_url.clone(), clips[0].cost_usd), (format!("{base}/out/{ID}.mp4"), Some(0.6)));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn poll_without_stored_urls_uses_the_documented_path_and_reads_422() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("/v2/requests/{ID}/status")))
        .respond_with(ResponseTemplate::new(422).set_body_json(json!({"status": "FAILED", "error": "NSFW output"})))
        .mount(&server)
        .await;
    let client = SegmindClient::new(endpoint(server.uri(), "k"));
    let task = RemoteTask {
        id: ID.into(),
        status_url: None,
        response_url: None,
        api: Default::default(),
        kind: Default::default(),
    };
    let out = client.poll(&[PollTarget { task: &task, number_results: 1 }]).await.unwrap();
    assert!(matches!(&out[0], PollOutcome::Failed(e) if e.class == ErrorClass::ContentBlocked), "{out:?}");
}

#[tokio::test]
async fn auth_failures_never_show_the_key() {
    let server = MockServer::start().await;
    let echo = json!({"error": format!("Invalid API key {LEAK_KEY}")});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(echo.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401).set_body_json(echo)).mount(&server).await;
    let client = SegmindClient::new(endpoint(server.uri(), LEAK_KEY));
    let e = client.submit(&request("minimax-ai")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    assert_no_key(&e, LEAK_KEY);
    let task = RemoteTask {
        id: ID.into(),
        status_url: None,
        response_url: None,
        api: Default::default(),
        kind: Default::default(),
    };
    let e = client.poll(&[PollTarget { task: &task, number_results: 1 }]).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    assert_no_key(&e, LEAK_KEY);
}
