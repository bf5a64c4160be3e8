//! MiniMax H3 end to end through the binary against the simulator: a night of H3
//! and H3-Max shots (text + ratio, first + last frame, references) on MiniMax's v2
//! API and on Runware, costs equal to the ledger (from v2's usage), and submits whose
//! answers were lost reconciled from the v2 task list on resume, never paid twice.

use shotlist::catalog::Provider;
use shotlist::manifest::references::samples;
use shotlist::run::journal::{self, Record};
use shotlist::sim::{Faults, ProviderSim, RenderTime, SimConfig};

use crate::util::{Night, check_night, read_report, stderr};

const SCALE: &str = "0.01";

fn quick() -> SimConfig {
    SimConfig { time_scale: 0.01, render: RenderTime { min_secs: 60.0, max_secs: 120.0 }, ..SimConfig::default() }
}

/// Frames and reference media beside the manifest.
fn media(night: &Night) {
    let frames = crate::util::root().join("tests/manifests/frames");
    for f in ["ok-first.png", "ok-last.png"] {
        std::fs::copy(frames.join(f), night.dir.path().join(f)).unwrap();
    }
    std::fs::write(night.dir.path().join("move.mp4"), samples::mp4(5)).unwrap();
    std::fs::write(night.dir.path().join("voice.wav"), samples::wav(3)).unwrap();
}

