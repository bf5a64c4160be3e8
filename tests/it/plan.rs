//! `shotlist plan` on valid manifests: the table, the totals, JSON, and warnings.

use crate::util::{plan_json, root, shotlist, stderr, stdout};

#[test]
fn example_plans_with_a_table_and_a_total_estimated_cost() {
    let out = shotlist(&["plan", "manifests/example.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("estimated total cost $"), "{text}");
    for provider in ["runware", "minimax", "segmind"] {
        assert!(text.contains(provider), "example uses {provider}: {text}");
    }
    let doc = plan_json(&root(), "manifests/example.yaml");
    let jobs = doc["jobs"].as_array().unwrap();
    let totals = &doc["totals"];
    assert_eq!(totals["jobs"].as_u64().unwrap() as usize, jobs.len());
    let clips: u64 = jobs.iter().map(|j| j["numberResults"].as_u64().unwrap()).sum();
    assert_eq!(totals["clips"].as_u64().unwrap(), clips);
    let known: f64 = jobs.iter().filter_map(|j| j["estimatedCostUsd"].as_f64()).sum();
    assert!((totals["estimatedCostUsd"].as_f64().unwrap() - known).abs() < 1e-6);
    // The total line in the table is the JSON total, to the cent.
    assert!(text.contains(&format!("${:.2}", known)), "{text}");
    let modes: std::collections::BTreeSet<&str> = jobs.iter().map(|j| j["mode"].as_str().unwrap()).collect();
    for mode in ["text", "first-frame", "first-last", "subject"] {
        assert!(modes.contains(mode), "example covers {mode}: {modes:?}");
    }
    assert!(jobs.iter().any(|j| j["numberResults"].as_u64().unwrap() > 1 || j["variants"][0].as_u64().unwrap() > 1));
}

#[test]
fn unknown_prices_are_counted_apart_never_as_zero() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\nshots:\n  - id: a\n    provider: minimax\n    model: video-01\n    prompt: a quiet lake at dawn\n    numberResults: 3\n  - id: b\n    provider: runware\n    model: hailuo-2.3\n    prompt: a quiet lake at dawn\n",
    )
    .unwrap();
    let doc = plan_json(dir.path(), "m.yaml");
    let jobs = doc["jobs"].as_array().unwrap();
    assert_eq!(jobs.len(), 4, "minimax fans 3 results out into 3 jobs, runware batches");
    assert!(jobs[0]["estimatedCostUsd"].is_null());
    assert_eq!(doc["totals"]["clipsWithoutPrice"], 3);
    assert_eq!(doc["totals"]["estimatedCostUsd"], 0.28);
    let out = crate::util::shotlist_in(dir.path(), &["plan", "m.yaml"]);
    let text = stdout(&out);
    assert!(text.contains("unknown"), "{text}");
    assert!(text.contains("$0.28 + 3 clips with no known price"), "{text}");
}

#[test]
fn every_shipped_manifest_is_valid() {
    let mut n = 0;
    for dir in ["manifests", "tests/manifests/valid"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                n += 1;
                let rel = path.strip_prefix(root()).unwrap().to_str().unwrap().to_owned();
                let out = shotlist(&["plan", &rel]);
                assert_eq!(out.status.code(), Some(0), "{rel}: {}", stderr(&out));
            }
        }
    }
    assert!(n >= 9, "{n}");
}

#[test]
fn free_bracket_text_warns_but_plans() {
    let out = shotlist(&["plan", "tests/manifests/valid/free-bracket-text.yaml"]);
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("is not a documented camera move"), "{err}");
    assert!(err.contains("[tests/manifests/valid/free-bracket-text.yaml:"), "{err}");
    let doc = plan_json(&root(), "tests/manifests/valid/free-bracket-text.yaml");
    assert_eq!(doc["warnings"][0]["level"], "warning");
}

#[test]
fn camera_moves_are_appended_to_the_prompt_and_aliases_pick_the_variant() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(root().join("tests/manifests/frames/ok-first.png"), dir.path().join("f.png")).unwrap();
    std::fs::write(
        dir.path().join("m.yaml"),
        "version: 1\ndefaults: { provider: minimax, model: director }\nshots:\n  - id: t\n    prompt: a quiet lake\n    camera: [push in, 左摇]\n  - id: i\n    prompt: a quiet lake\n    frames: { first: f.png }\n",
    )
    .unwrap();
    let doc = plan_json(dir.path(), "m.yaml");
    assert_eq!(doc["jobs"][0]["model"], "T2V-01-Director");
    assert_eq!(doc["jobs"][1]["model"], "I2V-01-Director");
    let loaded = shotlist::manifest::load(&dir.path().join("m.yaml")).unwrap();
    assert_eq!(loaded.manifest.shots[0].prompt.as_deref(), Some("a quiet lake [Push in,Pan left]"));
}

#[test]
fn a_model_id_on_one_provider_implies_the_provider() {
    let doc = plan_json(&root(), "tests/manifests/valid/provider-from-model-id.yaml");
    let got: Vec<(&str, &str)> = doc["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| (j["model"].as_str().unwrap(), j["provider"].as_str().unwrap()))
        .collect();
    assert_eq!(got, [("minimax:3@1", "runware"), ("MiniMax-Hailuo-02", "minimax"), ("minimax-hailuo-2", "segmind")]);
}

#[test]
fn a_shot_without_provider_still_gets_its_other_checks() {
    let out = shotlist(&["plan", "tests/manifests/invalid/no-provider-and-zero-results.yaml", "--json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields: Vec<&str> = doc["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["shots[0].provider", "shots[0].numberResults"], "{doc:#}");
    let help = doc["problems"][0]["help"].as_str().unwrap();
    for p in ["runware", "minimax", "segmind"] {
        assert!(help.contains(&format!("`provider: {p}`")), "the choices are listed: {help}");
    }
    let out = shotlist(&["plan", "tests/manifests/invalid/unknown-provider-and-long-prompt.yaml", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let fields: Vec<&str> = doc["problems"].as_array().unwrap().iter().map(|p| p["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["shots[0].provider", "shots[0].prompt"], "{doc:#}");
}
