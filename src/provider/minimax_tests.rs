//! MiniMax protocol tests: pure classification first, then the wire over wiremock.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::catalog::Resolution;
use crate::provider::testkit::{LEAK_KEY, answer, answer_with, assert_no_key, endpoint, request, url};

fn created(code: i64, task_id: &str) -> String {
    json!({"task_id": task_id, "base_resp": {"status_code": code, "status_msg": "msg"}}).to_string()
}

fn submit_class(status: u16, body: &str) -> ErrorClass {
    classify_submit(&answer(status, body)).expect_err("expected an error").class
}

fn query(body: Value) -> Result<Query, ProviderError> {
    classify_query(&answer(200, &body.to_string()))
}

fn query_failed(body: Value) -> ProviderError {
    match query(body).unwrap() {
        Query::Failed(e) => e,
        other => panic!("expected a task failure, got {other:?}"),
    }
}

fn ok_resp(code: i64) -> Value {
    json!({"status_code": code, "status_msg": if code == 0 { "success" } else { "error" }})
}

#[test]
fn hailuo_body_has_duration_and_upper_case_resolution() {
    let mut r = request("MiniMax-Hailuo-2.3");
    r.duration = 10;
    let body = submit_body(&r).unwrap();
    let expected = json!({"model": "MiniMax-Hailuo-2.3", "prompt": "A stone drops into a calm pond [Push in]",
                          "prompt_optimizer": false, "duration": 10, "resolution": "768P"});
    assert_eq!(body, expected);
    r.resolution = Resolution::P1080;
    assert_eq!(submit_body(&r).unwrap()["resolution"], "1080P");
}

#[test]
fn series_01_and_s2v_bodies_leave_out_duration_and_resolution() {
    let mut r = request("I2V-01-Director");
    r.mode = Mode::FirstFrame;
    r.resolution = Resolution::P720;
    r.prompt_optimizer = true;
    r.first_frame = url("https://example.com/f.jpg");
    let expected = json!({"model": "I2V-01-Director", "prompt": "A stone drops into a calm pond [Push in]",
                          "prompt_optimizer": true, "first_frame_image": "https://example.com/f.jpg"});
    assert_eq!(submit_body(&r).unwrap(), expected);
    let mut s = request("S2V-01");
    s.mode = Mode::Subject;
    s.prompt = None;
    s.subject = url("data:image/png;base64,AAAA");
    let expected = json!({"model": "S2V-01", "prompt_optimizer": false,
                          "subject_reference": [{"type": "character", "image": ["data:image/png;base64,AAAA"]}]});
    assert_eq!(submit_body(&s).unwrap(), expected);
}

#[test]
fn first_last_body_carries_both_frames_and_a_missing_frame_is_refused() {
    let mut r = request("MiniMax-Hailuo-02");
    r.mode = Mode::FirstLast;
    r.first_frame = url("https://example.com/a.jpg");
    r.last_frame = url("https://example.com/b.jpg");
    let body = submit_body(&r).unwrap();
    assert_eq!(
        (body["first_frame_image"].as_str(), body["last_frame_image"].as_str()),
        (Some("https://example.com/a.jpg"), Some("https://example.com/b.jpg"))
    );
    r.last_frame = None;
    assert_eq!(submit_body(&r).unwrap_err().class, ErrorClass::Rejected);
}

#[test]
fn status_0_with_task_id_is_accepted() {
    let a = classify_submit(&answer(200, &created(0, "106916112212032"))).unwrap();
    assert_eq!((a.task.id.as_str(), a.replayed), ("106916112212032", false));
    // A numeric id is read as its digits.
    let n = r#"{"task_id":106916112212032,"base_resp":{"status_code":0}}"#;
    assert_eq!(classify_submit(&answer(200, n)).unwrap().task.id, "106916112212032");
}

#[test]
fn a_task_id_with_an_error_code_is_accepted_so_it_is_polled_not_resent() {
    let a = classify_submit(&answer(200, &created(1002, "106916112212032"))).unwrap();
    assert_eq!(a.task.id, "106916112212032");
}

