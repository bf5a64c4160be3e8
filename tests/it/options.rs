//! The clip options through the binary against the simulator: each clip comes back
//! in the container its shot asked for (magic bytes and extension), and the
//! simulator saw every option on the wire.

use shotlist::catalog::Provider;
use shotlist::run::journal::{self, Record};
use shotlist::sim::SimConfig;

use crate::util::{Night, read_report, stderr};

const SCALE: &str = "0.01";

fn quick() -> SimConfig {
    SimConfig {
        time_scale: 0.01,
        render: shotlist::sim::RenderTime { min_secs: 60.0, max_secs: 120.0 },
        ..SimConfig::default()
    }
}

const MANIFEST: &str = r#"version: 1
shots:
  - id: rw-webm
    model: minimax:3@1
    prompt: "A red kite climbs over a windy beach at noon, waves rolling in below."
    outputFormat: webm
    outputQuality: 80
    safety: { checkContent: true, mode: full }
  - id: rw-mov
    model: minimax:4@1
    prompt: "A NSFW-SCENE test: a red kite climbs over a windy beach at noon."
    outputFormat: mov
    safety: { checkContent: true }
  - id: mm-options
    model: MiniMax-Hailuo-02
    prompt: "A red kite climbs over a windy beach at noon, waves rolling in below."
    promptOptimizer: true
    fastPretreatment: true
    watermark: true
  - id: tpl-diving
    template: Diving
    media: [frames/ok-first.png]
"#;

