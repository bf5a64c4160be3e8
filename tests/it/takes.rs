//! Paid takes are never lost: an edited shot renders a new version beside the old
//! one, more results render only the new variants, and a budget is a hard cap.

use std::collections::BTreeMap;

use shotlist::catalog::Provider;
use shotlist::sim::SimConfig;

use crate::util::{Night, check_night, read_report, stderr};

fn quick() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        render: shotlist::sim::RenderTime { min_secs: 30.0, max_secs: 60.0 },
        ..SimConfig::default()
    }
}

const ARGS: [&str; 7] = ["run", "m.yaml", "--out", "out", "--time-scale", "0.01", "-q"];

/// Every done row of the report: file → sha256, checked against the file on disk.
fn done_files(night: &Night) -> BTreeMap<String, String> {
    let root = night.out("out");
    let mut files = BTreeMap::new();
    for r in read_report(&root.join("report.csv")) {
        if r["status"] == "done" {
            let on_disk = shotlist::run::download::sha256_of(&root.join(&r["file"])).expect("a done take is on disk");
            assert_eq!(on_disk, r["sha256"], "{} matches its recorded hash", r["file"]);
            files.insert(r["file"].clone(), r["sha256"].clone());
        }
    }
    files
}

fn billed_clips(night: &Night, p: Provider) -> u32 {
    night.sim.ledger().entries.iter().filter(|e| e.provider == p).map(|e| e.clips_billed).sum()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_shot_renders_a_new_version_and_keeps_every_paid_take() {
    let night = Night::start(quick()).await;
    let manifest = crate::util::mixed_manifest(2, 2, 0);
    night.write("m.yaml", &manifest);
    assert_eq!(night.run(&ARGS).await.status.code(), Some(0));
    let first = done_files(&night);
    assert_eq!(first.len(), 5, "rw000 has 2 takes, rw001, mm000 and mm001 one each: {first:?}");

    // The normal way to iterate: edit two shots' prompts, run again.
    let edited = manifest
        .replace("runware shot 0,", "runware shot 0 (tighter),")
        .replace("minimax shot 0,", "minimax shot 0 (warmer),");
    night.write("m.yaml", &edited);
    let out = night.run(&ARGS).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let second = done_files(&night);
    for (file, sha) in &first {
        assert_eq!(second.get(file), Some(sha), "the earlier take {file} is still listed with its hash");
    }
    let new: Vec<&String> = second.keys().filter(|f| !first.contains_key(*f)).collect();
    assert_eq!(new.len(), 3, "2 new takes of rw000 and 1 of mm000: {new:?}");
    assert!(new.iter().all(|f| f.contains("_v002_")), "new takes are named as version 2: {new:?}");

    let rows = read_report(&night.out("out").join("report.csv"));
    let rw000: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r["shot_id"] == "rw000")
        .map(|r| (r["version"].as_str(), r["current"].as_str()))
        .collect();
    assert_eq!(rw000, [("1", ""), ("1", ""), ("2", "yes"), ("2", "yes")], "both versions listed, the new one current");

    let status = night.run(&["status", "m.yaml", "--out", "out", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["clips"], 5, "status counts the current takes: {doc}");
    assert_eq!(doc["earlierTakes"], 3, "{doc}");
    let check = check_night(&night, "out");
    assert_eq!((check.double_charges, check.lost_results), (0, 0), "{check:?}");

    // Regression: the review page and the cut read every version's takes (they once
    // looked each row's job up in the plan and panicked on an earlier version's).
    let review = night.run(&["review", "m.yaml", "--out", "out"]).await;
    assert_eq!(review.status.code(), Some(0), "{}", stderr(&review));
    let page = std::fs::read_to_string(night.out("out").join("review.html")).unwrap();
    assert!(page.contains("rw000_1.mp4") && page.contains("rw000_v002_1.mp4"), "both versions on the page");
    let export = night.run(&["export", "m.yaml", "--out", "out", "--otio", "cut.otio"]).await;
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    let cut = std::fs::read_to_string(night.dir.path().join("cut.otio")).unwrap();
    assert!(cut.contains("rw000_v002_1.mp4") && !cut.contains("rw000_1.mp4"), "the cut takes the current version");
}

#[tokio::test(flavor = "multi_thread")]
async fn more_results_render_only_the_new_takes_on_every_provider() {
    let night = Night::start(quick()).await;
    let manifest = "version: 1\nshots:\n  \
        - { id: rw, provider: runware, model: hailuo-2.3, numberResults: 2, prompt: \"a lantern-lit market in the rain\" }\n  \
        - { id: mm, provider: minimax, model: hailuo-2.3, numberResults: 2, prompt: \"a quiet lake at dawn\" }\n";
    night.write("m.yaml", manifest);
    assert_eq!(night.run(&ARGS).await.status.code(), Some(0));
    let first = done_files(&night);
    assert_eq!(first.len(), 4);
    let (rw_before, mm_before) = (billed_clips(&night, Provider::Runware), billed_clips(&night, Provider::Minimax));

    night.write("m.yaml", &manifest.replace("numberResults: 2", "numberResults: 4"));
    let out = night.run(&ARGS).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(billed_clips(&night, Provider::Runware), rw_before + 2, "exactly 2 new Runware clips billed");
    assert_eq!(billed_clips(&night, Provider::Minimax), mm_before + 2, "exactly 2 new MiniMax clips billed");
    let second = done_files(&night);
    for (file, sha) in &first {
        assert_eq!(second.get(file), Some(sha), "{file} untouched");
    }
    let rows = read_report(&night.out("out").join("report.csv"));
    for shot in ["rw", "mm"] {
        let variants: Vec<&str> = rows
            .iter()
            .filter(|r| r["shot_id"] == shot && r["current"] == "yes" && r["status"] == "done")
            .map(|r| r["variant"].as_str())
            .collect();
        assert_eq!(variants, ["1", "2", "3", "4"], "{shot}: four current takes, one version");
    }
    assert!(rows.iter().all(|r| r["version"] == "1"), "more takes are takes of the same version");

    // Fewer results delete nothing and render nothing.
    let ledger = night.sim.ledger().entries.len();
    night.write("m.yaml", &manifest.replace("numberResults: 2", "numberResults: 1"));
    assert_eq!(night.run(&ARGS).await.status.code(), Some(0));
    assert_eq!(night.sim.ledger().entries.len(), ledger, "nothing new was sent");
    assert_eq!(done_files(&night).len(), 8, "every take stays listed and on disk");
    for file in second.keys() {
        assert!(night.out("out").join(file).exists(), "{file} is still on disk");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_budget_is_never_passed_and_unpriced_shots_are_named_not_sent() {
    let night = Night::start(quick()).await;
    // Six Runware shots at the listed $0.28, and two MiniMax video-01 shots, for
    // which no price is published: under a budget those cannot be admitted.
    let mut m = crate::util::mixed_manifest(6, 0, 0).replace("numberResults: 2", "numberResults: 1");
    for i in 0..2 {
        m.push_str(&format!(
            "  - {{ id: mm{i:03}, provider: minimax, model: video-01, prompt: \"minimax shot {i}, a quiet lake\" }}\n"
        ));
    }
    night.write("m.yaml", &m);
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", "0.01", "-q", "--max-cost", "1.00"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    let ledger = night.sim.ledger();
    assert!(ledger.total_usd <= 1.00 + 1e-9, "billed ${} over a $1.00 budget", ledger.total_usd);
    assert_eq!(ledger.count(Provider::Minimax), 0, "no unpriced job was sent: {ledger:?}");
    assert_eq!(ledger.count(Provider::Runware), 3, "three $0.28 jobs fit in $1.00");
    assert!(err.contains("mm000") && err.contains("mm001") && err.contains("prices:"), "{err}");
    let check = check_night(&night, "out");
    assert_eq!((check.double_charges, check.lost_results, check.done), (0, 0, 3), "{check:?}");
}