const NIGHT: &str = r#"version: 1
shots:
  - { id: mm-t2v, provider: minimax, model: h3, ratio: "16:9", duration: 6, prompt: "A kite climbs over a windy beach; the camera pushes in with small amplitude at slow speed." }
  - { id: mm-2k, provider: minimax, model: MiniMax-H3, ratio: "9:16", resolution: 2k, duration: 4, prompt: "[Shot 1] a dancer spins under neon; [Shot 2] she bows." }
  - { id: mm-max-fl, provider: minimax, model: h3-max, resolution: 480p, duration: 5, prompt: "The kite lands softly on the sand.", frames: { first: ok-first.png, last: ok-last.png } }
  - id: mm-refs
    provider: minimax
    model: h3
    ratio: "1:1"
    duration: 8
    prompt: "The courier from the photos cycles over the bridge, moving as in the clip, humming the tune."
    references: { images: [ok-first.png, ok-last.png, ok-first.png, ok-last.png, ok-first.png, ok-last.png], videos: [move.mp4], audio: [voice.wav] }
  - { id: rw-t2v, provider: runware, model: h3, ratio: "21:9", resolution: 1440p, duration: 5, prompt: "Rain on a tram window at night, city lights smearing past." }
  - { id: rw-max-fl, provider: runware, model: h3-max, duration: 6, prompt: "The kite lands.", frames: { first: ok-first.png, last: ok-last.png } }
  - { id: rw-refs, provider: runware, model: minimax:h3@0, ratio: "16:9", duration: 6, prompt: "The courier from the photos rides through the market.", references: { images: [ok-first.png, ok-last.png] } }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn an_h3_night_on_minimax_and_runware_completes_with_costs_equal_to_the_ledger() {
    let night = Night::start(quick()).await;
    media(&night);
    night.write("h3.yaml", NIGHT);
    let plan = night.run(&["plan", "h3.yaml", "--json"]).await;
    assert_eq!(plan.status.code(), Some(0), "{}", stderr(&plan));
    let out = night.run(&["run", "h3.yaml", "--out", "out", "--time-scale", SCALE, "-q"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_report(&night.out("out").join("report.csv"));
    assert_eq!(rows.len(), 7);
    let check = check_night(&night, "out");
    assert_eq!((check.done, check.double_charges, check.lost_results), (7, 0, 0), "{check:?}");
    let ledger = night.sim.ledger();
    assert_eq!(ledger.entries.len(), 7, "one billed task per shot");
    for p in [Provider::Minimax, Provider::Runware] {
        let reported: f64 =
            rows.iter().filter(|r| r["provider"] == p.name()).map(|r| r["cost_usd"].parse::<f64>().unwrap()).sum();
        let billed: f64 = ledger.entries.iter().filter(|e| e.provider == p).map(|e| e.billed_usd).sum();
        assert!(billed > 0.0 && (reported - billed).abs() < 1e-6, "{p}: report {reported} vs ledger {billed}");
    }
    // Usage × list price: 6 s at 768P = $0.48; 4 s at 2K = $0.52; 5 s at 480P = $0.25;
    // 8 s at 768P with 6 images (one past the free five) = $0.68.
    let cost = |id: &str| rows.iter().find(|r| r["shot_id"] == id).unwrap()["cost_usd"].parse::<f64>().unwrap();
    assert_eq!([cost("mm-t2v"), cost("mm-2k"), cost("mm-max-fl"), cost("mm-refs")], [0.48, 0.52, 0.25, 0.68]);
    // Runware returns a seed; it is in the report.
    assert!(rows.iter().filter(|r| r["provider"] == "runware").all(|r| !r["seed"].is_empty()));
    // The v2 tasks are journaled as v2, so a resumed run polls them there.
    let records = journal::read(&night.out("out").join("state.jsonl")).unwrap().records;
    let v2 = records
        .iter()
        .filter(|r| matches!(r, Record::Accepted { task, .. } if task.api == shotlist::catalog::Api::V2))
        .count();
    assert_eq!(v2, 4);
}

/// Half the MiniMax answers are cut off after the work was done: the first
/// run leaves the submits among them in doubt; the next run finds each in the task list, collects
/// it, and pays for nothing twice.
#[tokio::test(flavor = "multi_thread")]
async fn a_reset_after_accept_is_reconciled_on_resume_and_never_billed_twice() {
    let mut config = quick();
    // Half the answers are cut off after the work was done (polls too: they are retried).
    let faults = Faults { reset_after: 0.5, ..Faults::default() };
    config.providers.insert("minimax".into(), ProviderSim { faults: Some(faults), ..ProviderSim::default() });
    let night = Night::start(config).await;
    let shots: String = (0..8)
        .map(|i| format!("  - {{ id: s{i}, provider: minimax, model: h3, ratio: \"16:9\", duration: {}, prompt: \"shot {i}: a lighthouse in a storm\" }}\n", 5 + i))
        .collect();
    night.write("m.yaml", &format!("version: 1\nshots:\n{shots}"));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let first = night.run(&args).await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let in_doubt = check_night(&night, "out").in_doubt;
    assert!(in_doubt >= 2, "{in_doubt} in doubt\n{}", stderr(&first));
    let billed = night.sim.ledger().entries.len();
    assert_eq!(billed, 8, "each accepted submit made (and bills) one task");
    // The faults stay on: polls are cut off too, and retried.
    let second = night.run(&args).await;
    let err = stderr(&second);
    assert!(err.contains("the lost submit was found as MiniMax task"), "{err}");
    let check = check_night(&night, "out");
    assert_eq!((check.done, check.in_doubt, check.double_charges), (8, 0, 0), "{check:?}\n{err}");
    assert_eq!(err.matches("the lost submit was found").count(), in_doubt, "{err}");
    assert_eq!(night.sim.ledger().entries.len(), 8, "nothing was sent again");
    assert_eq!(second.status.code(), Some(0), "{err}");
}

/// An intent written but never sent (killed before the request left): the list holds
/// no such task once it has caught up, so it is proven not accepted and sent.
#[tokio::test(flavor = "multi_thread")]
async fn an_unsent_intent_is_proven_not_accepted_and_sent_again() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", "version: 1\nshots:\n  - { id: s0, provider: minimax, model: h3, ratio: \"16:9\", prompt: \"a quiet harbour at dawn\" }\n");
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    // Plan once to learn the job key, then forge the journal a kill would leave.
    let plan = crate::util::plan_json(night.dir.path(), "m.yaml");
    let key = plan["jobs"][0]["key"].as_str().unwrap().to_owned();
    std::fs::create_dir_all(night.out("out")).unwrap();
    let run_id = uuid::Uuid::new_v4();
    let at = journal::now();
    let def = journal::JobDef {
        shot: "s0".into(),
        variants: vec![1],
        provider: Provider::Minimax,
        model: "MiniMax-H3".into(),
        resolution: "768p".into(),
        duration: 6,
        fps: 24,
        number_results: 1,
        estimated_cost_usd: Some(0.48),
        // A journal line as today's shotlist writes it carries these too.
        version: 1,
        render_key: None,
        price_source: None,
        unit_price_usd: None,
        prompt: None,
        extension: "mp4".into(),
        ttl_secs: None,
    };
    let lines = [
        Record::Header { v: 1, run_id, created_at: at.clone(), tool: "test".into() },
        Record::Run { at: at.clone(), pid: 1, manifest: "m.yaml".into() },
        Record::Job { key: key.clone(), def },
        Record::Intent { key: key.clone(), attempt: 1, task_uuid: uuid::Uuid::new_v4(), at },
    ];
    let text: String = lines.iter().map(|r| serde_json::to_string(r).unwrap() + "\n").collect();
    std::fs::write(night.out("out").join("state.jsonl"), text).unwrap();
    let out = night.run(&args).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("it was never accepted, so it is sent again"), "{err}");
    assert_eq!(night.sim.ledger().entries.len(), 1);
    assert_eq!(check_night(&night, "out").done, 1);
}

