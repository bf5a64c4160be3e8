//! Shared helpers: run the binary from the repository root with a fixed, colourless
//! environment, and read its output.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The repository root; manifests are passed relative to it so messages are stable.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `shotlist ARGS` in `dir` with no colour and no inherited provider settings.
pub fn shotlist_in(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = assert_cmd::Command::cargo_bin("shotlist").expect("binary built");
    cmd.current_dir(dir).args(args).env("NO_COLOR", "1").env_remove("CLICOLOR_FORCE");
    for var in [
        "RUNWARE_API_KEY",
        "MINIMAX_API_KEY",
        "SEGMIND_API_KEY",
        "RUNWARE_BASE_URL",
        "MINIMAX_BASE_URL",
        "SEGMIND_BASE_URL",
    ] {
        cmd.env_remove(var);
    }
    cmd.output().expect("shotlist runs")
}

pub fn shotlist(args: &[&str]) -> Output {
    shotlist_in(&root(), args)
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `plan --json` of a manifest, parsed; panics unless it exits 0.
pub fn plan_json(dir: &Path, manifest: &str) -> serde_json::Value {
    let out = shotlist_in(dir, &["plan", manifest, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("plan --json prints JSON")
}

/// Copies a directory tree (the manifests and their frames) into a scratch folder.
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A night against an in-process simulator: the binary runs with every provider
/// pointed at it (distinct, recognisable keys), in a scratch folder.
pub struct Night {
    pub sim: shotlist::sim::SimHandle,
    pub dir: tempfile::TempDir,
}

/// The keys a night uses; tests check none of them ever leaks.
pub const NIGHT_KEYS: [(&str, &str); 3] = [
    ("RUNWARE_API_KEY", "rw-SECRET-7c1d0e"),
    ("MINIMAX_API_KEY", "mm-SECRET-52ab9f"),
    ("SEGMIND_API_KEY", "sg-SECRET-e40b13"),
];

impl Night {
    pub async fn start(config: shotlist::sim::SimConfig) -> Night {
        let sim = shotlist::sim::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("simulator starts");
        Night { sim, dir: tempfile::tempdir().unwrap() }
    }

    pub fn write(&self, name: &str, text: &str) {
        std::fs::write(self.dir.path().join(name), text).unwrap();
    }

    /// `shotlist ARGS` in the scratch folder, pointed at the simulator.
    pub fn command(&self, args: &[&str]) -> std::process::Command {
        use shotlist::catalog::Provider;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_shotlist"));
        cmd.current_dir(self.dir.path()).args(args).env("NO_COLOR", "1");
        for (var, key) in NIGHT_KEYS {
            cmd.env(var, key);
        }
        cmd.env("RUNWARE_BASE_URL", self.sim.base_url(Provider::Runware));
        cmd.env("MINIMAX_BASE_URL", self.sim.base_url(Provider::Minimax));
        cmd.env("SEGMIND_BASE_URL", self.sim.base_url(Provider::Segmind));
        cmd
    }

    /// Runs to the end without blocking the simulator's runtime.
    pub async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.command(args);
        tokio::task::spawn_blocking(move || cmd.output().expect("shotlist runs")).await.unwrap()
    }

    /// Runs `args` in the night's folder, killing it after `limit`: the exit code
    /// (`None` when it had to be killed) and stderr.
    pub async fn run_bounded(&self, args: &[&str], limit: std::time::Duration) -> (Option<i32>, String) {
        let child = self
            .command(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("shotlist starts");
        wait_bounded(child, limit).await
    }

    /// Starts `args` over and over, SIGKILLing each run after a delay drawn from
    /// `delays_ms` by a fixed generator seeded with `seed` (so a failure replays),
    /// until `kills` kills landed or `attempts` runs were made: the kills landed.
    pub async fn kill_loop(
        &self,
        args: &[&str],
        seed: u64,
        delays_ms: std::ops::Range<u64>,
        kills: usize,
        attempts: usize,
    ) -> usize {
        let mut seed = seed;
        let mut landed = 0;
        for _ in 0..attempts {
            if landed == kills {
                break;
            }
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let after = delays_ms.start + (seed >> 33) % (delays_ms.end - delays_ms.start);
            let mut child = self
                .command(args)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(after)).await;
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
                landed += 1;
            }
            let _ = child.wait();
        }
        landed
    }

    /// Runs `args` until a run ends by itself (exit 0 or 1), 4 runs at most (a run
    /// may halt for a passing reason); panics with the last stderr otherwise.
    pub async fn run_to_the_end(&self, args: &[&str]) -> Output {
        for _ in 0..3 {
            let out = self.run(args).await;
            if matches!(out.status.code(), Some(0 | 1)) {
                return out;
            }
        }
        let out = self.run(args).await;
        assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}: {}", out.status.code(), stderr(&out));
        out
    }

    pub fn out(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Waits for a child started with stderr piped, killing it after `limit`: its exit
/// code (`None` when it had to be killed) and stderr, read as it comes so that a
/// chatty child never blocks on a full pipe.
pub async fn wait_bounded(mut child: std::process::Child, limit: std::time::Duration) -> (Option<i32>, String) {
    use std::io::Read;
    let mut pipe = child.stderr.take().expect("stderr piped");
    let reader = std::thread::spawn(move || {
        let mut err = String::new();
        let _ = pipe.read_to_string(&mut err);
        err
    });
    let deadline = std::time::Instant::now() + limit;
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    (code, reader.join().unwrap_or_default())
}

/// Where the proof suite leaves one line per passed check; `.ci/run` prints it as
/// the summary table (libtest hides what passing tests print).
pub fn proof_summary_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("proof-summary.tsv")
}

/// Records a passed check of the proof suite with its figures (and prints it).
pub fn proof_line(area: &str, check: &str, figures: &str) {
    use std::io::Write;
    eprintln!("{area} / {check}: {figures}");
    let line = format!("{area}\t{check}\t{}\n", figures.replace(['\t', '\n'], " "));
    // One write of a short line in append mode: lines of parallel tests never mix.
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(proof_summary_path()) {
        let _ = f.write_all(line.as_bytes());
    }
}

/// Every file below `root`, at any depth.
pub fn files_under(root: &Path) -> Vec<PathBuf> {
    let (mut files, mut stack) = (Vec::new(), vec![root.to_path_buf()]);
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() { stack.push(p) } else { files.push(p) }
        }
    }
    files
}

