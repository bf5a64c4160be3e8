//! Benchmark: plan a 10,000-shot manifest (load, validate, key, estimate), through
//! the library and through the binary as a user runs it. Prints one JSON line per
//! measurement; it is not a test and asserts nothing about time.
//!
//!     cargo bench --bench plan_10k
//!
//! Set SHOTLIST_BENCH_SHOTS to change the size, SHOTLIST_BENCH_MANIFEST to plan a
//! manifest of your own instead, and SHOTLIST_BENCH_JOURNAL to also time the replay of
//! a journal (`journal::read` + `RunState::replay`, as `status` and `run` start).

mod common;
use common::best_of;

use std::path::Path;
use std::process::Command;

fn write_manifest(dir: &Path, shots: usize) -> std::path::PathBuf {
    let frames = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/frames");
    std::fs::copy(frames.join("ok-first.png"), dir.join("first.png")).unwrap();
    std::fs::copy(frames.join("ok-last.png"), dir.join("last.png")).unwrap();
    let mut y = String::from(
        "version: 1\nname: bench\ndefaults:\n  provider: runware\n  model: hailuo-2.3\n  duration: 6\nshots:\n",
    );
    for i in 0..shots {
        let prompt = format!(
            "Shot {i}: a lantern-lit night market in the rain, steam rising from stalls, shoppers with umbrellas weaving between them, [Pan left, Zoom in] then [Static shot]"
        );
        let body = match i % 5 {
            0 => format!("    prompt: \"{prompt}\"\n    numberResults: 2\n"),
            1 => format!("    prompt: \"{prompt}\"\n    frames: {{ first: first.png }}\n    camera: [Push in]\n"),
            2 => format!(
                "    provider: minimax\n    model: hailuo-02\n    prompt: \"{prompt}\"\n    frames: {{ first: first.png, last: last.png }}\n"
            ),
            3 => format!(
                "    provider: segmind\n    model: hailuo-2.3\n    resolution: 1080p\n    prompt: \"{prompt}\"\n"
            ),
            _ => {
                format!("    provider: minimax\n    model: director\n    prompt: \"{prompt}\"\n    numberResults: 3\n")
            }
        };
        y.push_str(&format!("  - id: s{i:05}\n{body}"));
    }
    let path = dir.join("bench.yaml");
    std::fs::write(&path, y).unwrap();
    path
}

/// The binary's allocator (src/main.rs), so what this harness runs through the
/// library runs as in the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing: run once, small.
    let quick = !std::env::args().any(|a| a == "--bench");
    let shots: usize = std::env::var("SHOTLIST_BENCH_SHOTS").ok().and_then(|s| s.parse().ok()).unwrap_or(if quick {
        200
    } else {
        10_000
    });
    let runs = if quick { 1 } else { 5 };
    let dir = tempfile::tempdir().unwrap();
    let path = match std::env::var_os("SHOTLIST_BENCH_MANIFEST") {
        Some(p) => std::path::PathBuf::from(p),
        None => write_manifest(dir.path(), shots),
    };
    let bytes = std::fs::metadata(&path).unwrap().len();

    // The three steps of loading, one by one (the first two also within load_validate_s).
    let source = std::fs::read_to_string(&path).unwrap();
    let (parse_s, root) = best_of(runs, || shotlist::manifest::yaml::parse(&source).expect("YAML"));
    let mut problems = shotlist::manifest::diag::Problems::default();
    let (schema_s, _) = best_of(runs, || shotlist::manifest::schema::read(&root, &source, &mut problems));
    drop(root);
    println!(
        "{{\"bench\":\"load_steps\",\"shots\":{shots},\"yaml_parse_s\":{parse_s:.4},\"schema_read_s\":{schema_s:.4},\"runs\":{runs}}}"
    );

    if let Some(journal) = std::env::var_os("SHOTLIST_BENCH_JOURNAL") {
        let journal = std::path::PathBuf::from(journal);
        let (read_s, replayed) = best_of(runs, || shotlist::run::journal::read(&journal).expect("the journal reads"));
        // The replay takes the records by value (as `status` and `run` give them): each
        // run folds a copy made before its clock starts.
        let mut replay_s = f64::INFINITY;
        let mut state = None;
        for _ in 0..runs {
            drop(state.take());
            let records = replayed.records.clone();
            let t = std::time::Instant::now();
            state = Some(shotlist::run::state::RunState::replay(records));
            replay_s = replay_s.min(t.elapsed().as_secs_f64());
        }
        let state = state.expect("at least one run");
        println!(
            "{{\"bench\":\"journal_replay\",\"records\":{},\"jobs\":{},\"journal_mb\":{:.2},\"read_s\":{read_s:.4},\"replay_s\":{replay_s:.4},\"total_s\":{:.4},\"runs\":{runs}}}",
            replayed.records.len(),
            state.jobs.len(),
            std::fs::metadata(&journal).unwrap().len() as f64 / 1e6,
            read_s + replay_s
        );
    }

    let (load_s, loaded) = best_of(runs, || shotlist::manifest::load(&path).expect("bench manifest is valid"));
    let (plan_s, plan) = best_of(runs, || shotlist::plan::Plan::new(&loaded.manifest));
    let (json_s, _) = best_of(runs, || shotlist::plan_view::json(&plan, &loaded, Path::new("renders/bench")));
    println!(
        "{{\"bench\":\"plan_library\",\"shots\":{shots},\"manifest_bytes\":{bytes},\"jobs\":{},\"clips\":{},\"load_validate_s\":{load_s:.4},\"plan_s\":{plan_s:.4},\"json_s\":{json_s:.4},\"total_s\":{:.4},\"runs\":{runs}}}",
        plan.totals.jobs,
        plan.totals.clips,
        load_s + plan_s + json_s
    );

    let bin = env!("CARGO_BIN_EXE_shotlist");
    for json in [false, true] {
        let (wall_s, status) = best_of(runs, || {
            let mut cmd = Command::new(bin);
            cmd.arg("plan").arg(&path).stdout(std::process::Stdio::null());
            if json {
                cmd.arg("--json");
            }
            cmd.status().unwrap()
        });
        assert!(status.success());
        println!(
            "{{\"bench\":\"plan_binary\",\"shots\":{shots},\"json\":{json},\"wall_s\":{wall_s:.4},\"runs\":{runs}}}"
        );
    }
}