/// The container a file's first bytes name.
fn container(bytes: &[u8]) -> &'static str {
    match bytes {
        [0x1A, 0x45, 0xDF, 0xA3, ..] => "webm",
        [_, _, _, _, b'f', b't', b'y', b'p', b'q', b't', b' ', b' ', ..] => "mov",
        [_, _, _, _, b'f', b't', b'y', b'p', ..] => "mp4",
        _ => "unknown",
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_night_of_webm_mov_and_template_shots_delivers_each_container_and_the_options_reach_the_provider() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", MANIFEST);
    crate::util::copy_tree(&crate::util::root().join("tests/manifests/frames"), &night.out("frames"));
    let out = night.run(&["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let root = night.out("out");
    let rows = read_report(&root.join("report.csv"));
    assert_eq!(rows.len(), 4);
    for (shot, ext) in [("rw-webm", "webm"), ("rw-mov", "mov"), ("mm-options", "mp4"), ("tpl-diving", "mp4")] {
        let r = rows.iter().find(|r| r["shot_id"] == shot).unwrap();
        assert_eq!(r["status"], "done", "{r:?}");
        assert_eq!(r["file"], format!("{shot}/{shot}_1.{ext}"));
        let bytes = std::fs::read(root.join(&r["file"])).unwrap();
        assert_eq!(container(&bytes), ext, "{shot}: the file is a {ext}");
        assert_eq!(shotlist::run::download::sha256_of(&root.join(&r["file"])).unwrap(), r["sha256"]);
    }
    // The safety check's verdict lands in the report; the clip is still delivered.
    let flagged = rows.iter().find(|r| r["shot_id"] == "rw-mov").unwrap();
    assert!(flagged["error"].starts_with("NSFWContent"), "{flagged:?}");
    assert!(rows.iter().find(|r| r["shot_id"] == "rw-webm").unwrap()["error"].is_empty());

    // What the simulator saw.
    let ledger = night.sim.ledger();
    assert_eq!(ledger.entries.len(), 4, "{ledger:?}");
    let runware: Vec<_> = ledger.entries.iter().filter(|e| e.provider == Provider::Runware).collect();
    let webm = runware.iter().find(|e| e.model == "minimax:3@1").unwrap();
    assert_eq!(webm.options.output_format.as_deref(), Some("WEBM"));
    assert_eq!(webm.options.output_quality, Some(80));
    assert_eq!(webm.options.safety_mode.as_deref(), Some("full"));
    let mov = runware.iter().find(|e| e.model == "minimax:4@1").unwrap();
    assert_eq!(mov.options.output_format.as_deref(), Some("MOV"));
    assert_eq!(mov.options.output_quality, Some(95), "the default quality is sent");
    assert_eq!(mov.options.safety_mode.as_deref(), Some("fast"), "checkContent alone means fast");
    let ttl = shotlist::catalog::output::RUNWARE_TTL_SECS;
    assert!(runware.iter().all(|e| e.options.ttl_secs == Some(u64::from(ttl))), "every Runware submit has a ttl");
    let mm = ledger.entries.iter().find(|e| e.model == "MiniMax-Hailuo-02").unwrap();
    assert_eq!((mm.options.fast_pretreatment, mm.options.watermark), (Some(true), Some(true)));

    // The template job went to the template endpoint with the global Diving id and its image.
    let tpl = ledger.entries.iter().find(|e| e.options.template_id.is_some()).unwrap();
    assert_eq!(tpl.options.template_id.as_deref(), Some("392747428568649728"));
    assert_eq!((tpl.options.media_inputs, tpl.options.text_inputs), (Some(1), Some(0)));
    let tpl_row = rows.iter().find(|r| r["shot_id"] == "tpl-diving").unwrap();
    assert_eq!(tpl_row["model"], "template:392747428568649728");
    assert!(tpl_row["cost_usd"].is_empty() && tpl_row["estimated_cost_usd"].is_empty(), "no known price: {tpl_row:?}");
    assert!(tpl_row["duration_s"].is_empty(), "the template decides its length: {tpl_row:?}");

    // The journal records the extension and the ttl asked for.
    let records = journal::read(&root.join("state.jsonl")).unwrap().records;
    let defs: Vec<_> = records
        .iter()
        .filter_map(|r| match r {
            Record::Job { def, .. } => Some(def),
            _ => None,
        })
        .collect();
    let webm_def = defs.iter().find(|d| d.shot == "rw-webm").unwrap();
    assert_eq!((webm_def.extension.as_str(), webm_def.ttl_secs), ("webm", Some(ttl)));
    let mm_def = defs.iter().find(|d| d.shot == "mm-options").unwrap();
    assert_eq!((mm_def.extension.as_str(), mm_def.ttl_secs), ("mp4", None));
}

/// A journal written before `outputFormat` existed has job records without
/// `extension` or `ttl_secs`: they read as MP4 with no ttl.
#[test]
fn old_job_records_read_as_mp4() {
    let line = r#"{"t":"job","key":"k","def":{"shot":"s","variants":[1],"provider":"runware","model":"minimax:3@1","resolution":"768p","duration":6,"fps":25,"number_results":1,"estimated_cost_usd":null}}"#;
    let Record::Job { def, .. } = serde_json::from_str::<Record>(line).unwrap() else { panic!("a job record") };
    assert_eq!((def.extension.as_str(), def.ttl_secs), ("mp4", None));
}

/// A template job is a job like any other: a submit cut off after MiniMax took it
/// is in doubt and never sent again; a finished one is not sent again on a rerun.
#[tokio::test(flavor = "multi_thread")]
async fn a_template_job_goes_in_doubt_and_resumes_like_any_job() {
    let mut cfg = quick();
    cfg.provider_mut(Provider::Minimax).faults =
        Some(shotlist::sim::Faults { reset_after: 1.0, ..shotlist::sim::Faults::default() });
    let night = Night::start(cfg).await;
    night.write("m.yaml", "version: 1\nshots:\n  - { id: t1, template: Art Fonts, text: [\"OPEN LATE\"] }\n");
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
    let first = night.run(&args).await;
    assert_eq!(first.status.code(), Some(1), "{}", stderr(&first));
    let rows = read_report(&night.out("out").join("report.csv"));
    assert_eq!(rows[0]["status"], "in_doubt", "{rows:?}");
    assert_eq!(night.sim.ledger().entries.len(), 1, "MiniMax took (and bills) the task");
    let again = night.run(&args).await;
    assert_eq!(again.status.code(), Some(1), "{}", stderr(&again));
    assert_eq!(night.sim.ledger().entries.len(), 1, "an in-doubt template submit is never sent again");

    let night = Night::start(quick()).await;
    night.write("m.yaml", "version: 1\nshots:\n  - { id: t1, template: Art Fonts, text: [\"OPEN LATE\"] }\n");
    assert_eq!(night.run(&args).await.status.code(), Some(0));
    let again = night.run(&args).await;
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(stderr(&again).contains("1 jobs unchanged (1 done)"), "{}", stderr(&again));
    assert_eq!(night.sim.ledger().entries.len(), 1);
    let records = journal::read(&night.out("out").join("state.jsonl")).unwrap().records;
    let task = records.iter().find_map(|r| match r {
        Record::Accepted { task, .. } => Some(task.clone()),
        _ => None,
    });
    assert_eq!(task.unwrap().kind, shotlist::provider::TaskKind::Template, "the journal knows where to poll it");
}

/// Templates were checked against the global list; a run pointed at the China host
/// is refused before anything is sent (its ids differ).
#[tokio::test(flavor = "multi_thread")]
async fn a_run_on_the_other_minimax_host_than_the_templates_were_checked_for_is_refused() {
    let night = Night::start(quick()).await;
    night.write("m.yaml", "version: 1\nshots:\n  - { id: t1, template: Art Fonts, text: [\"OPEN LATE\"] }\n");
    let mut cmd = night.command(&["run", "m.yaml", "--out", "out", "-q"]);
    cmd.env("MINIMAX_BASE_URL", "https://api.minimaxi.com");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap()).await.unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("providers.minimax.baseUrl"), "{}", stderr(&out));
    assert_eq!(night.sim.stats().providers.get("minimax").map_or(0, |s| s.submits), 0);
}