#[test]
fn status_0_without_task_id_is_in_doubt() {
    assert_eq!(submit_class(200, &created(0, "")), ErrorClass::InDoubt);
    assert_eq!(submit_class(200, r#"{"base_resp":{"status_code":0,"status_msg":"success"}}"#), ErrorClass::InDoubt);
}

#[test]
fn minimax_1002_in_http_200_is_rate_limited() {
    for code in [1002, 1039, 2045] {
        assert_eq!(submit_class(200, &created(code, "")), ErrorClass::RateLimited { retry_after: None }, "{code}");
    }
    // task_id left out entirely reads the same as "".
    assert_eq!(
        submit_class(200, r#"{"base_resp":{"status_code":1002,"status_msg":"rate limit"}}"#),
        ErrorClass::RateLimited { retry_after: None }
    );
}

#[test]
fn minimax_1004_is_auth() {
    assert_eq!(submit_class(200, &created(1004, "")), ErrorClass::Auth);
}

#[test]
fn minimax_2049_explains_regional_keys() {
    let e = classify_submit(&answer(200, &created(2049, ""))).unwrap_err();
    assert_eq!((e.class, e.code.as_deref()), (ErrorClass::Auth, Some("2049")));
    for needle in ["MINIMAX_API_KEY", "MINIMAX_BASE_URL=https://api.minimax.io", "https://api.minimaxi.com"] {
        assert!(e.message.contains(needle), "{needle} missing from {}", e.message);
    }
}

#[test]
fn billing_content_transient_and_rejected_codes() {
    for (codes, class) in [
        (&[1008, 2056][..], ErrorClass::Billing),
        (&[1026, 1027][..], ErrorClass::ContentBlocked),
        (&[1000, 1001, 1013, 1024, 1033][..], ErrorClass::Transient),
        (&[2013, 987654][..], ErrorClass::Rejected),
    ] {
        for code in codes {
            assert_eq!(submit_class(200, &created(*code, "")), class, "{code}");
        }
    }
}

#[test]
fn submit_http_statuses() {
    let a = answer_with(429, &[("retry-after", "12")], "slow down");
    assert_eq!(
        classify_submit(&a).unwrap_err().class,
        ErrorClass::RateLimited { retry_after: Some(Duration::from_secs(12)) }
    );
    assert_eq!(submit_class(401, ""), ErrorClass::Auth);
    assert_eq!(submit_class(403, ""), ErrorClass::Auth);
    assert_eq!(submit_class(400, "bad"), ErrorClass::Rejected);
    assert_eq!(submit_class(404, "bad"), ErrorClass::Rejected);
    assert_eq!(submit_class(408, ""), ErrorClass::InDoubt);
    assert_eq!(submit_class(400, &created(1002, "")), ErrorClass::RateLimited { retry_after: None });
    for status in [500, 502, 503, 504] {
        assert_eq!(submit_class(status, "gateway"), ErrorClass::InDoubt, "{status}");
    }
    let anthropic = r#"{"type":"error","error":{"type":"authorized_error","message":"invalid api key (2049)"}}"#;
    let e = classify_submit(&answer(401, anthropic)).unwrap_err();
    assert!(e.class == ErrorClass::Auth && e.message.contains("MINIMAX_BASE_URL"), "{e}");
}

#[test]
fn malformed_json_submit_is_in_doubt() {
    assert_eq!(submit_class(200, "{\"task_id\": \"12"), ErrorClass::InDoubt);
    assert_eq!(submit_class(200, "<html>"), ErrorClass::InDoubt);
}

#[test]
fn trace_id_is_kept_in_every_error() {
    let t = [("Trace-Id", "trace-abc")];
    let from = |status, body: &str| answer_with(status, &t, body);
    let errors = [
        classify_submit(&from(200, &created(1002, ""))).unwrap_err(),
        classify_submit(&from(502, "")).unwrap_err(),
        classify_query(&from(200, &json!({"base_resp": ok_resp(1002)}).to_string())).unwrap_err(),
        classify_query(&from(500, "")).unwrap_err(),
        match classify_query(&from(200, &json!({"status": "Fail", "base_resp": ok_resp(0)}).to_string())).unwrap() {
            Query::Failed(e) => e,
            other => panic!("{other:?}"),
        },
    ];
    for e in errors {
        assert_eq!(e.trace_id.as_deref(), Some("trace-abc"), "{e}");
        assert!(e.to_string().contains("Trace-Id: trace-abc"));
    }
}

#[test]
fn query_unfinished_states_are_pending() {
    for status in ["Preparing", "Queueing", "Processing", "Rendering", ""] {
        assert_eq!(query(json!({"task_id": "1", "status": status, "base_resp": ok_resp(0)})).unwrap(), Query::Pending);
    }
}

#[test]
fn query_fail_in_any_spelling_is_a_task_failure() {
    for status in ["Fail", "Failed", "FAIL", "failed"] {
        let e = query_failed(json!({"task_id": "1", "status": status, "base_resp": ok_resp(0)}));
        assert_eq!(e.class, ErrorClass::Failed, "{status}");
    }
    let e = query_failed(json!({"task_id": "1", "status": "Fail", "base_resp": ok_resp(1027)}));
    assert_eq!((e.class, e.code.as_deref()), (ErrorClass::ContentBlocked, Some("1027")));
    assert_eq!(query_failed(json!({"status": "Fail", "base_resp": ok_resp(1026)})).class, ErrorClass::ContentBlocked);
}

#[test]
fn query_success_reads_file_id_as_string_or_number() {
    let s = json!({"task_id": "1", "status": "Success", "file_id": "176844028768320", "video_width": 1920,
                   "video_height": 1080, "base_resp": ok_resp(0)});
    let expected = Query::Success { file_id: "176844028768320".into(), width: Some(1920), height: Some(1080) };
    assert_eq!(query(s).unwrap(), expected);
    let n = json!({"task_id": "1", "status": "Success", "file_id": 176844028768320u64, "base_resp": ok_resp(0)});
    assert!(matches!(query(n).unwrap(), Query::Success { file_id, width: None, .. } if file_id == "176844028768320"));
}

#[test]
fn query_success_without_file_id_is_a_task_failure() {
    for body in [json!({"status": "Success", "base_resp": ok_resp(0)}), json!({"status": "Success", "file_id": ""})] {
        assert_eq!(query_failed(body).class, ErrorClass::Failed);
    }
}

#[test]
fn query_level_codes() {
    let outer = |code| query(json!({"task_id": "", "status": "", "base_resp": ok_resp(code)})).unwrap_err().class;
    assert_eq!(outer(1002), ErrorClass::RateLimited { retry_after: None });
    assert_eq!(outer(1004), ErrorClass::Auth);
    assert_eq!(outer(2049), ErrorClass::Auth);
    for code in [1000, 1001, 1013, 1024, 1033, 4242] {
        assert_eq!(outer(code), ErrorClass::Transient, "{code}");
    }
    let e = query_failed(json!({"task_id": "", "status": "", "base_resp": ok_resp(2013)}));
    assert_eq!(e.class, ErrorClass::Gone);
}

#[test]
fn query_http_failures_and_malformed_json_are_outer_errors() {
    assert_eq!(classify_query(&answer(429, "")).unwrap_err().class, ErrorClass::RateLimited { retry_after: None });
    assert_eq!(classify_query(&answer(401, "")).unwrap_err().class, ErrorClass::Auth);
    for status in [500, 502, 503, 504] {
        assert_eq!(classify_query(&answer(status, "")).unwrap_err().class, ErrorClass::Transient, "{status}");
    }
    assert_eq!(classify_query(&answer(200, "{not json")).unwrap_err().class, ErrorClass::Transient);
}

#[test]
fn retrieve_reads_the_download_url_and_refuses_non_http() {
    let good = json!({"file": {"file_id": 176844028768320u64, "download_url": "https://cdn.example/o.mp4"},
                      "base_resp": ok_resp(0)});
    assert_eq!(
        classify_retrieve(&answer(200, &good.to_string())).unwrap(),
        Retrieved::Url("https://cdn.example/o.mp4".into())
    );
    let bad = json!({"file": {"download_url": "ftp://cdn.example/o.mp4"}, "base_resp": ok_resp(0)});
    match classify_retrieve(&answer(200, &bad.to_string())).unwrap() {
        Retrieved::Failed(e) => assert!(e.class == ErrorClass::Failed && e.message.contains("refused")),
        other => panic!("{other:?}"),
    }
    let gone = json!({"file": null, "base_resp": ok_resp(2013)});
    assert!(
        matches!(classify_retrieve(&answer(200, &gone.to_string())).unwrap(), Retrieved::Failed(e) if e.class == ErrorClass::Gone)
    );
    let limited = json!({"base_resp": ok_resp(1002)});
    assert_eq!(
        classify_retrieve(&answer(200, &limited.to_string())).unwrap_err().class,
        ErrorClass::RateLimited { retry_after: None }
    );
}

// ---- over the wire ----

#[tokio::test]
async fn submit_posts_the_create_body_with_bearer_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/video_generation"))
        .respond_with(ResponseTemplate::new(200).set_body_string(created(0, "106916112212032")))
        .mount(&server)
        .await;
    let client = MinimaxClient::new(endpoint(server.uri(), "mm-key"));
    let mut r = request("MiniMax-Hailuo-02");
    r.resolution = Resolution::P1080;
    assert_eq!(client.submit(&r).await.unwrap().task.id, "106916112212032");
    let sent = &server.received_requests().await.unwrap()[0];
    assert_eq!(sent.headers["authorization"], "Bearer mm-key");
    assert_eq!(sent.headers["content-type"], "application/json");
    let body: Value = sent.body_json().unwrap();
    assert_eq!((body["resolution"].as_str(), body["duration"].as_u64()), (Some("1080P"), Some(6)));
    assert_eq!(body["prompt_optimizer"], false);
}

#[tokio::test]
async fn submit_then_query_then_retrieve_until_done() {
    let server = MockServer::start().await;
    let query =
        || Mock::given(method("GET")).and(path("/v1/query/video_generation")).and(query_param("task_id", "555"));
    Mock::given(method("POST"))
        .and(path("/v1/video_generation"))
        .respond_with(ResponseTemplate::new(200).set_body_string(created(0, "555")))
        .mount(&server)
        .await;
    query()
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"task_id": "555", "status": "Processing", "base_resp": ok_resp(0)})),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    query()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"task_id": "555", "status": "Success",
            "file_id": "777", "video_width": 1366, "video_height": 768, "base_resp": ok_resp(0)})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/files/retrieve"))
        .and(query_param("file_id", "777"))
        .and(header("authorization", "Bearer k"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"file": {"file_id": 777,
            "download_url": format!("{}/dl/o.mp4", server.uri())}, "base_resp": ok_resp(0)})))
        .mount(&server)
        .await;
    let client = MinimaxClient::new(endpoint(server.uri(), "k"));
    let task = client.submit(&request("MiniMax-Hailuo-2.3")).await.unwrap().task;
    let target = [PollTarget { task: &task, number_results: 1 }];
    assert!(matches!(client.poll(&target).await.unwrap()[0], PollOutcome::Pending { .. }));
    let clip = match client.poll(&target).await.unwrap().remove(0) {
        PollOutcome::Done { mut clips } => clips.remove(0),
        other => panic!("{other:?}"),
    };
    assert_eq!((clip.remote_id.as_str(), clip.width, clip.height), ("777", Some(1366), Some(768)));
    assert_eq!(clip.video_url, format!("{}/dl/o.mp4", server.uri()));
    assert_eq!(client.refresh_url(&task, &clip).await.unwrap(), Some(clip.video_url.clone()));
}

