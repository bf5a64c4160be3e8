//! The three provider clients against the in-process simulator: every error class of
//! every provider, the success paths, and that no error ever shows the API key.
//!
//! Each scenario is one `async fn(Provider, key) -> Vec<ProviderError>` that starts
//! its own simulator, drives the real client and asserts what it must; `scenarios!`
//! turns each into one test per provider (`clients::minimax::submit_billing`, ...), so
//! a failure names both, and runs them all once more with a distinctive key to check
//! that none of the errors they saw shows it.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use shotlist::catalog::{Mode, Provider, Resolution};
use shotlist::provider::{
    Accepted, AnyClient, ApiKey, Clip, Endpoint, ErrorClass, PollOutcome, PollTarget, ProviderError, RemoteTask,
    SubmitRequest, VideoApi,
};
use shotlist::sim::{ErrorShape, RenderTime, SimConfig, SimHandle, UnknownTask};
use uuid::Uuid;

use crate::sim::{fast, start};

/// The key the scenario tests use.
const KEY: &str = "sk-clients-test-key";
/// The key the leak check looks for.
const LEAK_KEY: &str = "sk-SIM-LEAK-9f3a";
/// No poll loop may run longer than this.
const DEADLINE: Duration = Duration::from_secs(10);

/// A fast simulator (1/100 speed, renders of 10–20 simulated seconds, so 0.1–0.2 s)
/// that accepts only `key` on every provider.
fn config(key: &str) -> SimConfig {
    let mut c = SimConfig { render: RenderTime { min_secs: 10.0, max_secs: 20.0 }, ..fast() };
    for p in Provider::ALL {
        c.provider_mut(p).api_key = Some(key.to_owned());
    }
    c
}

fn client(sim: &SimHandle, p: Provider, key: &str) -> AnyClient {
    client_at(&sim.base_url(p), p, key, Duration::from_secs(5))
}

fn client_at(base_url: &str, p: Provider, key: &str, timeout: Duration) -> AnyClient {
    AnyClient::new(p, Endpoint::new(base_url, ApiKey::new(key)).with_timeout(timeout))
}

/// Hailuo 2.3 under each provider's own id (text to video, 768p or 1080p, 6 s).
fn hailuo_23(p: Provider) -> &'static str {
    match p {
        Provider::Runware => "minimax:4@1",
        Provider::Minimax => "MiniMax-Hailuo-2.3",
        Provider::Segmind => "hailuo-2.3",
    }
}

/// A valid text-to-video submit of `model`: 768p, 6 s, 25 fps, one result, a fresh taskUUID.
fn submit_request(model: &str, prompt: &str) -> SubmitRequest {
    SubmitRequest {
        task_uuid: Uuid::new_v4(),
        model_id: model.to_owned(),
        mode: Mode::Text,
        prompt: Some(prompt.to_owned()),
        resolution: Resolution::P768,
        duration: 6,
        fps: 25,
        number_results: 1,
        prompt_optimizer: false,
        first_frame: None,
        last_frame: None,
        subject: None,
        ratio: None,
        references: Default::default(),
        options: Default::default(),
        ttl_secs: None,
        template: None,
    }
}

pub(crate) fn hailuo_request(p: Provider) -> SubmitRequest {
    submit_request(hailuo_23(p), "A stone drops into a calm pond [Push in]")
}

fn task(id: impl Into<String>) -> RemoteTask {
    RemoteTask {
        id: id.into(),
        status_url: None,
        response_url: None,
        api: Default::default(),
        kind: Default::default(),
    }
}

/// Fails unless `e` is `p`'s error of `class` (a rate limit's wait is checked apart).
fn expect_class(e: &ProviderError, p: Provider, what: &str, class: ErrorClass) {
    assert_eq!(e.provider, p, "{p} {what}: the error names another provider: {e:?}");
    assert!(
        std::mem::discriminant(&e.class) == std::mem::discriminant(&class),
        "{p} {what}: expected {}, got {}: {e:?}",
        class.name(),
        e.class.name()
    );
}

fn rate_limit_wait(e: &ProviderError) -> Option<Duration> {
    match e.class {
        ErrorClass::RateLimited { retry_after } => retry_after,
        _ => panic!("not a rate limit: {e:?}"),
    }
}

async fn submit_ok(c: &AnyClient, r: &SubmitRequest) -> Accepted {
    c.submit(r).await.unwrap_or_else(|e| panic!("{} submit should be accepted: {e:?}", c.provider()))
}

async fn submit_err(c: &AnyClient, r: &SubmitRequest, what: &str) -> ProviderError {
    match c.submit(r).await {
        Ok(a) => panic!("{} {what}: expected an error, the submit was accepted: {a:?}", c.provider()),
        Err(e) => e,
    }
}

/// One poll of one task.
async fn poll_once(c: &AnyClient, task: &RemoteTask, number_results: u32) -> Result<PollOutcome, ProviderError> {
    let mut out = c.poll(&[PollTarget { task, number_results }]).await?;
    assert_eq!(out.len(), 1, "{}: one outcome per polled task", c.provider());
    Ok(out.remove(0))
}

