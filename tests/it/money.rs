//! What a night costs, told truly: the end totals per provider (reported, at list
//! price, clips with no price) equal the simulator's ledger; a manifest's `prices:`
//! prices what the catalog cannot; report.csv's cost columns say where each cost
//! comes from, in cents.

use std::collections::BTreeMap;

use shotlist::catalog::Provider;
use shotlist::sim::SimConfig;

use crate::util::{Night, read_report, stderr};

fn quick() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        render: shotlist::sim::RenderTime { min_secs: 60.0, max_secs: 120.0 },
        ..SimConfig::default()
    }
}

/// `  runware: $2.56 billed (reported) + $0.00 at list price, 1 clip with no price`
/// lines of the final summary: provider → (reported, list, clips with no price).
fn summary_totals(err: &str) -> BTreeMap<String, (f64, f64, u32)> {
    let mut out = BTreeMap::new();
    for line in err.lines() {
        let Some((name, rest)) = line.trim_start().split_once(": $") else { continue };
        if !rest.contains("billed (reported)") || name == "total" {
            continue;
        }
        let dollars: Vec<f64> =
            rest.split('$').map(|p| p.split_whitespace().next().unwrap_or("")).filter_map(|n| n.parse().ok()).collect();
        let reported: f64 = rest.split_whitespace().next().unwrap().parse().unwrap();
        let list = dollars.get(1).copied().unwrap_or(0.0);
        let unpriced = rest
            .split(", ")
            .find(|p| p.ends_with("with no price"))
            .map_or(0, |p| p.split_whitespace().next().unwrap().parse().unwrap());
        out.insert(name.to_owned(), (reported, list, unpriced));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn end_totals_per_provider_equal_the_simulator_ledger_on_the_example() {
    let night = Night::start(quick()).await;
    crate::util::copy_tree(&crate::util::root().join("manifests"), night.dir.path());
    let out = night.run(&["run", "example.yaml", "--out", "out", "--time-scale", "0.01", "-q"]).await;
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let totals = summary_totals(&err);
    assert_eq!(totals.len(), 3, "one totals line per provider:\n{err}");
    let rows = read_report(&night.out("out").join("report.csv"));
    let ledger = night.sim.ledger();
    for p in Provider::ALL {
        let (reported, list, unpriced) = totals[p.name()];
        // A clip the run could not price is billed all the same: the ledger's figure
        // for it is what "no price" leaves out.
        let mut expected_unpriced = 0;
        let mut expected_usd = 0.0;
        for e in ledger.entries.iter().filter(|e| e.provider == p) {
            let priced = rows.iter().any(|r| r["provider_task_id"] == e.task_id && !r["cost_source"].is_empty());
            if priced {
                expected_usd += e.billed_usd;
            } else {
                expected_unpriced += e.clips_billed;
            }
        }
        assert!(
            (reported + list - expected_usd).abs() < 0.005,
            "{p}: {reported} + {list} vs ledger {expected_usd}\n{err}"
        );
        assert_eq!(unpriced, expected_unpriced, "{p}: clips with no price\n{err}");
    }
    // MiniMax reports nothing: its bill is at list price, and it is not 0.
    let (mm_reported, mm_list, _) = totals["minimax"];
    assert_eq!(mm_reported, 0.0);
    assert!(mm_list > 0.0, "{err}");
    // The report says where each cost comes from, in cents.
    for r in &rows {
        match r["cost_source"].as_str() {
            "reported" | "list" => {
                let c = &r["cost_usd"];
                let decimals = c.split_once('.').map_or(0, |(_, d)| d.len());
                assert!((2..=4).contains(&decimals), "cost with cents: {r:?}");
            }
            "" => assert!(r["cost_usd"].is_empty(), "{r:?}"),
            other => panic!("cost_source `{other}`: {r:?}"),
        }
        assert!(!r["resolution"].is_empty() && !r["prompt"].is_empty(), "{r:?}");
        assert!(r["selected"].is_empty(), "{r:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_manifest_price_prices_what_the_catalog_cannot() {
    let night = Night::start(quick()).await;
    crate::util::copy_tree(&crate::util::root().join("manifests"), night.dir.path());
    night.write(
        "priced.yaml",
        "version: 1\nprices:\n  - { provider: minimax, model: s2v-01, resolution: 720p, duration: 6, usd: 0.43 }\nshots:\n  - id: face\n    provider: minimax\n    model: s2v-01\n    subject: frames/lead-actor.jpg\n    prompt: \"The lead actor turns toward the camera in a sunlit park and smiles.\"\n",
    );
    let plan = crate::util::plan_json(night.dir.path(), "priced.yaml");
    assert_eq!(plan["jobs"][0]["priceSource"], "manifest");
    assert_eq!(plan["totals"]["estimatedCostUsd"], 0.43);
    assert_eq!(plan["totals"]["clipsWithoutPrice"], 0);
    let out = night.run(&["run", "priced.yaml", "--out", "out", "--time-scale", "0.01", "-q"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_report(&night.out("out").join("report.csv"));
    assert_eq!((rows[0]["cost_usd"].as_str(), rows[0]["cost_source"].as_str()), ("0.43", "manifest"));
    assert_eq!(rows[0]["resolution"], "720p");
    assert!(stderr(&out).contains("minimax: $0.00 billed (reported) + $0.43 at list price"), "{}", stderr(&out));
}

#[test]
fn plan_report_and_catalog_agree_that_runware_01_renders_768p() {
    let doc = crate::util::plan_json(&crate::util::root(), "manifests/example.yaml");
    let live = doc["jobs"].as_array().unwrap().iter().find(|j| j["shot"] == "s040-duelist").unwrap().clone();
    assert_eq!(live["resolution"], "768p", "{live}");
    assert_eq!(shotlist::catalog::Resolution::P768.runware_size(), (1366, 768));
    // A manifest that says 720p on a Runware 01 model means the same 1366×768 clip.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\nshots:\n  - { id: a, provider: runware, model: director, resolution: 720p, prompt: a quiet lake at dawn }\n",
    )
    .unwrap();
    let doc = crate::util::plan_json(dir.path(), "m.yaml");
    assert_eq!(doc["jobs"][0]["resolution"], "768p");
    assert!(doc["jobs"][0]["estimatedCostUsd"].as_f64().unwrap() > 0.0);
}

/// `Simulator ledger: runware: 5 tasks accepted, 6 clips billed, $2.56; minimax: ...`
fn printed_ledger(err: &str) -> BTreeMap<String, (u32, f64)> {
    let line = err.lines().find_map(|l| l.strip_prefix("Simulator ledger: ")).expect("the rehearsal prints the ledger");
    line.split("; ")
        .map(|part| {
            let (name, rest) = part.split_once(": ").unwrap();
            let clips = rest.split(", ").nth(1).unwrap().split_whitespace().next().unwrap().parse().unwrap();
            let usd = rest.rsplit_once('$').unwrap().1.parse().unwrap();
            (name.to_owned(), (clips, usd))
        })
        .collect()
}

#[test]
fn the_example_rehearsal_prints_totals_that_match_its_ledger() {
    let dir = tempfile::tempdir().unwrap();
    crate::util::copy_tree(&crate::util::root().join("manifests"), dir.path());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shotlist"))
        .current_dir(dir.path())
        .args(["run", "example.yaml", "--rehearse", "--out", "night", "-q", "--time-scale", "0.005"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let ours = summary_totals(&err);
    let ledger = printed_ledger(&err);
    assert_eq!(ours.keys().collect::<Vec<_>>(), ledger.keys().collect::<Vec<_>>(), "{err}");
    for (p, (reported, list, unpriced)) in &ours {
        let (_, billed) = ledger[p];
        if *unpriced == 0 {
            assert!((reported + list - billed).abs() < 0.005, "{p}: {reported} + {list} vs ledger {billed}\n{err}");
        } else {
            // The simulator bills the clips no price is known for; ours leave them out
            // and say how many.
            assert!(reported + list < billed, "{p}\n{err}");
        }
    }
    assert_eq!(ours["minimax"].2, 1, "S2V-01 has no published price:\n{err}");
}
