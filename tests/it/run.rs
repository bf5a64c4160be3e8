//! `shotlist run` end to end through the binary, against an in-process simulator:
//! every clip comes back, every cent is accounted for, kills and Ctrl-C lose
//! nothing, rate-limit storms are ridden out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use shotlist::catalog::Provider;
use shotlist::run::journal::{self, Record};
use shotlist::sim::SimConfig;

use crate::util::{NIGHT_KEYS, Night, mixed_manifest, read_report, stderr};

/// Renders of 1–2 simulated minutes at 1/100 speed, and the runner told the same scale.
fn quick() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        render: shotlist::sim::RenderTime { min_secs: 60.0, max_secs: 120.0 },
        ..SimConfig::default()
    }
}

const SCALE: &str = "0.01";

fn records(night: &Night, out: &str) -> Vec<Record> {
    journal::read(&night.out(out).join("state.jsonl")).expect("journal reads").records
}

/// Every done row's file exists under the out folder with the recorded hash, and no
/// temporary file is left.
fn assert_files_match(night: &Night, out: &str) -> usize {
    let root = night.out(out);
    let rows = read_report(&root.join("report.csv"));
    let mut done = 0;
    for r in &rows {
        // The folder's journal: one folder, one runner, no machine named.
        assert_eq!(r.get("machine").map(String::as_str), Some(""), "{r:?}");
        if r["status"] == "done" {
            done += 1;
            let bytes = std::fs::read(root.join(&r["file"])).unwrap_or_else(|e| panic!("{}: {e}", r["file"]));
            assert_eq!(&bytes[4..8], b"ftyp", "{} is an MP4", r["file"]);
            assert_eq!(
                shotlist::run::download::sha256_of(&root.join(&r["file"])).unwrap(),
                r["sha256"],
                "{}",
                r["file"]
            );
        }
    }
    crate::util::assert_no_temporary_file(&root, out);
    done
}