/// Polls until the task is no longer pending; fails the test past [`DEADLINE`] or on
/// a poll that fails as a request.
async fn poll_until_settled(c: &AnyClient, task: &RemoteTask, number_results: u32) -> PollOutcome {
    let started = Instant::now();
    loop {
        match poll_once(c, task, number_results).await {
            Ok(PollOutcome::Pending { .. }) => {}
            Ok(settled) => return settled,
            Err(e) => panic!("{}: polling task {} failed: {e:?}", c.provider(), task.id),
        }
        assert!(started.elapsed() < DEADLINE, "{}: task {} still pending after {DEADLINE:?}", c.provider(), task.id);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn poll_until_done(c: &AnyClient, task: &RemoteTask, number_results: u32) -> Vec<Clip> {
    match poll_until_settled(c, task, number_results).await {
        PollOutcome::Done { clips } => clips,
        other => panic!("{}: expected the task to finish, got {other:?}", c.provider()),
    }
}

async fn poll_until_failed(c: &AnyClient, task: &RemoteTask, number_results: u32) -> ProviderError {
    match poll_until_settled(c, task, number_results).await {
        PollOutcome::Failed(e) => e,
        other => panic!("{}: expected the task to fail, got {other:?}", c.provider()),
    }
}

/// GETs a clip URL: status and body.
async fn download(url: &str) -> (u16, Vec<u8>) {
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let r = http.get(url).send().await.unwrap_or_else(|e| panic!("downloading {url}: {e}"));
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap_or_else(|e| panic!("reading {url}: {e}")).to_vec())
}

fn assert_mp4(p: Provider, bytes: &[u8]) {
    assert!(bytes.len() > 8 && &bytes[4..8] == b"ftyp", "{p}: the clip is not an MP4 (no ftyp at offset 4)");
}

fn submits_seen(sim: &SimHandle, p: Provider) -> u64 {
    sim.stats().providers.get(p.name()).map_or(0, |s| s.submits)
}

/// A base URL where nothing listens (a port just released on loopback).
async fn refused_base_url(p: Provider) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    match p {
        Provider::Runware => format!("http://{addr}/v1"),
        _ => format!("http://{addr}"),
    }
}

// ---------------------------------------------------------------------------------
// Submit
// ---------------------------------------------------------------------------------

/// RateLimited: the second submit inside a minute of `requests_per_minute: 1`.
async fn submit_rate_limited(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.provider_mut(p).requests_per_minute = Some(1);
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    submit_ok(&c, &hailuo_request(p)).await;
    let e = submit_err(&c, &hailuo_request(p), "second submit over 1 per minute").await;
    expect_class(&e, p, "submit over the rate", ErrorClass::RateLimited { retry_after: None });
    let wait = rate_limit_wait(&e);
    match p {
        Provider::Runware => {
            // Runware does not document Retry-After; the simulator sends it and the client honours it.
            assert!(wait.is_some_and(|w| w <= Duration::from_secs(60)), "{p}: Retry-After read: {wait:?}");
            assert_eq!(e.code.as_deref(), Some("rateLimitExceeded"), "{p}: {e:?}");
            assert_eq!(e.http_status, Some(429), "{p}: {e:?}");
        }
        Provider::Minimax => {
            // 1002 inside HTTP 200; MiniMax documents no Retry-After, the simulator sends none.
            assert_eq!(wait, None, "{p}: {e:?}");
            assert_eq!(e.code.as_deref(), Some("1002"), "{p}: {e:?}");
            assert_eq!(e.http_status, Some(200), "{p}: {e:?}");
            assert!(e.trace_id.is_some(), "{p}: a MiniMax error keeps the Trace-Id: {e:?}");
        }
        Provider::Segmind => {
            // The wait comes from x-rate-limit-reset-at-utc (Segmind sends no Retry-After).
            assert!(wait.is_some_and(|w| w <= Duration::from_secs(60)), "{p}: reset header read: {wait:?}");
            assert_eq!(e.http_status, Some(429), "{p}: {e:?}");
        }
    }
    assert_eq!(sim.ledger().count(p), 1, "{p}: only the first submit was accepted");
    vec![e]
}

/// http5xx = 1: a 5xx before anything is processed.
async fn submit_5xx(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.http5xx = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let e = submit_err(&c, &hailuo_request(p), "submit answered 5xx").await;
    match p {
        Provider::Runware => {
            // A re-sent taskUUID cannot start a second task, so a 5xx is safe to retry.
            expect_class(&e, p, "submit 503", ErrorClass::Transient);
            assert_eq!((e.http_status, e.code.as_deref()), (Some(503), Some("serviceUnavailable")), "{p}: {e:?}");
        }
        Provider::Minimax => {
            // By design: MiniMax has no idempotency key and does not document whether a
            // 5xx created the task, and DESIGN rule 3 retries only "a 5xx the provider
            // documents as not accepted". The client cannot see that the simulator's 502
            // came before processing (ledger 0), so it stays in doubt, never resubmitted.
            expect_class(&e, p, "submit 502", ErrorClass::InDoubt);
            assert_eq!(e.http_status, Some(502), "{p}: {e:?}");
        }
        Provider::Segmind => {
            // Segmind documents "if a submit returns a 5xx, retry the submit".
            expect_class(&e, p, "submit 502", ErrorClass::Transient);
            assert_eq!(e.http_status, Some(502), "{p}: {e:?}");
        }
    }
    assert_eq!(sim.ledger().count(p), 0, "{p}: nothing was accepted");
    vec![e]
}

