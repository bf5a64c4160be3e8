//! A provider lane through the real client and the simulator: what slows the lane.
//! Runware documents 503 ("temporary capacity constraint") and 504 ("request exceeded
//! maximum queue wait time") as its queue being full, like 429: the whole lane backs
//! off and its pace drops; another provider's 5xx leaves its lane's pace alone.

use std::sync::Arc;
use std::time::Duration;

use shotlist::catalog::Provider;
use shotlist::provider::{AnyClient, ApiKey, Endpoint, ErrorClass};
use shotlist::run::lane::{Lane, LaneLimits};
use shotlist::run::worker::{self, Event};
use uuid::Uuid;

use crate::sim::{fast, start};

/// One submit through a lane of 600/min against a simulator answering every request
/// 5xx: returns the lane and the error the submit met.
async fn submit_into_5xx(p: Provider) -> (Arc<Lane>, shotlist::provider::ProviderError) {
    let mut cfg = fast();
    cfg.faults.http5xx = 1.0;
    let sim = start(cfg).await;
    let client =
        AnyClient::new(p, Endpoint::new(sim.base_url(p), ApiKey::new("k")).with_timeout(Duration::from_secs(5)));
    let limits = LaneLimits { submits_per_minute: 600, polls_per_minute: 600, max_in_flight: 60, rate_given: true };
    // Time scale 1: the lane's cooldown (seconds) outlasts the assertions below.
    let lane = Arc::new(Lane::new(p, limits, 1.0));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    worker::submit(
        None,
        lane.clone(),
        Arc::new(client),
        shotlist::plan::JobId::new(0),
        crate::clients::hailuo_request(p),
        tx,
    );
    let deadline = Duration::from_secs(10);
    loop {
        match tokio::time::timeout(deadline, rx.recv()).await.expect("an event in time").expect("an event") {
            Event::SubmitReady { go, .. } => go.send(Some((1, Uuid::new_v4()))).expect("the worker waits"),
            Event::Submitted { result, .. } => return (lane, result.expect_err("every answer is a 5xx")),
            _ => panic!("only a submit was started"),
        }
    }
}

#[tokio::test]
async fn a_runware_503_on_submit_backs_the_lane_off_and_cuts_its_pace() {
    let (lane, e) = submit_into_5xx(Provider::Runware).await;
    assert_eq!((e.class.clone(), e.http_status), (ErrorClass::Transient, Some(503)), "{e:?}");
    assert!(e.back_pressure().is_some(), "Runware documents 503 as its queue being full");
    assert!(lane.cooling(), "every worker of the lane waits");
    assert!(lane.pace_per_minute() < 590.0, "the pace is cut: {}", lane.pace_per_minute());
}

#[tokio::test]
async fn another_providers_5xx_leaves_its_lane_pace_alone() {
    let (lane, e) = submit_into_5xx(Provider::Segmind).await;
    assert!(e.http_status.is_some_and(|s| s >= 500), "{e:?}");
    assert_eq!(e.back_pressure(), None);
    assert!(!lane.cooling());
    assert_eq!(lane.pace_per_minute(), 600.0 * 0.99, "the manifest's 600/min, 1 % under");
}