/// No download's temporary file (`*.part`) is left below `root`.
pub fn assert_no_temporary_file(root: &Path, ctx: &str) {
    for p in files_under(root) {
        assert!(!p.to_string_lossy().ends_with(".part"), "{ctx}: temporary file left: {}", p.display());
    }
}

/// report.csv as rows of column → value.
pub fn read_report(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_path(path).expect("report.csv exists");
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| headers.iter().zip(r.unwrap().iter()).map(|(h, v)| (h.to_owned(), v.to_owned())).collect())
        .collect()
}

/// A manifest of text shots spread over the three providers.
pub fn mixed_manifest(runware: usize, minimax: usize, segmind: usize) -> String {
    let mut m = String::from("version: 1\nname: night\nshots:\n");
    for i in 0..runware {
        let n = if i % 3 == 0 { 2 } else { 1 };
        m.push_str(&format!("  - {{ id: rw{i:03}, provider: runware, model: hailuo-2.3, numberResults: {n}, prompt: \"runware shot {i}, a lantern-lit market in the rain\" }}\n"));
    }
    for i in 0..minimax {
        m.push_str(&format!("  - {{ id: mm{i:03}, provider: minimax, model: hailuo-2.3, prompt: \"minimax shot {i}, a quiet lake at dawn\" }}\n"));
    }
    for i in 0..segmind {
        m.push_str(&format!("  - {{ id: sg{i:03}, provider: segmind, model: hailuo-2.3, prompt: \"segmind shot {i}, a windy beach at noon\" }}\n"));
    }
    m
}

/// What a night left behind, checked against the simulator's ledger.
#[derive(Debug, Default)]
pub struct NightCheck {
    pub jobs: usize,
    pub clips: usize,
    pub done: usize,
    pub failed: usize,
    pub in_doubt: usize,
    pub pending: usize,
    /// Jobs whose output was paid for more than once.
    pub double_charges: usize,
    /// Clips paid for (on a task the journal knows) but neither on disk nor failed.
    pub lost_results: usize,
    /// Billed tasks the journal never recorded as accepted.
    pub unrecorded_billed: usize,
    /// For each job paid more than once: its ledger entries and journal records.
    pub double_charge_evidence: Vec<String>,
}