/// Transient: a refused connection proves nothing was sent (every provider, MiniMax included).
async fn submit_refused_connection(p: Provider, key: &str) -> Vec<ProviderError> {
    let c = client_at(&refused_base_url(p).await, p, key, Duration::from_secs(5));
    let e = submit_err(&c, &hailuo_request(p), "submit to a closed port").await;
    expect_class(&e, p, "refused connection", ErrorClass::Transient);
    assert_eq!(e.code.as_deref(), Some("transport"), "{p}: {e:?}");
    vec![e]
}

/// InDoubt: the submit is processed (accepted, billed), then the connection drops.
async fn submit_reset_after(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.reset_after = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let e = submit_err(&c, &hailuo_request(p), "submit reset after processing").await;
    expect_class(&e, p, "reset after the body", ErrorClass::InDoubt);
    assert_eq!(e.code.as_deref(), Some("transport"), "{p}: {e:?}");
    assert_eq!(sim.ledger().count(p), 1, "{p}: the task exists and is billed, which is why it is in doubt");
    vec![e]
}

/// InDoubt as well when the simulator drops the connection *before* processing: its
/// reset arrives after the 200 headers, as a reset after processing does, so the
/// client cannot tell the two apart and must not claim "not accepted".
async fn submit_reset_before(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.reset_before = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let e = submit_err(&c, &hailuo_request(p), "submit reset before processing").await;
    expect_class(&e, p, "reset before processing", ErrorClass::InDoubt);
    assert_eq!(sim.ledger().count(p), 0, "{p}: nothing was accepted");
    vec![e]
}

/// InDoubt: the submit is processed, then no answer comes before the client's deadline.
async fn submit_no_answer(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.no_answer = 1.0;
    cfg.hang_secs = 5.0;
    let sim = start(cfg).await;
    // 1 s, not less: on a loaded machine a shorter deadline can pass before the
    // simulator has taken the request in, and the check below would see no task.
    let c = client_at(&sim.base_url(p), p, key, Duration::from_millis(1000));
    let started = Instant::now();
    let e = submit_err(&c, &hailuo_request(p), "submit never answered").await;
    let took = started.elapsed();
    expect_class(&e, p, "no answer before the timeout", ErrorClass::InDoubt);
    assert_eq!(e.code.as_deref(), Some("transport"), "{p}: {e:?}");
    assert!(e.message.contains("timed out"), "{p}: {e:?}");
    assert!(took < Duration::from_secs(3), "{p}: the 1 s deadline held ({took:?})");
    assert_eq!(sim.ledger().count(p), 1, "{p}: the task was accepted");
    vec![e]
}

/// Rejected: a request the provider's validation refuses (sent, not refused locally).
async fn submit_rejected(p: Provider, key: &str) -> Vec<ProviderError> {
    let sim = start(config(key)).await;
    let c = client(&sim, p, key);
    let (request, status, code, says) = match p {
        // Hailuo 2.3 at 1080p runs 6 s only.
        Provider::Runware => (
            SubmitRequest { resolution: Resolution::P1080, duration: 10, ..hailuo_request(p) },
            400,
            Some("unsupportedDuration"),
            "allowed values",
        ),
        // Hailuo 2.3 has no 512P: 2013 inside HTTP 200.
        Provider::Minimax => {
            (SubmitRequest { resolution: Resolution::P512, ..hailuo_request(p) }, 200, Some("2013"), "512p")
        }
        // minimax-ai-director is image to video only: a text-only body lacks first_frame_image.
        Provider::Segmind => (
            submit_request("minimax-ai-director", "A lighthouse at night [Truck left]"),
            400,
            None,
            "first_frame_image",
        ),
    };
    let e = submit_err(&c, &request, "invalid submit").await;
    expect_class(&e, p, "refused input", ErrorClass::Rejected);
    assert_eq!(e.http_status, Some(status), "{p}: {e:?}");
    assert_eq!(e.code.as_deref(), code, "{p}: {e:?}");
    assert!(e.message.to_lowercase().contains(says), "{p}: the message should say {says:?}: {e:?}");
    assert_eq!(submits_seen(&sim, p), 1, "{p}: the simulator refused it, not the client");
    assert_eq!(sim.ledger().count(p), 0, "{p}: nothing was accepted");
    vec![e]
}

/// Rejected locally: a mode whose image is missing is never sent.
async fn submit_missing_image(p: Provider, key: &str) -> Vec<ProviderError> {
    let sim = start(config(key)).await;
    let c = client(&sim, p, key);
    let request = SubmitRequest { mode: Mode::FirstFrame, ..hailuo_request(p) };
    let e = submit_err(&c, &request, "first-frame submit without a frame").await;
    expect_class(&e, p, "missing first frame", ErrorClass::Rejected);
    assert!(e.message.contains("first frame"), "{p}: {e:?}");
    assert_eq!(submits_seen(&sim, p), 0, "{p}: the request never left the client");
    vec![e]
}

