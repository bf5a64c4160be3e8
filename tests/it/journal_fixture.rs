//! A journal written by an earlier shotlist (`tests/fixtures/journal-v1`, committed,
//! never regenerated) still parses record by record and resumes with today's code:
//! what was done stays done and is not billed again, the accepted job is collected
//! (polled, never resubmitted), the unanswered Runware submit goes again under the
//! same `taskUUID`, the unanswered Segmind one is left in doubt.

use std::collections::BTreeMap;
use std::time::Duration;

use shotlist::catalog::Provider;
use shotlist::run::journal::{self, Record};
use shotlist::run::state::{Phase, RunState};
use shotlist::sim::SimConfig;

use crate::util::{Night, copy_tree, read_report, root};

fn fixture() -> std::path::PathBuf {
    root().join("tests/fixtures/journal-v1")
}

/// Per shot id, its job key, from the journal's `job` records.
fn keys_by_shot(records: &[Record]) -> BTreeMap<String, String> {
    records
        .iter()
        .filter_map(|r| match r {
            Record::Job { key, def } => Some((def.shot.clone(), key.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn journal_v1_fixture_parses_into_the_phases_it_was_written_in() {
    let text = std::fs::read_to_string(fixture().join("out/state.jsonl")).unwrap();
    // Every line, one by one: a record shape that stops parsing fails here by name.
    for (n, line) in text.lines().enumerate() {
        let parsed: Result<Record, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "line {} no longer parses: {:?}\n{line}", n + 1, parsed.err());
    }
    let replayed = journal::read(&fixture().join("out/state.jsonl")).expect("the journal reads");
    assert!(!replayed.torn_tail);
    assert_eq!(replayed.records.len(), text.lines().count());
    let state = RunState::replay(&replayed.records);
    let keys = keys_by_shot(&replayed.records);
    let phase = |shot: &str| state.jobs[&keys[shot]].phase.clone();
    assert_eq!(phase("done2"), Phase::Done);
    assert!(matches!(phase("blocked"), Phase::Failed(f) if f.class == journal::FailClass::ContentBlocked));
    assert!(matches!(phase("unanswered"), Phase::Submitting { attempt: 1, .. }));
    assert_eq!(phase("accepted"), Phase::Running);
    assert!(matches!(phase("indoubt"), Phase::Submitting { attempt: 1, .. }));
}

#[test]
fn journal_v1_fixture_folds_alike_given_lent_or_by_value_or_record_by_record() {
    let records = journal::read(&fixture().join("out/state.jsonl")).expect("the journal reads").records;
    let lent = RunState::replay(&records);
    let mut one_by_one = RunState::default();
    for r in &records {
        one_by_one.apply(r);
    }
    let owned = RunState::replay(records.clone());
    let (read, tail) = RunState::read(&fixture().join("out/state.jsonl")).expect("the journal reads");
    assert_eq!(tail.records, records.len());
    assert!(lent.jobs.len() >= 5, "the fixture's jobs");
    for (how, s) in [("apply", &one_by_one), ("by value", &owned), ("folded as read", &read)] {
        assert_eq!(s.jobs, lent.jobs, "{how}");
        assert_eq!((s.run_id, s.runs), (lent.run_id, lent.runs), "{how}");
        // The files taken (kept beside the jobs) name the same files.
        for (key, j) in &lent.jobs {
            for v in j.def.iter().flat_map(|d| &d.variants) {
                assert_eq!(s.take_file(key, *v, "mp4"), lent.take_file(key, *v, "mp4"), "{how}: {key} #{v}");
            }
        }
    }
}

/// A journal of some megabytes is read in blocks on several threads and folded as
/// the blocks come in (`RunState::read`); it must fold as its records replay.
#[test]
fn a_journal_read_on_threads_folds_as_its_records_replay() {
    let records = journal::read(&fixture().join("out/state.jsonl")).expect("the journal reads").records;
    // The fixture's job records again and again under new keys (and new files),
    // after its header and runs, until the journal is past a megabyte.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.jsonl");
    let mut text = String::new();
    let mut copies = 0;
    while text.len() < 3 << 20 {
        for r in &records {
            let mut r = r.clone();
            match &mut r {
                Record::Header { .. } | Record::Run { .. } if copies > 0 => continue,
                Record::Downloaded { file, .. } => *file = format!("{copies}/{file}"),
                _ => {}
            }
            let mut line = serde_json::to_string(&r).unwrap();
            if let Some(key) = r.job_key() {
                line = line.replace(key, &format!("{key}-{copies}"));
            }
            text.push_str(&line);
            text.push('\n');
        }
        copies += 1;
    }
    std::fs::write(&path, &text).unwrap();
    let all = journal::read(&path).expect("the journal reads").records;
    let replayed = RunState::replay(&all);
    let (read, tail) = RunState::read(&path).expect("the journal reads");
    assert_eq!((tail.records, tail.valid_len, tail.torn_tail), (all.len(), text.len() as u64, false));
    assert!(read.jobs.len() > 1_000, "{} jobs", read.jobs.len());
    assert_eq!(read.jobs, replayed.jobs);
    assert_eq!((read.run_id, read.runs), (replayed.run_id, replayed.runs));
    for (key, j) in &replayed.jobs {
        for v in j.def.iter().flat_map(|d| &d.variants) {
            assert_eq!(read.take_file(key, *v, "mp4"), replayed.take_file(key, *v, "mp4"), "{key} #{v}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn journal_v1_fixture_resumes_without_rebilling() {
    let night = Night::start(SimConfig { time_scale: 0.01, ..SimConfig::default() }).await;
    copy_tree(&fixture(), night.dir.path());
    let before = journal::read(&night.out("out").join("state.jsonl")).unwrap().records;
    let keys = keys_by_shot(&before);
    let unanswered_uuid = before
        .iter()
        .find_map(|r| match r {
            Record::Intent { key, task_uuid, .. } if *key == keys["unanswered"] => Some(task_uuid.to_string()),
            _ => None,
        })
        .expect("the fixture's unanswered intent");
    let (code, err) = night
        .run_bounded(&["run", "night.yaml", "--out", "out", "--time-scale", "0.01", "-q"], Duration::from_secs(120))
        .await;
    // One clip refused for its content, one in doubt: the night ends with clips missing.
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("5 jobs unchanged (1 done)"), "every fixture job is recognised by its key: {err}");

    // Billed in this run: only the unanswered Runware submit, under its journaled taskUUID.
    let ledger = night.sim.ledger();
    let billed: Vec<(Provider, &str)> = ledger.entries.iter().map(|e| (e.provider, e.task_id.as_str())).collect();
    assert_eq!(billed, vec![(Provider::Runware, unanswered_uuid.as_str())], "{ledger:#?}");
    let stats = night.sim.stats();
    assert_eq!(stats.providers.get("minimax").map_or(0, |s| s.submits), 0, "the accepted job is never resubmitted");
    assert!(stats.providers.get("minimax").is_some_and(|s| s.polls >= 1), "the accepted job is polled: {stats:?}");
    assert_eq!(stats.providers.get("segmind").map_or(0, |s| s.submits), 0, "an in-doubt submit is not sent again");

    // The report: one row per clip, as the resume left them.
    let rows = read_report(&night.out("out").join("report.csv"));
    let status: BTreeMap<(String, String), String> =
        rows.iter().map(|r| ((r["shot_id"].clone(), r["variant"].clone()), r["status"].clone())).collect();
    let expect = [
        ("done2", "1", "done"),
        ("done2", "2", "done"),
        ("blocked", "1", "failed"),
        ("unanswered", "1", "done"),
        ("accepted", "1", "failed"),
        ("indoubt", "1", "in_doubt"),
    ];
    let expect: BTreeMap<(String, String), String> =
        expect.iter().map(|(s, v, st)| ((s.to_string(), v.to_string()), st.to_string())).collect();
    assert_eq!(status, expect, "{rows:#?}");
    // The done takes are the fixture's files, untouched, under their journaled hashes.
    for r in rows.iter().filter(|r| r["shot_id"] == "done2") {
        let original = std::fs::read(fixture().join("out").join(&r["file"])).unwrap();
        assert_eq!(std::fs::read(night.out("out").join(&r["file"])).unwrap(), original, "{}", r["file"]);
        assert_eq!(shotlist::run::download::sha256_of(&night.out("out").join(&r["file"])).unwrap(), r["sha256"]);
    }
    assert!(night.out("out").join(&rows.iter().find(|r| r["shot_id"] == "unanswered").unwrap()["file"]).exists());

    // The journal grew by appending: the fixture's lines are its first lines.
    let after = journal::read(&night.out("out").join("state.jsonl")).unwrap().records;
    assert_eq!(after[..before.len()], before[..]);
    let new = &after[before.len()..];
    let for_job = |shot: &str| new.iter().filter(|r| record_key(r) == Some(keys[shot].as_str())).collect::<Vec<_>>();
    assert!(for_job("done2").is_empty(), "nothing new for a done job: {:?}", for_job("done2"));
    assert!(for_job("blocked").is_empty(), "nothing new for a refused job: {:?}", for_job("blocked"));
    assert!(
        !for_job("unanswered").iter().any(|r| matches!(r, Record::Intent { .. })),
        "the unanswered intent is resent as it stands, not as a new attempt"
    );
    assert!(matches!(for_job("indoubt")[..], [Record::InDoubt { .. }]), "{:?}", for_job("indoubt"));
    assert!(
        matches!(for_job("accepted")[..], [Record::Failed { variant: None, .. }]),
        "the accepted job's lost task is recorded, not resubmitted: {:?}",
        for_job("accepted")
    );
}

fn record_key(r: &Record) -> Option<&str> {
    match r {
        Record::Job { key, .. }
        | Record::Intent { key, .. }
        | Record::Accepted { key, .. }
        | Record::NotAccepted { key, .. }
        | Record::InDoubt { key, .. }
        | Record::Clip { key, .. }
        | Record::Downloaded { key, .. }
        | Record::Failed { key, .. } => Some(key),
        _ => None,
    }
}