#[tokio::test(flavor = "multi_thread")]
async fn example_night_delivers_every_clip_with_costs_equal_to_the_ledger() {
    let night = Night::start(quick()).await;
    crate::util::copy_tree(&crate::util::root().join("manifests"), night.dir.path());
    let out = night.run(&["run", "example.yaml", "--out", "out", "--time-scale", SCALE, "-q"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_report(&night.out("out").join("report.csv"));
    assert_eq!(rows.len(), 10, "one row per clip of example.yaml");
    assert_eq!(assert_files_match(&night, "out"), 10);
    let ledger = night.sim.ledger();
    for p in [Provider::Runware, Provider::Segmind] {
        let reported: f64 =
            rows.iter().filter(|r| r["provider"] == p.name()).map(|r| r["cost_usd"].parse::<f64>().unwrap()).sum();
        let billed: f64 = ledger.entries.iter().filter(|e| e.provider == p).map(|e| e.billed_usd).sum();
        assert!((reported - billed).abs() < 1e-6, "{p}: report {reported} vs ledger {billed}");
    }
    // MiniMax reports no cost: its list price stands in where the catalog has one
    // (Hailuo 2.3 at 768p, 10 s: $0.56), else the cell stays empty, never 0.
    for r in rows.iter().filter(|r| r["provider"] == "minimax") {
        match r["model"].as_str() {
            "S2V-01" => assert!(r["cost_usd"].is_empty() && r["cost_source"].is_empty(), "{r:?}"),
            _ => assert_eq!((r["cost_usd"].as_str(), r["cost_source"].as_str()), ("0.56", "list"), "{r:?}"),
        }
    }
    assert_eq!(ledger.count(Provider::Minimax), 2);
    let jobs: BTreeSet<&str> = rows.iter().map(|r| r["job_key"].as_str()).collect();
    assert_eq!(ledger.entries.len(), jobs.len(), "one billed task per job");
    // `report` rebuilds the same file from the journal.
    let before = std::fs::read_to_string(night.out("out").join("report.csv")).unwrap();
    let rebuilt = night.run(&["report", "example.yaml", "--out", "out"]).await;
    assert_eq!(rebuilt.status.code(), Some(0), "{}", stderr(&rebuilt));
    assert_eq!(std::fs::read_to_string(night.out("out").join("report.csv")).unwrap(), before);
    // A second run finds everything done and submits nothing.
    let again = night.run(&["run", "example.yaml", "--out", "out", "--time-scale", SCALE, "-q"]).await;
    assert_eq!(again.status.code(), Some(0));
    assert!(stderr(&again).contains("9 jobs unchanged (9 done)"), "{}", stderr(&again));
    assert_eq!(night.sim.ledger().entries.len(), jobs.len());
}

#[test]
fn rehearsal_runs_the_example_without_any_key() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), dir.path());
    let mut cmd = assert_cmd::Command::cargo_bin("shotlist").unwrap();
    cmd.current_dir(dir.path()).args([
        "run",
        "example.yaml",
        "--rehearse",
        "--out",
        "night",
        "-q",
        "--time-scale",
        "0.005",
    ]);
    for (var, _) in NIGHT_KEYS {
        cmd.env_remove(var);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let folder = dir.path().join("night-rehearsal");
    let rows = read_report(&folder.join("report.csv"));
    assert_eq!(rows.len(), 10);
    assert!(rows.iter().all(|r| r["status"] == "done" && folder.join(&r["file"]).exists()));
    assert!(stderr(&out).contains("Simulator ledger"), "{}", stderr(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_is_refused_before_anything_is_sent() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", &mixed_manifest(1, 1, 0));
    let mut cmd = night.command(&["run", "m.yaml", "--out", "out"]);
    cmd.env_remove("MINIMAX_API_KEY");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("MINIMAX_API_KEY"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--rehearse"));
    assert_eq!(night.sim.ledger().entries.len(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_never_bills_twice_and_loses_nothing() {
    let mut config = quick();
    config.faults.http5xx = 0.05;
    config.faults.provider_failure = 0.03;
    let night = Night::start(config).await;
    night.write("m.yaml", &mixed_manifest(14, 5, 5));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let kills = night.kill_loop(&args, 0x5eed_1234, 80..980, 10, 10).await;
    night.run_to_the_end(&args).await;
    let check = crate::util::check_night(&night, "out");
    assert_eq!(check.clips, 14 + 5 + 5 + 5, "every clip has its row (5 runware shots have 2 results)");
    assert_eq!(check.double_charges, 0, "{}", check.double_charge_evidence.join("\n"));
    assert_eq!(check.lost_results, 0);
    assert!(check.unrecorded_billed <= check.in_doubt, "{check:?}");
    assert_eq!(check.pending, 0, "{check:?}");
    crate::util::proof_line(
        "crash loop",
        "24 jobs, SIGKILL at 10 fixed moments",
        &format!(
            "kills={kills} clips={} done={} failed={} in_doubt={} double_charges=0 lost_results=0",
            check.clips, check.done, check.failed, check.in_doubt
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_storms_are_ridden_out_with_few_limited_answers() {
    let mut config = quick();
    // The simulator enforces less than the runner is told: it has to discover the limit.
    config.provider_mut(Provider::Runware).requests_per_minute = Some(30);
    config.provider_mut(Provider::Minimax).requests_per_minute = Some(10);
    let night = Night::start(config).await;
    let mut m = mixed_manifest(60, 20, 0);
    m = m.replace("name: night\n", "name: night\nproviders:\n  runware: { requestsPerMinute: 60, maxInFlight: 60 }\n  minimax: { requestsPerMinute: 20, maxInFlight: 20 }\n");
    night.write("m.yaml", &m);
    // Both clocks run at 1/100: the runner believes in 60 and 20 submits per
    // (simulated) minute and meets 30 and 10.
    let t = Instant::now();
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let stats = night.sim.stats();
    let mut summary = BTreeMap::new();
    for (p, s) in &stats.providers {
        summary.insert(p.clone(), (s.submits, s.polls, s.rate_limited));
        // The limit is discovered once; after that the pace stays under it.
        assert!(s.rate_limited <= s.submits / 10 + 2, "{p}: {} limited of {} submits", s.rate_limited, s.submits);
    }
    eprintln!("storm: {summary:?} (submits, polls, rate_limited) in {:?}", t.elapsed());
    assert!(stats.providers["runware"].rate_limited > 0, "the storm did happen");
}

/// A manifest's 600/min against a provider that counts it over any 10 s (100 per 10 s,
/// as a token bucket would): the lane's burst meets the window once, learns it from
/// that one 429, and keeps to it for the rest of the night.
#[tokio::test(flavor = "multi_thread")]
async fn a_burst_meets_a_shorter_window_once_and_keeps_to_the_window_it_learnt() {
    // Real time: the window's slack is 1 % of it, 100 ms, above a loaded CI machine's
    // jitter (at a fifth of real time, 20 ms were not: a second limit ended the burst).
    let mut config = SimConfig {
        time_scale: 1.0,
        render: shotlist::sim::RenderTime { min_secs: 2.0, max_secs: 4.0 },
        ..SimConfig::default()
    };
    let runware = config.provider_mut(Provider::Runware);
    runware.requests_per_minute = Some(600);
    runware.rate_window_secs = Some(10.0);
    let night = Night::start(config).await;
    let m = mixed_manifest(300, 0, 0)
        .replace("name: night\n", "name: night\nproviders:\n  runware: { requestsPerMinute: 600, maxInFlight: 60 }\n");
    night.write("m.yaml", &m);
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", "1", "-vv"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // The window learnt: 10 seconds.
    let learnt: Vec<&str> = err.lines().filter(|l| l.contains("a burst met a limit")).collect();
    assert!(learnt.first().is_some_and(|l| l.contains("learnt=Some(10s)")), "{learnt:?}");
    let check = crate::util::check_night(&night, "out");
    assert_eq!(
        (check.done, check.failed, check.in_doubt, check.double_charges, check.lost_results),
        (400, 0, 0, 0, 0),
        "300 shots, every third with two results"
    );
    // Met once: a second limit the lane heeds would end the burst (`learnt=None`), and
    // bursting on without learning meets one at each of its four windows of 100.
    assert_eq!(learnt.len(), 1, "{learnt:?}");
    // The one wall's refusals: the sends let go before its first refusal came back
    // (20 ms apart; about one on an idle loopback, a few on a loaded debug build).
    let limited = night.sim.stats().providers["runware"].rate_limited;
    assert!((1..=10).contains(&limited), "{limited} rate-limited answers");
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread")]
async fn one_ctrl_c_lets_jobs_in_flight_finish_exits_130_and_a_rerun_completes() {
    let night = Night::start(SimConfig {
        time_scale: 0.01,
        render: shotlist::sim::RenderTime { min_secs: 150.0, max_secs: 200.0 },
        ..SimConfig::default()
    })
    .await;
    night.write(
        "m.yaml",
        &mixed_manifest(12, 0, 0).replace("name: night\n", "name: night\nproviders:\n  runware: { maxInFlight: 3 }\n"),
    );
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let child =
        night.command(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let journal_path = night.out("out").join("state.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&journal_path).unwrap_or_default().contains("\"accepted\"") {
        assert!(Instant::now() < deadline, "no job accepted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let status = std::process::Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let state = shotlist::run::state::RunState::replay(records(&night, "out"));
    let accepted: Vec<_> = state.jobs.values().filter(|j| j.task.is_some()).collect();
    assert!(!accepted.is_empty());
    assert!(accepted.len() < 12, "stopped submitting: {} of 12 accepted", accepted.len());
    for j in &accepted {
        assert_eq!(j.phase, shotlist::run::state::Phase::Done, "in-flight job {} finished before exit", j.key);
    }
    let rerun = night.run(&args).await;
    assert_eq!(rerun.status.code(), Some(0), "{}", stderr(&rerun));
    assert_eq!(assert_files_match(&night, "out"), 12 + 4);
    assert_eq!(night.sim.ledger().count(Provider::Runware), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_key_halts_with_exit_3_naming_the_variable_and_never_the_key() {
    let mut config = quick();
    config.provider_mut(Provider::Segmind).api_key = Some("the-right-key".into());
    let night = Night::start(config).await;
    night.write("m.yaml", &mixed_manifest(2, 0, 3));
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("SEGMIND_API_KEY"), "{err}");
    for (_, key) in NIGHT_KEYS {
        assert!(!err.contains(key) && !crate::util::stdout(&out).contains(key), "key leaked: {err}");
    }
    assert_eq!(night.sim.ledger().count(Provider::Segmind), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_budget_stops_new_submissions_and_exits_3() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", &mixed_manifest(10, 0, 0));
    // hailuo-2.3 at 768p for 6 s is $0.28 a clip; $1.00 covers three single-clip jobs at most.
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q", "--max-cost", "1.00"]).await;
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("Budget reached"), "{}", stderr(&out));
    let ledger = night.sim.ledger();
    assert!(ledger.total_usd <= 1.00 + 1e-9, "spent {} over the budget", ledger.total_usd);
    assert!(ledger.entries.len() >= 2, "{ledger:?}");
    // status says what is committed (here all billed: nothing is left in flight).
    let status = night.run(&["status", "m.yaml", "--out", "out", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_str(&crate::util::stdout(&status)).unwrap();
    let committed = doc["committedUsd"].as_f64().unwrap();
    assert!((committed - ledger.total_usd).abs() < 1e-6, "{committed} vs {}", ledger.total_usd);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unanswered_minimax_submit_becomes_in_doubt_and_is_not_sent_again() {
    let mut config = quick();
    config.providers.entry("minimax".into()).or_default().faults =
        Some(shotlist::sim::Faults { reset_after: 1.0, ..Default::default() });
    let night = Night::start(config).await;
    night.write("m.yaml", &mixed_manifest(1, 2, 0));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--resubmit-in-doubt"), "{}", stderr(&out));
    let rows = read_report(&night.out("out").join("report.csv"));
    assert_eq!(rows.iter().filter(|r| r["status"] == "in_doubt").count(), 2);
    assert_eq!(night.sim.ledger().count(Provider::Minimax), 2, "billed, though the client never heard");
    let again = night.run(&args).await;
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(night.sim.ledger().count(Provider::Minimax), 2, "never resubmitted without the flag");
    let status = night.run(&["status", "m.yaml", "--out", "out", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["status"]["in_doubt"], 2, "{doc}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_manifest_renders_only_what_changed() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", &mixed_manifest(4, 1, 1));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    assert_eq!(night.run(&args).await.status.code(), Some(0));
    let before = night.sim.ledger().entries.len();
    let edited = mixed_manifest(4, 1, 1)
        .replace("runware shot 1,", "runware shot 1 (edited),")
        .replace("  - { id: sg000", "  - { id: sg999");
    night.write("m.yaml", &edited);
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("2 new or changed (shots rw001, sg999)"), "{err}");
    assert!(err.contains("2 from removed or edited shots left alone"), "{err}");
    assert_eq!(night.sim.ledger().entries.len(), before + 2);
}

/// Regression: a resumed job whose results were all seen, waiting only for its
/// downloads, kept its slot in flight forever; with the lane full, the rest of the
/// night was never submitted and the run idled without end.
#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_job_waiting_only_for_downloads_does_not_hold_a_lane_slot() {
    let mut config = quick();
    config.faults = shotlist::sim::Faults { slow_download: 1.0, ..Default::default() };
    config.slow_download_ms = 200;
    config.clip_padding_bytes = 64 * 1024; // 16 slow chunks: over 3 s a download
    let night = Night::start(config).await;
    let one_slot = |m: String| m.replace("name: night\n", "name: night\nproviders:\n  runware: { maxInFlight: 1 }\n");
    night.write("m.yaml", &one_slot(mixed_manifest(1, 0, 0)));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let mut child =
        night.command(&args).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).spawn().unwrap();
    let journal_path = night.out("out").join("state.jsonl");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&journal_path).unwrap_or_default().contains("\"t\":\"clip\"") {
        assert!(Instant::now() < deadline, "no clip seen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL mid-download
    child.wait().unwrap();
    assert!(!std::fs::read_to_string(&journal_path).unwrap().contains("\"t\":\"downloaded\""), "killed too late");
    // One more shot: it can only go once the resumed job gives its slot back.
    night.write("m.yaml", &one_slot(mixed_manifest(2, 0, 0)));
    let (code, err) = night.run_bounded(&args, Duration::from_secs(60)).await;
    assert_ne!(code, None, "the rerun did not end within 60 s: the resumed job still holds the lane's only slot");
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(assert_files_match(&night, "out"), 2 + 1, "rw000 has two results, rw001 one");
    assert_eq!(night.sim.ledger().count(Provider::Runware), 2);
}

/// Regression: a job the journal left failed after its clips were seen (billed) but
/// before they were on disk was sent again by the next run, and paid twice. Now the
/// next run fetches the clips it has and sends nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_job_with_clips_seen_is_collected_not_sent_again() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", &mixed_manifest(1, 0, 0)); // rw000: two results
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    assert_eq!(night.run(&args).await.status.code(), Some(0));
    // As a kill would leave it: clips seen, none on disk, then the job failed.
    let path = night.out("out").join("state.jsonl");
    let kept: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"t\":\"downloaded\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, &kept).unwrap();
    std::fs::remove_dir_all(night.out("out").join("rw000")).unwrap();
    let key = records(&night, "out")
        .iter()
        .find_map(|r| if let Record::Job { key, .. } = r { Some(key.clone()) } else { None })
        .unwrap();
    let mut j = journal::Journal::open(&path, kept.len() as u64).unwrap();
    j.append(&Record::Failed {
        key,
        variant: None,
        class: journal::FailClass::Failed,
        message: "the render failed after its results".into(),
        at: journal::now(),
    })
    .unwrap();
    drop(j);
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(night.sim.ledger().count(Provider::Runware), 1, "billed once: not sent again");
    assert_eq!(assert_files_match(&night, "out"), 2, "both clips fetched from the first task");
}

/// Regression (found by the crash loop): a Runware job whose task failed was given
/// another chance under a new taskUUID; a kill after that send and before its answer
/// left the intent unanswered, and the next run sent yet another taskUUID, so the
/// job was billed twice. The unanswered key is the only one ever sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_resend_after_a_failed_task_keeps_its_task_uuid_across_a_kill() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", &mixed_manifest(2, 0, 0).replace("numberResults: 2", "numberResults: 1"));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    assert_eq!(night.run(&args).await.status.code(), Some(0));
    // As a kill would leave it: the task failed (nothing seen), then a new attempt's
    // intent was written and sent, and the run died before the answer.
    let path = night.out("out").join("state.jsonl");
    let kept: String = std::fs::read_to_string(&path)
        .unwrap()
        .lines()
        .filter(|l| !l.contains("\"t\":\"downloaded\"") && !l.contains("\"t\":\"clip\""))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, &kept).unwrap();
    std::fs::remove_dir_all(night.out("out").join("rw000")).unwrap();
    let recs = records(&night, "out");
    let run_id = recs.iter().find_map(|r| if let Record::Header { run_id, .. } = r { Some(*run_id) } else { None });
    let key = recs
        .iter()
        .find_map(|r| if let Record::Job { key, def } = r { (def.shot == "rw000").then(|| key.clone()) } else { None })
        .unwrap();
    let second = shotlist::run::dispatcher::task_uuid(run_id.unwrap(), &key, 2);
    let mut j = journal::Journal::open(&path, kept.len() as u64).unwrap();
    j.append(&Record::Failed {
        key: key.clone(),
        variant: None,
        class: journal::FailClass::Failed,
        message: "the render failed".into(),
        at: journal::now(),
    })
    .unwrap();
    j.append(&Record::Intent { key: key.clone(), attempt: 2, task_uuid: second, at: journal::now() }).unwrap();
    drop(j);
    let out = night.run(&args).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let accepted: Vec<String> = records(&night, "out")
        .into_iter()
        .filter_map(|r| match r {
            Record::Accepted { key: k, task, .. } if k == key => Some(task.id),
            _ => None,
        })
        .collect();
    assert_eq!(accepted.last(), Some(&second.to_string()), "the unanswered taskUUID was sent again: {accepted:?}");
    let intents = records(&night, "out")
        .iter()
        .filter(|r| matches!(r, Record::Intent { key: k, attempt, .. } if *k == key && *attempt > 2))
        .count();
    assert_eq!(intents, 0, "no third taskUUID");
}