#[tokio::test]
async fn auth_failures_never_show_the_key() {
    let server = MockServer::start().await;
    let echo =
        json!({"task_id": "", "base_resp": {"status_code": 2049, "status_msg": format!("invalid api key {LEAK_KEY}")}});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(echo.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET")).respond_with(ResponseTemplate::new(401).set_body_json(echo)).mount(&server).await;
    let client = MinimaxClient::new(endpoint(server.uri(), LEAK_KEY));
    let e = client.submit(&request("T2V-01")).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    assert_no_key(&e, LEAK_KEY);
    let task = RemoteTask {
        id: "1".into(),
        status_url: None,
        response_url: None,
        api: Default::default(),
        kind: Default::default(),
    };
    let e = client.poll(&[PollTarget { task: &task, number_results: 1 }]).await.unwrap_err();
    assert_eq!(e.class, ErrorClass::Auth);
    assert_no_key(&e, LEAK_KEY);
    let clip = Clip {
        video_url: "https://x/y.mp4".into(),
        remote_id: "7".into(),
        seed: None,
        cost_usd: None,
        width: None,
        height: None,
        usage_secs: None,
        list_cost_usd: None,
        nsfw: None,
    };
    assert_no_key(&client.refresh_url(&task, &clip).await.unwrap_err(), LEAK_KEY);
}

#[test]
fn pretreatment_and_watermark_are_sent_only_when_asked_for() {
    let plain = submit_body(&request("MiniMax-Hailuo-02")).unwrap();
    assert!(plain.get("fast_pretreatment").is_none() && plain.get("aigc_watermark").is_none());
    let mut r = request("MiniMax-Hailuo-02");
    r.options.fast_pretreatment = true;
    r.options.watermark = true;
    let body = submit_body(&r).unwrap();
    assert_eq!((&body["fast_pretreatment"], &body["aigc_watermark"]), (&json!(true), &json!(true)));
}