/// ContentBlocked: a prompt with the simulator's blocked word. Segmind accepts the job
/// and reports input moderation as a FAILED job, so it is seen on the poll.
async fn submit_content_blocked(p: Provider, key: &str) -> Vec<ProviderError> {
    let cfg = config(key);
    let prompt = format!("A quiet street at dusk, {}", cfg.blocked_word);
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let request = submit_request(hailuo_23(p), &prompt);
    let e = match p {
        Provider::Runware | Provider::Minimax => {
            let e = submit_err(&c, &request, "blocked prompt").await;
            expect_class(&e, p, "blocked prompt", ErrorClass::ContentBlocked);
            let (status, code) = if p == Provider::Runware { (400, "contentPolicyViolation") } else { (200, "1026") };
            assert_eq!((e.http_status, e.code.as_deref()), (Some(status), Some(code)), "{p}: {e:?}");
            assert_eq!(sim.ledger().count(p), 0, "{p}: nothing was accepted");
            e
        }
        Provider::Segmind => {
            let accepted = submit_ok(&c, &request).await;
            let e = poll_until_failed(&c, &accepted.task, 1).await;
            expect_class(&e, p, "input moderation as a FAILED job", ErrorClass::ContentBlocked);
            assert_eq!((e.http_status, e.code.as_deref()), (Some(422), Some("FAILED")), "{p}: {e:?}");
            assert!(e.message.contains("NSFW"), "{p}: {e:?}");
            assert_eq!(sim.ledger().total_usd, 0.0, "{p}: a blocked job bills nothing");
            e
        }
    };
    vec![e]
}

/// Billing: `credits_after: 0`, so the first submit finds no credits.
async fn submit_billing(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.provider_mut(p).credits_after = Some(0);
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let e = submit_err(&c, &hailuo_request(p), "submit without credits").await;
    expect_class(&e, p, "no credits", ErrorClass::Billing);
    match p {
        Provider::Runware => {
            assert_eq!((e.http_status, e.code.as_deref()), (Some(402), Some("insufficientCredits")), "{p}: {e:?}")
        }
        Provider::Minimax => assert_eq!((e.http_status, e.code.as_deref()), (Some(200), Some("1008")), "{p}: {e:?}"),
        Provider::Segmind => {
            assert_eq!(e.http_status, Some(406), "{p}: {e:?}");
            assert!(e.message.contains("Insufficient credits"), "{p}: {e:?}");
        }
    }
    assert_eq!(sim.ledger().count(p), 0, "{p}: nothing was accepted");
    vec![e]
}

/// Auth: the simulator accepts another key. The poll's request fails with Auth too.
async fn submit_auth(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.provider_mut(p).api_key = Some(format!("not-{key}"));
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let e = submit_err(&c, &hailuo_request(p), "submit with a refused key").await;
    expect_class(&e, p, "refused key", ErrorClass::Auth);
    let (status, code) = match p {
        Provider::Runware => (401, Some("invalidApiKey")),
        Provider::Minimax => (200, Some("1004")),
        Provider::Segmind => (401, None),
    };
    assert_eq!((e.http_status, e.code.as_deref()), (Some(status), code), "{p}: {e:?}");
    let id = if p == Provider::Minimax { "300000000000042".to_owned() } else { Uuid::new_v4().to_string() };
    let polled = poll_once(&c, &task(id), 1).await.expect_err("a poll with a refused key fails as a request");
    expect_class(&polled, p, "poll with a refused key", ErrorClass::Auth);
    assert_eq!(sim.ledger().count(p), 0, "{p}: nothing was accepted");
    vec![e, polled]
}

/// MiniMax: a key of the other region is refused with 2049, and the message says how
/// to fix it (the regional host, MINIMAX_BASE_URL).
async fn minimax_other_region_key(key: &str) -> Vec<ProviderError> {
    let p = Provider::Minimax;
    let cfg = config(key);
    let foreign = format!("{}{key}", cfg.minimax_other_region_prefix);
    let sim = start(cfg).await;
    let c = client(&sim, p, &foreign);
    let e = submit_err(&c, &hailuo_request(p), "submit with the other region's key").await;
    expect_class(&e, p, "other-region key", ErrorClass::Auth);
    assert_eq!(e.code.as_deref(), Some("2049"), "{e:?}");
    for needle in ["MINIMAX_BASE_URL", "api.minimax.io", "api.minimaxi.com", "region"] {
        assert!(e.message.contains(needle), "the 2049 message should mention {needle:?}: {e}");
    }
    assert!(e.trace_id.is_some(), "{e:?}");
    let polled = poll_once(&c, &task("300000000000042"), 1).await.expect_err("the poll is refused too");
    expect_class(&polled, p, "poll with the other region's key", ErrorClass::Auth);
    assert_eq!(polled.code.as_deref(), Some("2049"), "{polled:?}");
    vec![e, polled]
}

// ---------------------------------------------------------------------------------
// Poll
// ---------------------------------------------------------------------------------

/// Failed: the provider ran the task and it failed.
async fn poll_failed(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.provider_failure = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let accepted = submit_ok(&c, &hailuo_request(p)).await;
    let e = poll_until_failed(&c, &accepted.task, 1).await;
    expect_class(&e, p, "provider failure", ErrorClass::Failed);
    match p {
        Provider::Runware => assert_eq!(e.code.as_deref(), Some("timeoutProvider"), "{p}: {e:?}"),
        Provider::Minimax => assert!(e.code.is_none() && !e.message.is_empty(), "{p}: {e:?}"),
        Provider::Segmind => {
            assert_eq!((e.http_status, e.code.as_deref()), (Some(422), Some("FAILED")), "{p}: {e:?}");
            assert!(e.message.contains("Upstream provider failed"), "{p}: {e:?}");
        }
    }
    assert_eq!(sim.ledger().total_usd, 0.0, "{p}: a failed task bills nothing");
    vec![e]
}