/// Checks the invariants of an out folder against the ledger: the journal replays;
/// report.csv parses and agrees with it; every done clip is on disk with its hash and
/// no temporary file remains; nothing is paid twice; no paid result is lost; every
/// billed-but-unrecorded task shows as in doubt.
pub fn check_night(night: &Night, out: &str) -> NightCheck {
    use shotlist::catalog::Provider;
    use shotlist::run::journal::{self, Record};
    use std::collections::{BTreeMap, BTreeSet};
    let root = night.out(out);
    let records = journal::read(&root.join("state.jsonl")).expect("the journal replays").records;
    let state = shotlist::run::state::RunState::replay(&records);
    let rows = read_report(&root.join("report.csv"));
    let mut c = NightCheck { jobs: state.jobs.len(), clips: rows.len(), ..Default::default() };
    for r in &rows {
        let job = state.jobs.get(&r["job_key"]);
        let v: u32 = r["variant"].parse().unwrap();
        assert_eq!(
            shotlist::run::report::clip_status(job, v),
            r["status"],
            "report.csv agrees with the journal: {r:?}"
        );
        match r["status"].as_str() {
            "done" => {
                c.done += 1;
                let path = root.join(&r["file"]);
                assert_eq!(shotlist::run::download::sha256_of(&path).unwrap(), r["sha256"], "{}", r["file"]);
            }
            "failed" => c.failed += 1,
            "in_doubt" => c.in_doubt += 1,
            "pending" => c.pending += 1,
            other => panic!("a settled night has no `{other}` clip: {r:?}"),
        }
    }
    assert_no_temporary_file(&root, out);
    let ledger = night.sim.ledger();
    // Which job each task belongs to: Runware by taskUUID (intents), others by acceptance.
    let mut task_job: BTreeMap<String, String> = BTreeMap::new();
    for r in &records {
        match r {
            Record::Intent { key, task_uuid, .. } => {
                task_job.insert(task_uuid.to_string(), key.clone());
            }
            Record::Accepted { key, task, .. } => {
                task_job.insert(task.id.clone(), key.clone());
            }
            _ => {}
        }
    }
    let accepted: BTreeSet<&str> = records
        .iter()
        .filter_map(|r| if let Record::Accepted { task, .. } = r { Some(task.id.as_str()) } else { None })
        .collect();
    let mut paid_per_job: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &ledger.entries {
        match task_job.get(&e.task_id) {
            Some(job) => {
                if e.clips_billed > 0 {
                    *paid_per_job.entry(job.as_str()).or_default() += 1;
                }
                if !accepted.contains(e.task_id.as_str()) && e.provider != Provider::Runware {
                    c.unrecorded_billed += 1;
                }
                // Every clip paid on a task the journal knows is on disk or failed.
                if accepted.contains(e.task_id.as_str()) {
                    let js = &state.jobs[job];
                    let collected = js.clips.values().filter(|c| c.file.is_some() || c.failed.is_some()).count() as u32;
                    let this_task = js.task.as_ref().is_some_and(|t| t.id == e.task_id);
                    if this_task && collected < e.clips_billed {
                        c.lost_results += (e.clips_billed - collected) as usize;
                    }
                }
            }
            None => {
                assert_ne!(e.provider, Provider::Runware, "a billed Runware task no intent explains: {e:?}");
                c.unrecorded_billed += 1;
            }
        }
    }
    c.double_charges = paid_per_job.values().filter(|n| **n > 1).count();
    for (job, _) in paid_per_job.iter().filter(|(_, n)| **n > 1) {
        let tasks: Vec<_> =
            ledger.entries.iter().filter(|e| task_job.get(&e.task_id).map(String::as_str) == Some(*job)).collect();
        let history: Vec<_> = records.iter().filter(|r| record_key(r) == Some(*job)).collect();
        c.double_charge_evidence.push(format!("job {job}:\n  billed {tasks:#?}\n  journal {history:#?}"));
    }
    c
}

fn record_key(r: &shotlist::run::journal::Record) -> Option<&str> {
    let key = match r {
        shotlist::run::journal::Record::Job { key, .. }
        | shotlist::run::journal::Record::Intent { key, .. }
        | shotlist::run::journal::Record::Accepted { key, .. }
        | shotlist::run::journal::Record::NotAccepted { key, .. }
        | shotlist::run::journal::Record::InDoubt { key, .. }
        | shotlist::run::journal::Record::Clip { key, .. }
        | shotlist::run::journal::Record::Downloaded { key, .. }
        | shotlist::run::journal::Record::Failed { key, .. } => key,
        _ => return None,
    };
    Some(key)
}

/// The PostgreSQL the shared-state tests use (`SHOTLIST_TEST_DATABASE_URL`, set by
/// `.ci/run`). Missing under CI is a failure; elsewhere the test returns early.
pub fn test_database_url() -> Option<String> {
    match std::env::var("SHOTLIST_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI is set but SHOTLIST_TEST_DATABASE_URL is not: .ci/run starts a PostgreSQL for these tests"
            );
            eprintln!("no SHOTLIST_TEST_DATABASE_URL: this PostgreSQL test does not run here");
            None
        }
    }
}
