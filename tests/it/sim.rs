//! The simulator answers as the providers do (raw HTTP, no shotlist client), keeps
//! an honest ledger, and replays a seed identically.

use std::time::Duration;

use serde_json::{Value, json};
use shotlist::catalog::Provider;
use shotlist::sim::{self, SimConfig, SimHandle};

pub async fn start(config: SimConfig) -> SimHandle {
    sim::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts")
}

/// A fast scenario: renders of 1–2 simulated minutes at 1/100 speed.
pub fn fast() -> SimConfig {
    SimConfig { time_scale: 0.01, ..SimConfig::default() }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

async fn runware(s: &SimHandle, body: Value) -> (u16, Value) {
    let r = http().post(s.base_url(Provider::Runware)).bearer_auth("k").json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

fn video_task(uuid: &str, extra: Value) -> Value {
    let mut t = json!({
        "taskType": "videoInference", "taskUUID": uuid, "model": "minimax:4@1",
        "positivePrompt": "a stone drops into a calm pond", "width": 1366, "height": 768,
        "duration": 6, "fps": 25, "numberResults": 2, "deliveryMethod": "async", "includeCost": true
    });
    for (k, v) in extra.as_object().unwrap() {
        t[k] = v.clone();
    }
    json!([t])
}

async fn wait_runware_done(s: &SimHandle, uuid: &str) -> Vec<Value> {
    for _ in 0..200 {
        let (_, body) = runware(s, json!([{"taskType": "getResponse", "taskUUID": uuid}])).await;
        let items = body["data"].as_array().cloned().unwrap_or_default();
        if !items.is_empty() && items.iter().all(|i| i["status"] == "success") {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("runware task {uuid} never finished");
}

#[tokio::test]
async fn runware_resent_task_uuid_is_billed_once() {
    let s = start(fast()).await;
    let uuid = "6f1c2a8e-3d4b-4c5a-9e7f-0a1b2c3d4e5f";
    let (status, ack) = runware(&s, video_task(uuid, json!({}))).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack, json!({"data": [{"taskType": "videoInference", "taskUUID": uuid}]}));
    let (status, again) = runware(&s, video_task(uuid, json!({}))).await;
    assert_eq!(status, 400);
    assert_eq!(again["errors"][0]["code"], "conflictTaskUUID");
    assert_eq!(again["errors"][0]["taskUUID"], uuid);
    assert!(again.get("data").is_none());
    let ledger = s.ledger();
    assert_eq!(ledger.entries.len(), 1, "{ledger:?}");
    assert_eq!(ledger.entries[0].task_id, uuid);
}

#[tokio::test]
async fn runware_snapshots_are_cumulative_with_progress_and_no_empty_errors_key() {
    let s = start(SimConfig { time_scale: 0.02, ..SimConfig::default() }).await;
    let uuid = "11111111-2222-4333-8444-555555555555";
    runware(&s, video_task(uuid, json!({}))).await;
    let (status, early) = runware(&s, json!([{"taskType": "getResponse", "taskUUID": uuid}])).await;
    assert_eq!(status, 200);
    assert!(early.get("errors").is_none(), "{early}");
    let items = early["data"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert!(items.iter().all(|i| i["status"] == "processing" && i["progress"].is_u64()), "{early}");
    let done = wait_runware_done(&s, uuid).await;
    let ids: std::collections::BTreeSet<&str> = done.iter().map(|i| i["videoUUID"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 2);
    assert!(done.iter().all(|i| i["cost"] == 0.28 && i["seed"].as_u64().unwrap() > 0));
    // Polling again returns the same cumulative snapshot.
    let (_, again) = runware(&s, json!([{"taskType": "getResponse", "taskUUID": uuid}])).await;
    let again_ids: std::collections::BTreeSet<&str> =
        again["data"].as_array().unwrap().iter().map(|i| i["videoUUID"].as_str().unwrap()).collect();
    assert_eq!(ids, again_ids);
    let unknown =
        runware(&s, json!([{"taskType": "getResponse", "taskUUID": "99999999-2222-4333-8444-555555555555"}])).await;
    assert_eq!(unknown, (200, json!({"data": []})));
}

#[tokio::test]
async fn runware_validates_like_the_model_pages() {
    let s = start(fast()).await;
    let (status, e) = runware(
        &s,
        video_task("21111111-2222-4333-8444-555555555555", json!({"width": 1920, "height": 1080, "duration": 10})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(e["errors"][0]["code"], "unsupportedDuration");
    assert_eq!(e["errors"][0]["allowedValues"], json!([6]));
    let (status, e) =
        runware(&s, video_task("31111111-2222-4333-8444-555555555555", json!({"model": "minimax:2@3", "width": 1366})))
            .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) =
        runware(&s, video_task("41111111-2222-4333-8444-555555555555", json!({"model": "minimax:2@3"}))).await;
    assert_eq!((status, e["errors"][0]["code"].as_str()), (400, Some("unsupportedWorkflow")), "{e}");
    let r = http().post(s.base_url(Provider::Runware)).bearer_auth("").json(&json!([])).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(s.ledger().entries.len(), 0);
}

async fn minimax_get(s: &SimHandle, path: &str) -> Value {
    http().get(format!("{}{path}", s.url())).bearer_auth("k").send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn minimax_lifecycle_file_ids_and_expiring_urls() {
    let mut config = fast();
    config.url_ttl_secs = 30.0; // 0.3 s real
    let s = start(config).await;
    let r = http()
        .post(format!("{}/v1/video_generation", s.url()))
        .bearer_auth("k")
        .json(&json!({"model": "MiniMax-Hailuo-2.3", "prompt": "A man picks up a book [Pedestal up]", "duration": 6, "resolution": "1080P"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().contains_key("trace-id"));
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["base_resp"]["status_code"], 0);
    let task_id = created["task_id"].as_str().unwrap().to_owned();
    assert!(task_id.chars().all(|c| c.is_ascii_digit()));
    let mut seen = Vec::new();
    let query = loop {
        let q = minimax_get(&s, &format!("/v1/query/video_generation?task_id={task_id}")).await;
        let status = q["status"].as_str().unwrap().to_owned();
        if seen.last() != Some(&status) {
            seen.push(status.clone());
        }
        if status == "Success" {
            break q;
        }
        assert!(seen.len() < 6, "{seen:?}");
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    let order = ["Preparing", "Queueing", "Processing", "Success"];
    let positions: Vec<usize> = seen.iter().map(|s| order.iter().position(|o| o == s).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert!(query["file_id"].is_string(), "query gives file_id as a string: {query}");
    assert_eq!((query["video_width"].as_u64(), query["video_height"].as_u64()), (Some(1920), Some(1080)));
    let file_id = query["file_id"].as_str().unwrap();
    let retrieved = minimax_get(&s, &format!("/v1/files/retrieve?file_id={file_id}")).await;
    assert!(retrieved["file"]["file_id"].is_u64(), "retrieve gives file_id as a number: {retrieved}");
    let url = retrieved["file"]["download_url"].as_str().unwrap().to_owned();
    let bytes = http().get(&url).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(&bytes[4..8], b"ftyp", "a real MP4");
    assert_eq!(bytes.len() as u64, retrieved["file"]["bytes"].as_u64().unwrap());
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(http().get(&url).send().await.unwrap().status().as_u16(), 403, "expired URL");
    let fresh = minimax_get(&s, &format!("/v1/files/retrieve?file_id={file_id}")).await;
    let fresh_url = fresh["file"]["download_url"].as_str().unwrap();
    assert_ne!(fresh_url, url);
    assert_eq!(http().get(fresh_url).send().await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn minimax_rate_limit_is_1002_inside_http_200_and_never_billed() {
    let mut config = fast();
    config.provider_mut(Provider::Minimax).requests_per_minute = Some(2);
    let s = start(config).await;
    let mut codes = Vec::new();
    for i in 0..3 {
        let r = http()
            .post(format!("{}/v1/video_generation", s.url()))
            .bearer_auth("k")
            .json(&json!({"model": "T2V-01", "prompt": format!("shot {i} of a quiet lake")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        codes.push(body["base_resp"]["status_code"].as_u64().unwrap());
    }
    assert_eq!(codes, vec![0, 0, 1002]);
    assert_eq!(s.ledger().count(Provider::Minimax), 2);
    assert_eq!(s.stats().providers["minimax"].rate_limited, 1);
}

#[tokio::test]
async fn segmind_failed_is_422_with_body_and_records_expire_to_404() {
    let mut config = fast();
    config.faults.provider_failure = 1.0;
    config.segmind_retention_secs = 300.0; // 3 s real
    config.provider_mut(Provider::Segmind).requests_per_minute = Some(1);
    let s = start(config).await;
    let submit = |prompt: &'static str| {
        http()
            .post(format!("{}/v2/hailuo-2.3", s.url()))
            .header("x-api-key", "k")
            .json(&json!({"prompt": prompt, "duration": 6, "resolution": "768p", "prompt_optimizer": false}))
            .send()
    };
    let r = submit("a quiet lake at dawn").await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "QUEUED");
    let status_url = body["status_url"].as_str().unwrap().to_owned();
    assert!(status_url.starts_with(&s.url()), "absolute URL on the simulator: {status_url}");
    let limited = submit("another lake").await.unwrap();
    assert_eq!(limited.status().as_u16(), 429);
    assert!(limited.headers().contains_key("x-rate-limit-reset-at-utc"));
    assert!(!limited.headers().contains_key("retry-after"));
    let failed = loop {
        let r = http().get(&status_url).header("x-api-key", "k").send().await.unwrap();
        let code = r.status().as_u16();
        let b: Value = r.json().await.unwrap();
        if b["status"] == "FAILED" {
            assert_eq!(code, 422);
            break b;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(failed["error"].as_str().unwrap().len() > 5);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let gone = http().get(&status_url).header("x-api-key", "k").send().await.unwrap();
    assert_eq!(gone.status().as_u16(), 404);
    let ledger = s.ledger();
    assert_eq!(ledger.count(Provider::Segmind), 1);
    assert_eq!(ledger.total_usd, 0.0, "a failed job bills nothing");
}

#[tokio::test]
async fn a_seed_replays_identically_and_clips_differ() {
    async fn one_run(seed: u64) -> (Vec<Value>, Vec<Vec<u8>>) {
        let s = start(SimConfig { seed, ..fast() }).await;
        let uuid = "51111111-2222-4333-8444-555555555555";
        runware(&s, video_task(uuid, json!({}))).await;
        let mut items = wait_runware_done(&s, uuid).await;
        let mut clips = Vec::new();
        for i in &mut items {
            clips.push(
                http().get(i["videoURL"].as_str().unwrap()).send().await.unwrap().bytes().await.unwrap().to_vec(),
            );
            i.as_object_mut().unwrap().remove("videoURL"); // carries a wall-clock expiry
        }
        (items, clips)
    }
    let (a, clips_a) = one_run(7).await;
    let (b, clips_b) = one_run(7).await;
    let (c, _) = one_run(8).await;
    assert_eq!(a, b, "same seed, same answers");
    assert_eq!(clips_a, clips_b);
    assert_ne!(a, c, "another seed, other seeds and ids");
    assert_ne!(clips_a[0], clips_a[1], "each clip's bytes differ");
    assert!(clips_a.iter().all(|c| &c[4..8] == b"ftyp"));
}

#[tokio::test]
async fn reset_after_the_body_leaves_the_client_in_doubt_but_the_task_billed() {
    let mut config = fast();
    config.faults.reset_after = 1.0;
    let s = start(config).await;
    let r = http()
        .post(s.base_url(Provider::Runware))
        .bearer_auth("k")
        .json(&video_task("61111111-2222-4333-8444-555555555555", json!({})))
        .send()
        .await;
    let failed = match r {
        Err(_) => true,
        Ok(resp) => resp.bytes().await.is_err(),
    };
    assert!(failed, "the answer never arrives whole");
    assert_eq!(s.ledger().count(Provider::Runware), 1, "yet the task was accepted");
}