/// ContentBlocked on output: the task ran, moderation blocked the video.
async fn poll_content_blocked_output(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.content_blocked_output = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let accepted = submit_ok(&c, &hailuo_request(p)).await;
    let e = poll_until_failed(&c, &accepted.task, 1).await;
    expect_class(&e, p, "output blocked", ErrorClass::ContentBlocked);
    let (status, code) = match p {
        Provider::Runware => (200, "providerContentPolicyViolation"),
        Provider::Minimax => (200, "1027"),
        Provider::Segmind => (422, "FAILED"),
    };
    if p != Provider::Runware {
        // Runware's task errors come inside a 200 batch answer and carry no status of their own.
        assert_eq!(e.http_status, Some(status), "{p}: {e:?}");
    }
    assert_eq!(e.code.as_deref(), Some(code), "{p}: {e:?}");
    assert_eq!(sim.ledger().total_usd, 0.0, "{p}: a blocked video bills nothing");
    vec![e]
}

/// Gone: the provider no longer knows the task. Runware: an unknown taskUUID with
/// `runwareUnknownTask: notFound`; MiniMax: an unknown task id; Segmind: a record past
/// its retention.
async fn poll_gone(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.runware_unknown_task = UnknownTask::NotFound;
    cfg.segmind_retention_secs = 30.0; // 0.3 s real
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let target = match p {
        Provider::Runware => task(Uuid::new_v4().to_string()),
        Provider::Minimax => task("300000000000042"),
        Provider::Segmind => {
            let accepted = submit_ok(&c, &hailuo_request(p)).await;
            tokio::time::sleep(Duration::from_millis(600)).await;
            accepted.task
        }
    };
    let e = match poll_once(&c, &target, 1).await {
        Ok(PollOutcome::Failed(e)) => e,
        other => panic!("{p}: expected the task to be gone, got {other:?}"),
    };
    expect_class(&e, p, "unknown or expired task", ErrorClass::Gone);
    match p {
        Provider::Runware => assert_eq!(e.code.as_deref(), Some("taskNotFound"), "{p}: {e:?}"),
        Provider::Minimax => assert_eq!(e.code.as_deref(), Some("2013"), "{p}: {e:?}"),
        Provider::Segmind => {
            assert_eq!(e.http_status, Some(404), "{p}: {e:?}");
            assert!(e.message.contains("expire"), "{p}: {e:?}");
        }
    }
    vec![e]
}

/// RateLimited poll: the second poll inside a minute of `polls_per_minute: 1` fails as
/// a request (the outer error). Renders are long here so both polls find the task pending.
async fn poll_rate_limited(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.render = RenderTime { min_secs: 300.0, max_secs: 400.0 };
    cfg.provider_mut(p).polls_per_minute = Some(1);
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let accepted = submit_ok(&c, &hailuo_request(p)).await;
    let first = poll_once(&c, &accepted.task, 1).await;
    assert!(matches!(first, Ok(PollOutcome::Pending { .. })), "{p}: the first poll is within the rate: {first:?}");
    let e = poll_once(&c, &accepted.task, 1).await.expect_err("the second poll is over the rate");
    expect_class(&e, p, "poll over the rate", ErrorClass::RateLimited { retry_after: None });
    let wait = rate_limit_wait(&e);
    match p {
        Provider::Runware | Provider::Segmind => {
            assert!(wait.is_some_and(|w| w <= Duration::from_secs(60)), "{p}: wait read: {wait:?}");
            assert_eq!(e.http_status, Some(429), "{p}: {e:?}");
        }
        Provider::Minimax => {
            assert_eq!(wait, None, "{p}: {e:?}");
            assert_eq!(e.code.as_deref(), Some("1002"), "{p}: {e:?}");
        }
    }
    vec![e]
}

/// Transient poll: a 200 whose body is not JSON. The task is real: with
/// `malformed_json: 1` the submit is processed too and answered with garbage (in doubt),
/// so its id is read from the ledger.
async fn poll_malformed_json(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.malformed_json = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let submitted = submit_err(&c, &hailuo_request(p), "submit answered with garbage").await;
    expect_class(&submitted, p, "2xx answer that is not JSON", ErrorClass::InDoubt);
    let ledger = sim.ledger();
    assert_eq!(ledger.count(p), 1, "{p}: the garbled submit was accepted");
    let e = poll_once(&c, &task(ledger.entries[0].task_id.clone()), 1)
        .await
        .expect_err("a poll answered with garbage fails as a request");
    expect_class(&e, p, "poll answered with garbage", ErrorClass::Transient);
    assert_eq!(e.http_status, Some(200), "{p}: {e:?}");
    vec![submitted, e]
}