/// A v2 task past MiniMax's query window (7 days; here a few simulated seconds) is
/// `gone`: the run says so instead of polling forever, and never sends it again.
#[tokio::test(flavor = "multi_thread")]
async fn a_task_past_the_query_window_is_gone_and_not_sent_again() {
    let config = SimConfig { minimax_v2_retention_secs: 20.0, ..quick() };
    let night = Night::start(config).await;
    night.write("m.yaml", "version: 1\nshots:\n  - { id: s0, provider: minimax, model: h3, ratio: \"1:1\", prompt: \"a slow tide over black sand\" }\n");
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let rows = read_report(&night.out("out").join("report.csv"));
    assert_eq!(rows[0]["status"], "failed");
    assert!(rows[0]["error"].starts_with("gone") && rows[0]["error"].contains("7 days"), "{:?}", rows[0]);
    let again = night.run(&args).await;
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(night.sim.ledger().entries.len(), 1, "a lost result is never paid for again");
}

/// SIGKILLs at random moments of an H3 night: every submit a kill left unanswered
/// is settled from the task list on resume (found, or proven unsent and sent), so the
/// night ends with every clip in, none in doubt, nothing paid twice.
#[tokio::test(flavor = "multi_thread")]
async fn an_h3_kill_loop_ends_reconciled_with_nothing_billed_twice() {
    let night = Night::start(quick()).await;
    let shots: String = (0..8)
        .map(|i| format!("  - {{ id: k{i}, provider: minimax, model: h3, ratio: \"16:9\", duration: {}, prompt: \"kill {i}: a tram in the rain\" }}\n", 4 + i))
        .collect();
    night.write(
        "m.yaml",
        &format!("version: 1\nproviders: {{ minimax: {{ requestsPerMinute: 600 }} }}\nshots:\n{shots}"),
    );
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    // The eight clips take a few hundred milliseconds here (a burst sends them at
    // once): kills early enough to land while the night runs.
    let kills = night.kill_loop(&args, 13, 40..400, 6, 16).await;
    assert!(kills >= 3, "only {kills} kills landed");
    let end = night.run_to_the_end(&args).await;
    let check = check_night(&night, "out");
    assert_eq!(
        (check.done, check.in_doubt, check.double_charges, check.lost_results),
        (8, 0, 0, 0),
        "{check:?}\n{}",
        stderr(&end)
    );
    assert_eq!(night.sim.ledger().entries.len(), 8, "one task per shot");
}