/// Transient poll: a 5xx (before the simulator looks the task up).
async fn poll_5xx(p: Provider, key: &str) -> Vec<ProviderError> {
    let mut cfg = config(key);
    cfg.faults.http5xx = 1.0;
    let sim = start(cfg).await;
    let c = client(&sim, p, key);
    let id = if p == Provider::Minimax { "300000000000042".to_owned() } else { Uuid::new_v4().to_string() };
    let e = poll_once(&c, &task(id), 1).await.expect_err("a poll answered 5xx fails as a request");
    expect_class(&e, p, "poll answered 5xx", ErrorClass::Transient);
    let status = if p == Provider::Runware { 503 } else { 502 };
    assert_eq!(e.http_status, Some(status), "{p}: {e:?}");
    vec![e]
}

// ---------------------------------------------------------------------------------
// Success
// ---------------------------------------------------------------------------------

/// Submit, poll until done, download every clip. Runware renders two results in one
/// task and reports their cost; Segmind reports the cost; MiniMax reports the size.
async fn success(p: Provider, key: &str) -> Vec<ProviderError> {
    let sim = start(config(key)).await;
    let c = client(&sim, p, key);
    let n = if p == Provider::Runware { 2 } else { 1 };
    let request = SubmitRequest { number_results: n, ..hailuo_request(p) };
    let accepted = submit_ok(&c, &request).await;
    assert!(!accepted.replayed, "{p}: a first send is not a replay");
    match p {
        Provider::Runware => assert_eq!(accepted.task.id, request.task_uuid.to_string()),
        Provider::Minimax => assert!(accepted.task.id.chars().all(|ch| ch.is_ascii_digit()), "{accepted:?}"),
        Provider::Segmind => {
            for url in [&accepted.task.status_url, &accepted.task.response_url] {
                assert!(url.as_deref().is_some_and(|u| u.starts_with(&sim.url())), "{p}: {accepted:?}");
            }
        }
    }
    let clips = poll_until_done(&c, &accepted.task, n).await;
    assert_eq!(clips.len(), n as usize, "{p}: {clips:?}");
    let ids: BTreeSet<&str> = clips.iter().map(|clip| clip.remote_id.as_str()).collect();
    let urls: BTreeSet<&str> = clips.iter().map(|clip| clip.video_url.as_str()).collect();
    assert_eq!((ids.len(), urls.len()), (clips.len(), clips.len()), "{p}: distinct clips: {clips:?}");
    let mut bodies = BTreeSet::new();
    for clip in &clips {
        match p {
            Provider::Runware => {
                assert_eq!(clip.cost_usd, Some(0.28), "{p}: Hailuo 2.3 768p 6 s: {clip:?}");
                assert!(clip.seed.is_some(), "{p}: {clip:?}");
            }
            Provider::Minimax => {
                assert_eq!(clip.cost_usd, None, "{p}: MiniMax reports no cost: {clip:?}");
                assert_eq!((clip.width, clip.height), (Some(1366), Some(768)), "{p}: {clip:?}");
            }
            Provider::Segmind => assert_eq!(clip.cost_usd, Some(0.70), "{p}: from metrics.cost: {clip:?}"),
        }
        let (status, bytes) = download(&clip.video_url).await;
        assert_eq!(status, 200, "{p}: downloading {}", clip.video_url);
        assert_mp4(p, &bytes);
        bodies.insert(bytes);
    }
    assert_eq!(bodies.len(), clips.len(), "{p}: each clip's bytes differ");
    if p != Provider::Minimax {
        let refreshed = c.refresh_url(&accepted.task, &clips[0]).await;
        assert_eq!(refreshed, Ok(None), "{p}: the protocol has no URL refresh");
    }
    let ledger = sim.ledger();
    assert_eq!(ledger.count(p), 1, "{p}: {ledger:?}");
    assert_eq!(ledger.entries[0].clips_billed, n, "{p}: {ledger:?}");
    Vec::new()
}

macro_rules! scenarios {
    ($($scenario:ident),* $(,)?) => {
        mod runware {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Provider::Runware, super::KEY).await;
            })*
        }
        mod minimax {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Provider::Minimax, super::KEY).await;
            })*
        }
        mod segmind {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Provider::Segmind, super::KEY).await;
            })*
        }

        /// Every scenario of `p` in turn, with `key`: the errors each one saw.
        async fn every_scenario(p: Provider, key: &str) -> Vec<(Provider, &'static str, ProviderError)> {
            let mut seen = Vec::new();
            $(seen.extend($scenario(p, key).await.into_iter().map(|e| (p, stringify!($scenario), e)));)*
            seen
        }
    };
}

scenarios!(
    submit_rate_limited,
    submit_5xx,
    submit_refused_connection,
    submit_reset_after,
    submit_reset_before,
    submit_no_answer,
    submit_rejected,
    submit_missing_image,
    submit_content_blocked,
    submit_billing,
    submit_auth,
    poll_failed,
    poll_content_blocked_output,
    poll_gone,
    poll_rate_limited,
    poll_malformed_json,
    poll_5xx,
    success,
);

/// Every scenario again, with a distinctive key: none of the errors seen (of every
/// class, on every provider) shows it in its Display or Debug.
#[tokio::test]
async fn no_error_shows_the_api_key() {
    // The providers side by side, each one's scenarios in turn (all of them at once on
    // one thread would stretch the no-answer scenario's 1 s deadline past the simulator).
    let per_provider = Provider::ALL.map(|p| every_scenario(p, LEAK_KEY));
    let mut seen: Vec<_> = futures::future::join_all(per_provider).await.into_iter().flatten().collect();
    let other_region = minimax_other_region_key(LEAK_KEY).await;
    seen.extend(other_region.into_iter().map(|e| (Provider::Minimax, "other_region_key", e)));
    for (p, scenario, e) in &seen {
        let shown = format!("{e} | {e:?}");
        assert!(!shown.contains(LEAK_KEY), "{p} {scenario}: the key leaked: {shown}");
    }
    let classes: BTreeSet<&str> = seen.iter().map(|(_, _, e)| e.class.name()).collect();
    let all =
        ["auth", "billing", "content_blocked", "failed", "gone", "in_doubt", "rate_limited", "rejected", "transient"];
    assert_eq!(classes, BTreeSet::from(all), "the check saw every class");
    let endpoint = Endpoint::new("http://127.0.0.1:1", ApiKey::new(LEAK_KEY));
    assert!(!format!("{endpoint:?}").contains(LEAK_KEY), "an Endpoint's Debug hides the key");
}

// ---------------------------------------------------------------------------------
// One provider's own behaviour
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn minimax_other_region_key_is_auth_2049_naming_the_regional_host() {
    minimax_other_region_key(KEY).await;
}

#[tokio::test]
async fn minimax_refresh_url_after_expiry_gives_a_url_that_downloads() {
    let p = Provider::Minimax;
    let mut cfg = config(KEY);
    cfg.url_ttl_secs = 100.0; // 1 s real
    let sim = start(cfg).await;
    let c = client(&sim, p, KEY);
    let accepted = submit_ok(&c, &hailuo_request(p)).await;
    let clip = poll_until_done(&c, &accepted.task, 1).await.remove(0);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let (status, _) = download(&clip.video_url).await;
    assert_eq!(status, 403, "the first URL expired");
    let fresh = c.refresh_url(&accepted.task, &clip).await.expect("files/retrieve answers");
    let fresh = fresh.expect("MiniMax refreshes an expired URL");
    assert_ne!(fresh, clip.video_url);
    let (status, bytes) = download(&fresh).await;
    assert_eq!(status, 200, "the fresh URL downloads");
    assert_mp4(p, &bytes);
}

#[tokio::test]
async fn runware_resent_task_uuid_is_replayed_and_billed_once() {
    let p = Provider::Runware;
    let sim = start(config(KEY)).await;
    let c = client(&sim, p, KEY);
    let request = hailuo_request(p);
    let first = submit_ok(&c, &request).await;
    assert!(!first.replayed);
    let again = submit_ok(&c, &request).await;
    assert!(again.replayed, "conflictTaskUUID for our own taskUUID means already accepted: {again:?}");
    assert_eq!(again.task, first.task);
    let ledger = sim.ledger();
    assert_eq!(ledger.entries.len(), 1, "one task, billed once: {ledger:?}");
    assert_eq!(ledger.entries[0].task_id, request.task_uuid.to_string());
    assert_eq!(poll_until_done(&c, &again.task, 1).await.len(), 1, "the replayed task is the one that renders");
}

#[tokio::test]
async fn runware_task_errors_in_every_shape_end_as_failed() {
    let p = Provider::Runware;
    for (shape, n) in [(ErrorShape::Top, 1), (ErrorShape::Nested, 1), (ErrorShape::Mixed, 4)] {
        let mut cfg = config(KEY);
        cfg.faults.provider_failure = 1.0;
        cfg.runware_error_shape = shape;
        let sim = start(cfg).await;
        let c = client(&sim, p, KEY);
        let accepted = submit_ok(&c, &SubmitRequest { number_results: n, ..hailuo_request(p) }).await;
        let e = poll_until_failed(&c, &accepted.task, n).await;
        expect_class(&e, p, &format!("{shape:?} error shape"), ErrorClass::Failed);
        assert_eq!(e.code.as_deref(), Some("timeoutProvider"), "{shape:?}: {e:?}");
    }
}

/// Regression: a Runware task with one failed and one finished generation used to
/// end as `Failed` and drop the finished (billed) clip.
#[tokio::test]
async fn runware_partial_failure_still_collects_every_billed_clip() {
    let p = Provider::Runware;
    let mut cfg = config(KEY);
    cfg.faults.provider_failure = 0.5;
    let sim = start(cfg).await;
    let c = client(&sim, p, KEY);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let r = SubmitRequest {
            number_results: 2,
            ..submit_request(hailuo_23(p), &format!("partial {i}, a lake at dawn"))
        };
        tasks.push(submit_ok(&c, &r).await.task);
    }
    let mut partial = 0;
    for t in &tasks {
        let collected = match poll_until_settled(&c, t, 2).await {
            PollOutcome::Done { clips } => clips.len(),
            PollOutcome::PartlyFailed { clips, error } => {
                partial += 1;
                expect_class(&error, p, "partly failed task", ErrorClass::Failed);
                clips.len()
            }
            PollOutcome::Failed(_) => 0,
            other => panic!("{other:?}"),
        };
        let billed = sim.ledger().entries.iter().find(|e| e.task_id == t.id).unwrap().clips_billed as usize;
        assert_eq!(collected, billed, "task {}: every billed clip is returned", t.id);
    }
    assert!(partial > 0, "the seed gives at least one half-failed task");
}

/// With the default `{"data": []}` answer for an unknown taskUUID nothing says the task
/// is gone: the client reports it pending (the runner's deadline ends the wait).
#[tokio::test]
async fn runware_unknown_task_with_empty_data_stays_pending() {
    let p = Provider::Runware;
    let sim = start(config(KEY)).await;
    let c = client(&sim, p, KEY);
    let outcome = poll_once(&c, &task(Uuid::new_v4().to_string()), 1).await;
    assert_eq!(outcome, Ok(PollOutcome::Pending { progress: None, clips: Vec::new() }));
}

#[tokio::test]
async fn runware_batches_polls_and_reads_each_task_by_its_uuid() {
    let p = Provider::Runware;
    let sim = start(config(KEY)).await;
    let c = client(&sim, p, KEY);
    // 100 tasks a request (issue 15: Runware's docs and SDKs set no maximum; it was 25).
    assert_eq!(c.max_poll_batch(), 100);
    let a = submit_ok(&c, &hailuo_request(p)).await.task;
    let b = submit_ok(&c, &SubmitRequest { number_results: 2, ..hailuo_request(p) }).await.task;
    let unknown = task(Uuid::new_v4().to_string());
    let started = Instant::now();
    let outcomes = loop {
        let targets = [
            PollTarget { task: &a, number_results: 1 },
            PollTarget { task: &unknown, number_results: 1 },
            PollTarget { task: &b, number_results: 2 },
        ];
        let outcomes = c.poll(&targets).await.expect("a batch poll");
        assert_eq!(outcomes.len(), 3);
        if matches!((&outcomes[0], &outcomes[2]), (PollOutcome::Done { .. }, PollOutcome::Done { .. })) {
            break outcomes;
        }
        assert!(started.elapsed() < DEADLINE, "still pending after {DEADLINE:?}: {outcomes:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let clips = |o: &PollOutcome| match o {
        PollOutcome::Done { clips } => clips.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!((clips(&outcomes[0]), clips(&outcomes[2])), (1, 2));
    assert!(matches!(outcomes[1], PollOutcome::Pending { .. }), "{:?}", outcomes[1]);
    assert_eq!(sim.stats().providers["runware"].submits, 2);
}

/// The MiniMax client's template path against the simulator: accepted as a template
/// task, polled on its own endpoint to a direct URL; an unknown template or unfilled
/// slots are refused (2013), a bad key is an auth error, and the v1 query does not
/// know a template task.
#[tokio::test]
async fn minimax_templates_submit_poll_and_refusals() {
    use shotlist::provider::{TaskKind, TemplateRequest};
    let sim = start(config(KEY)).await;
    let c = client(&sim, Provider::Minimax, KEY);
    let mut r = submit_request("MiniMax-Hailuo-2.3", "unused");
    r.mode = Mode::Template;
    r.prompt = None;
    r.template = Some(TemplateRequest {
        template_id: "393769180141805569".into(), // Run for Life: one image, one text
        media: vec![shotlist::provider::ImageInput::Url("https://example.com/lion.jpeg".into())],
        text: vec!["Lion".into()],
    });
    let acc = c.submit(&r).await.unwrap();
    assert_eq!(acc.task.kind, TaskKind::Template);
    let started = Instant::now();
    let clip = loop {
        let target = PollTarget { task: &acc.task, number_results: 1 };
        match c.poll(&[target]).await.unwrap().remove(0) {
            PollOutcome::Done { clips } => break clips[0].clone(),
            PollOutcome::Pending { .. } => {}
            other => panic!("{other:?}"),
        }
        assert!(started.elapsed() < DEADLINE, "the template task never finished");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(clip.video_url.contains("/__sim/files/"), "{clip:?}");
    assert_eq!(c.refresh_url(&acc.task, &clip).await.unwrap(), None, "a template URL is direct: nothing to retrieve");
    let ledger = sim.ledger();
    assert_eq!(ledger.entries[0].model, "template:393769180141805569");

    // The v1 query does not know it.
    let v1 = RemoteTask { kind: TaskKind::Video, ..acc.task.clone() };
    let out = c.poll(&[PollTarget { task: &v1, number_results: 1 }]).await.unwrap().remove(0);
    assert!(matches!(&out, PollOutcome::Failed(e) if e.class == ErrorClass::Gone), "{out:?}");

    let mut unknown = r.clone();
    unknown.template.as_mut().unwrap().template_id = "1".into();
    assert_eq!(c.submit(&unknown).await.unwrap_err().class, ErrorClass::Rejected);
    let mut unfilled = r.clone();
    unfilled.template.as_mut().unwrap().text.clear();
    let e = c.submit(&unfilled).await.unwrap_err();
    assert_eq!((e.class.clone(), e.code.as_deref()), (ErrorClass::Rejected, Some("2013")), "{e:?}");
    let wrong_key = client(&sim, Provider::Minimax, "sk-not-the-key");
    assert_eq!(wrong_key.submit(&r).await.unwrap_err().class, ErrorClass::Auth);
    assert_eq!(sim.ledger().entries.len(), 1, "only the valid submit was accepted");
}
