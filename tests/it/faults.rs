//! The fault matrix: for every provider and every fault the simulator can inject,
//! a night through the real binary ends with the documented outcome (retried to
//! success, failed with its class, `in_doubt`, or halted with its exit code), a
//! rerun of the same command does what the README promises (nothing paid for is
//! paid for twice), and the journal stays consistent with the report, the files on
//! disk and the simulator's ledger.
//!
//! `run_fault(provider, fault)` plays one cell and returns what it observed;
//! `expect_documented` holds the documented outcome of every cell; `matrix!` turns
//! each cell into one test (`faults::minimax::reset_after`, ...), so a failure names
//! both. `zz_matrix_summary` (sorted last) prints the observed table.
//!
//! Every night runs at 1/100 speed with renders of 60–120 simulated seconds and
//! 4–6 jobs, the runner told the same scale. Each journal starts with a fixed run
//! id ([`RUN_ID`]): Runware `taskUUID`s derive from it and the simulator's draws
//! from the seed and the request, so every cell meets the same faults each time.
//!
//! Cells whose documented outcome the runner does not deliver are `#[ignore]`d
//! with the bug; `cargo test --test it faults:: -- --ignored` plays them, plus two
//! tests that isolate those bugs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shotlist::catalog::Provider;
use shotlist::run::journal::{self, Record};
use shotlist::run::report::Row;
use shotlist::run::state::RunState;
use shotlist::sim::{Faults, Ledger, LedgerEntry, ProviderStats, RenderTime, SimConfig};

use crate::util::{NIGHT_KEYS, Night, mixed_manifest, stderr};

const SCALE: &str = "0.01";
const RUN: [&str; 7] = ["run", "m.yaml", "--out", "out", "--time-scale", SCALE, "-q"];
/// No single run of a cell may take longer than this (the slowest take ~6 s).
const RUN_DEADLINE: Duration = Duration::from_secs(60);
/// The word the simulator's input moderation refuses (its default).
const BLOCKED_WORD: &str = "FORBIDDEN-SCENE";
/// Shots whose prompt carries the blocked word in `blocked_input`.
const BLOCKED_SHOTS: [usize; 2] = [1, 3];
/// Submits the simulator accepts per provider before "insufficient credits".
const CREDITS: u32 = 2;

/// The faults of the matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    /// A 5xx before the request is processed.
    Http5xx,
    /// The connection drops after the headers, before the request is processed.
    ResetBefore,
    /// The request is processed (a submit is billed), then the connection drops.
    ResetAfter,
    /// The answer comes late (before the runner's 30 s request timeout).
    ReadTimeout,
    /// The provider's rate limit is below the runner's; 429s carry Retry-After.
    RateLimitRetryAfter,
    /// The same without Retry-After.
    RateLimitNoRetryAfter,
    /// Some prompts carry a word input moderation refuses.
    BlockedInput,
    /// Some outputs are blocked by moderation.
    BlockedOutput,
    /// Some tasks fail on the provider's side.
    ProviderFailure,
    /// The account runs out of credits after two accepted jobs.
    CreditsMidRun,
    /// The provider accepts another key than the one in the environment.
    BadKey,
    /// Download URLs expire before the runner gets to them.
    ExpiredUrl,
    /// Downloads stop halfway.
    TruncatedDownload,
    /// Answers that are not JSON (processed, though).
    MalformedJson,
    /// Downloads trickle in small chunks.
    SlowDownload,
}

impl Fault {
    const ALL: [Fault; 15] = [
        Fault::Http5xx,
        Fault::ResetBefore,
        Fault::ResetAfter,
        Fault::ReadTimeout,
        Fault::RateLimitRetryAfter,
        Fault::RateLimitNoRetryAfter,
        Fault::BlockedInput,
        Fault::BlockedOutput,
        Fault::ProviderFailure,
        Fault::CreditsMidRun,
        Fault::BadKey,
        Fault::ExpiredUrl,
        Fault::TruncatedDownload,
        Fault::MalformedJson,
        Fault::SlowDownload,
    ];

    /// The test's name.
    fn name(self) -> &'static str {
        match self {
            Fault::Http5xx => "http5xx",
            Fault::ResetBefore => "reset_before",
            Fault::ResetAfter => "reset_after",
            Fault::ReadTimeout => "read_timeout",
            Fault::RateLimitRetryAfter => "rate_limit_retry_after",
            Fault::RateLimitNoRetryAfter => "rate_limit_no_retry_after",
            Fault::BlockedInput => "blocked_input",
            Fault::BlockedOutput => "blocked_output",
            Fault::ProviderFailure => "provider_failure",
            Fault::CreditsMidRun => "credits_mid_run",
            Fault::BadKey => "bad_key",
            Fault::ExpiredUrl => "expired_url",
            Fault::TruncatedDownload => "truncated_download",
            Fault::MalformedJson => "malformed_json",
            Fault::SlowDownload => "slow_download",
        }
    }

    fn from_name(name: &str) -> Fault {
        Fault::ALL.into_iter().find(|f| f.name() == name).unwrap_or_else(|| panic!("no fault named {name}"))
    }
}

/// The simulator's seed of a cell: 1, unless that seed spares every submit of the
/// fault the cell is about (the draws are fixed, so this is checked once, here).
fn seed(p: Provider, fault: Fault) -> u64 {
    match (p, fault) {
        (Provider::Segmind, Fault::Http5xx) | (_, Fault::ProviderFailure) => 2,
        _ => 1,
    }
}

/// The simulator of one cell: clean for every provider but `p`, which gets the fault.
fn config(p: Provider, fault: Fault) -> SimConfig {
    let mut c = SimConfig {
        seed: seed(p, fault),
        time_scale: 0.01,
        render: RenderTime { min_secs: 60.0, max_secs: 120.0 },
        ..SimConfig::default()
    };
    let mut f = Faults::default();
    match fault {
        Fault::Http5xx => f.http5xx = 0.3,
        Fault::ResetBefore => f.reset_before = 0.4,
        Fault::ResetAfter => f.reset_after = 0.4,
        Fault::ReadTimeout => {
            f.no_answer = 0.3;
            c.hang_secs = 1.5;
        }
        Fault::RateLimitRetryAfter | Fault::RateLimitNoRetryAfter => {
            // Two submits per simulated minute (0.6 s): below every runner default.
            c.provider_mut(p).requests_per_minute = Some(2);
            c.retry_after = fault == Fault::RateLimitRetryAfter;
        }
        Fault::BlockedInput => c.blocked_word = BLOCKED_WORD.into(),
        Fault::BlockedOutput => f.content_blocked_output = 0.4,
        Fault::ProviderFailure => f.provider_failure = 0.4,
        Fault::CreditsMidRun => c.provider_mut(p).credits_after = Some(CREDITS),
        Fault::BadKey => c.provider_mut(p).api_key = Some("the-one-right-key".into()),
        Fault::ExpiredUrl => {
            // URLs live 0.2 s; answers come 0.5 s late, so every URL they carry has
            // expired on arrival. MiniMax answers late only half the time, so a
            // `files/retrieve` refresh can bring a URL that still works.
            c.url_ttl_secs = 20.0;
            c.hang_secs = 0.5;
            f.no_answer = if p == Provider::Minimax { 0.5 } else { 1.0 };
        }
        Fault::TruncatedDownload => f.truncated_download = 0.4,
        Fault::MalformedJson => f.malformed_json = 0.3,
        Fault::SlowDownload => {
            // ~125 KB in 4 KB chunks 10 ms apart: each download trickles for ~0.3 s.
            f.slow_download = 1.0;
            c.slow_download_ms = 10;
            c.clip_padding_bytes = 100_000;
        }
    }
    c.provider_mut(p).faults = Some(f);
    c
}

/// Jobs of `p` in a cell: Runware 4 jobs (6 clips: shots 0 and 3 render 2 each),
/// MiniMax and Segmind 5 jobs of one clip. A credits cell adds jobs of another
/// provider (2 on Segmind, or Runware's 2-clip shot), which must finish while `p` halts.
fn shot_counts(p: Provider, fault: Fault) -> (usize, usize, usize) {
    let other = fault == Fault::CreditsMidRun;
    match p {
        Provider::Runware => (4, 0, if other { 2 } else { 0 }),
        Provider::Minimax => (usize::from(other), 5, 0),
        Provider::Segmind => (usize::from(other), 0, 5),
    }
}

fn shot_prefix(p: Provider) -> &'static str {
    match p {
        Provider::Runware => "rw",
        Provider::Minimax => "mm",
        Provider::Segmind => "sg",
    }
}

fn manifest(p: Provider, fault: Fault) -> String {
    let (rw, mm, sg) = shot_counts(p, fault);
    let mut m = mixed_manifest(rw, mm, sg);
    if fault == Fault::BlockedInput {
        for i in BLOCKED_SHOTS {
            let (from, to) = (format!("{p} shot {i},"), format!("{p} shot {i} {BLOCKED_WORD},"));
            assert!(m.contains(&from), "{p}: no shot {i} to block in {m}");
            m = m.replace(&from, &to);
        }
    }
    m
}

/// Whether a report row belongs to one of the blocked shots.
fn is_blocked_shot(p: Provider, shot_id: &str) -> bool {
    BLOCKED_SHOTS.iter().any(|i| shot_id == format!("{}{i:03}", shot_prefix(p)))
}

/// One run of the binary, as the cell saw it.
struct Pass {
    code: Option<i32>,
    stderr: String,
    /// Rows of the faulty provider, from report.csv.
    rows: Vec<Row>,
    /// Rows of the other provider (credits cells only).
    other_rows: Vec<Row>,
    /// The faulty provider's ledger entries after the run.
    ledger: Vec<LedgerEntry>,
    elapsed: Duration,
}

impl Pass {
    fn count(&self, status: &str) -> usize {
        self.rows.iter().filter(|r| r.status == status).count()
    }

    fn billed_clips(&self) -> u32 {
        self.ledger.iter().map(|e| e.clips_billed).sum()
    }

    fn statuses(&self) -> String {
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &self.rows {
            *counts.entry(r.status.as_str()).or_default() += 1;
        }
        counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", ")
    }
}

/// What a cell observed: the first run, the rerun of the same command, and facts
/// from the journal and the simulator.
struct Outcome {
    p: Provider,
    fault: Fault,
    first: Pass,
    rerun: Pass,
    jobs: usize,
    clips: usize,
    stats: ProviderStats,
    /// Runware submits answered `conflictTaskUUID` (accepted by an earlier send).
    replayed: usize,
    /// Clips whose URL was replaced by a refreshed one.
    refreshed: usize,
    /// The most distinct taskUUIDs the intents of one job carried.
    uuids_per_job: usize,
    /// Journal text (to check that no key was written).
    journal_text: String,
    report_text: String,
}

impl Outcome {
    fn ctx(&self) -> String {
        format!("{} × {}", self.p, self.fault.name())
    }

    /// One line for the summary table.
    fn summary(&self) -> String {
        let f = &self.first;
        let mut s = format!("exit {} [{}]", code(f.code), f.statuses());
        if self.rerun.code != f.code || self.rerun.statuses() != f.statuses() {
            s.push_str(&format!(" → rerun exit {} [{}]", code(self.rerun.code), self.rerun.statuses()));
        } else {
            s.push_str(" → rerun same");
        }
        let billed_tasks = self.rerun.ledger.iter().filter(|e| e.clips_billed > 0).count();
        s.push_str(&format!(
            "; ledger {} tasks ({billed_tasks} billed, {} clips); submits {}, 429s {}, faults {}; {:.1}s+{:.1}s",
            self.rerun.ledger.len(),
            self.rerun.billed_clips(),
            self.stats.submits,
            self.stats.rate_limited,
            self.stats.faults_injected,
            f.elapsed.as_secs_f64(),
            self.rerun.elapsed.as_secs_f64()
        ));
        s
    }
}

fn code(c: Option<i32>) -> String {
    c.map_or_else(|| "signal".into(), |c| c.to_string())
}

/// Runs the binary once, bounded.
async fn run_once(night: &Night, ctx: &str) -> (std::process::Output, Duration) {
    let t = Instant::now();
    let out = tokio::time::timeout(RUN_DEADLINE, night.run(&RUN))
        .await
        .unwrap_or_else(|_| panic!("{ctx}: a run took longer than {RUN_DEADLINE:?}"));
    (out, t.elapsed())
}

/// Reads report.csv into the report's own rows.
fn report_rows(night: &Night) -> Vec<Row> {
    let path = night.out("out").join("report.csv");
    let mut reader = csv::Reader::from_path(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    reader.deserialize().map(|r| r.expect("a report row")).collect()
}

fn pass(night: &Night, p: Provider, out: &std::process::Output, elapsed: Duration) -> Pass {
    let rows = report_rows(night);
    let (mine, other): (Vec<Row>, Vec<Row>) = rows.into_iter().partition(|r| r.provider == p.name());
    Pass {
        code: out.status.code(),
        stderr: stderr(out),
        rows: mine,
        other_rows: other,
        ledger: night.sim.ledger().entries.into_iter().filter(|e| e.provider == p).collect(),
        elapsed,
    }
}

/// The run id every cell's journal starts with. Runware `taskUUID`s derive from it,
/// and the simulator draws its faults from the seed and the request, so with it
/// fixed a cell replays the same faults on the same submits every time.
const RUN_ID: &str = "3b0f6c1e-5a7d-4e29-9c84-1f2e3d4c5b6a";

/// Starts the out folder's journal with [`RUN_ID`] (as a first run would, with a
/// random one).
fn seed_journal(night: &Night) {
    let out = night.out("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut j = journal::Journal::open(&out.join("state.jsonl"), 0).unwrap();
    j.append(&Record::Header {
        v: journal::JOURNAL_VERSION,
        run_id: RUN_ID.parse().unwrap(),
        created_at: journal::now(),
        tool: "tests/it/faults.rs".into(),
    })
    .unwrap();
}

/// Plays one cell: a night with the fault on `p`, then the same command again.
async fn run_fault(p: Provider, fault: Fault) -> Outcome {
    let night = Night::start(config(p, fault)).await;
    night.write("m.yaml", &manifest(p, fault));
    seed_journal(&night);
    let ctx = format!("{p} × {} (first run)", fault.name());
    let (out, elapsed) = run_once(&night, &ctx).await;
    let first = pass(&night, p, &out, elapsed);
    check_consistency(&night, &ctx);
    let ctx = format!("{p} × {} (rerun)", fault.name());
    let (out, elapsed) = run_once(&night, &ctx).await;
    let rerun = pass(&night, p, &out, elapsed);
    check_consistency(&night, &ctx);
    let records = journal::read(&night.out("out").join("state.jsonl")).expect("journal reads").records;
    let replayed = records.iter().filter(|r| matches!(r, Record::Accepted { replayed: true, .. })).count();
    let mut urls: BTreeMap<(String, u32), BTreeSet<String>> = BTreeMap::new();
    for r in &records {
        if let Record::Clip { key, variant, clip, .. } = r {
            urls.entry((key.clone(), *variant)).or_default().insert(clip.video_url.clone());
        }
    }
    let refreshed = urls.values().filter(|u| u.len() > 1).count();
    let mut uuids: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for r in &records {
        if let Record::Intent { key, task_uuid, .. } = r {
            uuids.entry(key.as_str()).or_default().insert(task_uuid.to_string());
        }
    }
    let uuids_per_job = uuids.values().map(BTreeSet::len).max().unwrap_or(0);
    let (rw, mm, sg) = shot_counts(p, fault);
    let jobs = match p {
        Provider::Runware => rw,
        Provider::Minimax => mm,
        Provider::Segmind => sg,
    };
    let clips = rerun.rows.len();
    let stats = night.sim.stats().providers.get(p.name()).cloned().unwrap_or_default();
    Outcome {
        p,
        fault,
        first,
        rerun,
        jobs,
        clips,
        stats,
        replayed,
        refreshed,
        uuids_per_job,
        journal_text: std::fs::read_to_string(night.out("out").join("state.jsonl")).unwrap(),
        report_text: std::fs::read_to_string(night.out("out").join("report.csv")).unwrap(),
    }
}

/// The journal after a run agrees with everything else: it reads whole; the
/// report is exactly its replay; `status --json` counts the same; every done clip
/// is on disk with its hash; no temporary file is left; no clip is left running;
/// and the ledger agrees with it: every Runware task billed once and known by an
/// intent, every MiniMax/Segmind task the journal accepted really exists, a task the
/// journal never heard of shows as in doubt, one billed task per job at most, and
/// the reported costs are the billed ones.
fn check_consistency(night: &Night, ctx: &str) {
    let out = night.out("out");
    let replayed = journal::read(&out.join("state.jsonl")).unwrap_or_else(|e| panic!("{ctx}: journal: {e}"));
    assert!(!replayed.torn_tail, "{ctx}: a clean exit left a torn journal line");
    let records = replayed.records;
    let state = RunState::replay(&records);
    let loaded = shotlist::manifest::load(&night.out("m.yaml")).unwrap_or_else(|e| panic!("{ctx}: {e:?}"));
    let plan = shotlist::plan::Plan::new(&loaded.manifest);
    let expected = shotlist::run::report::rows(&plan, &state);
    let rows = report_rows(night);
    assert_eq!(rows.len(), plan.jobs.iter().map(|j| j.variants.len()).sum::<usize>(), "{ctx}: one row per clip");
    for (got, want) in rows.iter().zip(&expected) {
        assert_eq!(got, want, "{ctx}: report.csv row differs from the journal's replay");
    }
    // status --json counts the same rows.
    let status = night.command(&["status", "m.yaml", "--out", "out", "--json"]).output().expect("status runs");
    assert_eq!(status.status.code(), Some(0), "{ctx}: status: {}", stderr(&status));
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).expect("status --json is JSON");
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.status.clone()).or_default() += 1;
        assert!(
            ["done", "failed", "in_doubt", "pending"].contains(&r.status.as_str()),
            "{ctx}: {} #{} is {:?} after the run ended (a clip left in the air)",
            r.shot_id,
            r.variant,
            r.status
        );
    }
    let said: BTreeMap<String, u64> = serde_json::from_value(doc["status"].clone()).expect("status counts");
    assert_eq!(said, counts, "{ctx}: status --json counts differ from report.csv: {doc}");
    // Files.
    for r in rows.iter().filter(|r| r.status == "done") {
        let path = out.join(&r.file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{ctx}: {}: {e}", r.file));
        assert_eq!(&bytes[4..8], b"ftyp", "{ctx}: {} is an MP4", r.file);
        assert_eq!(shotlist::run::download::sha256_of(&path).unwrap(), r.sha256, "{ctx}: {} hash", r.file);
    }
    for r in rows.iter().filter(|r| r.status != "done") {
        assert!(
            r.file.is_empty() && r.sha256.is_empty(),
            "{ctx}: {} #{} has a file but is {}",
            r.shot_id,
            r.variant,
            r.status
        );
    }
    crate::util::assert_no_temporary_file(&out, ctx);
    // The ledger against the journal.
    let ledger: Ledger = night.sim.ledger();
    let job_of_task: BTreeMap<String, String> = records
        .iter()
        .filter_map(|r| match r {
            Record::Accepted { key, task, .. } => Some((task.id.to_ascii_lowercase(), key.clone())),
            Record::Intent { key, task_uuid, .. }
                if state
                    .jobs
                    .get(key)
                    .and_then(|j| j.def.as_ref())
                    .is_some_and(|d| d.provider == Provider::Runware) =>
            {
                Some((task_uuid.to_string(), key.clone()))
            }
            _ => None,
        })
        .collect();
    let rw: Vec<&str> =
        ledger.entries.iter().filter(|e| e.provider == Provider::Runware).map(|e| e.task_id.as_str()).collect();
    let unique: BTreeSet<&str> = rw.iter().copied().collect();
    assert_eq!(unique.len(), rw.len(), "{ctx}: a Runware task billed twice: {rw:?}");
    for t in &rw {
        assert!(job_of_task.contains_key(&t.to_ascii_lowercase()), "{ctx}: billed Runware task {t} has no intent");
    }
    let in_ledger: BTreeSet<String> = ledger.entries.iter().map(|e| e.task_id.to_ascii_lowercase()).collect();
    for r in &records {
        if let Record::Accepted { key, task, .. } = r {
            assert!(
                in_ledger.contains(&task.id.to_ascii_lowercase()),
                "{ctx}: {key}: accepted task {} unknown to the provider",
                task.id
            );
        }
    }
    let in_doubt = rows.iter().filter(|r| r.status == "in_doubt").map(|r| &r.job_key).collect::<BTreeSet<_>>().len();
    let unrecorded: Vec<&LedgerEntry> =
        ledger.entries.iter().filter(|e| !job_of_task.contains_key(&e.task_id.to_ascii_lowercase())).collect();
    assert!(
        unrecorded.len() <= in_doubt,
        "{ctx}: {} tasks billed that the journal never recorded, only {in_doubt} jobs in doubt: {unrecorded:?}",
        unrecorded.len()
    );
    let mut billed_per_job: BTreeMap<&str, usize> = BTreeMap::new();
    for e in ledger.entries.iter().filter(|e| e.clips_billed > 0) {
        if let Some(job) = job_of_task.get(&e.task_id.to_ascii_lowercase()) {
            *billed_per_job.entry(job).or_default() += 1;
        }
    }
    for (job, n) in &billed_per_job {
        assert_eq!(*n, 1, "{ctx}: job {job} has {n} billed tasks");
    }
    // Reported costs are the billed ones (MiniMax reports none: its cells stay empty).
    for p in [Provider::Runware, Provider::Segmind] {
        let reported: f64 = state
            .jobs
            .values()
            .filter(|j| j.def.as_ref().is_some_and(|d| d.provider == p))
            .flat_map(|j| j.clips.values())
            .filter_map(|c| c.clip.as_ref().and_then(|c| c.cost_usd))
            .sum();
        let billed: f64 = ledger
            .entries
            .iter()
            .filter(|e| e.provider == p && job_of_task.contains_key(&e.task_id.to_ascii_lowercase()))
            .map(|e| e.billed_usd)
            .sum();
        assert!((reported - billed).abs() < 1e-6, "{ctx}: {p} reported ${reported} but was billed ${billed}");
    }
    assert!(
        rows.iter()
            .filter(|r| r.provider == "minimax")
            .all(|r| r.cost_source != Some(shotlist::run::report::CostSource::Reported)),
        "{ctx}: MiniMax reports no cost, yet a row says `reported`"
    );
}

/// Every job of `p` is done, each billed once, and the rerun changed nothing.
fn all_done_billed_once(o: &Outcome) {
    let ctx = o.ctx();
    assert_eq!(o.first.code, Some(0), "{ctx}: expected exit 0, stderr:\n{}", o.first.stderr);
    assert_eq!(o.first.count("done"), o.clips, "{ctx}: every clip done: {}", o.first.statuses());
    assert_eq!(o.first.ledger.len(), o.jobs, "{ctx}: one accepted task per job: {:?}", o.first.ledger);
    assert_eq!(o.first.billed_clips() as usize, o.clips, "{ctx}: every clip billed once");
    rerun_changes_nothing(o);
    assert_eq!(o.rerun.code, Some(0), "{ctx}: the rerun finds everything done:\n{}", o.rerun.stderr);
}

/// The rerun submitted nothing new and left every row as it was.
fn rerun_changes_nothing(o: &Outcome) {
    let ctx = o.ctx();
    assert_eq!(o.rerun.ledger.len(), o.first.ledger.len(), "{ctx}: the rerun submitted again: {:?}", o.rerun.ledger);
    assert_eq!(o.rerun.code, o.first.code, "{ctx}: the rerun ended otherwise:\n{}", o.rerun.stderr);
    assert_eq!(o.rerun.statuses(), o.first.statuses(), "{ctx}: the rerun changed the rows");
}

/// MiniMax and Segmind: submits whose answer was lost are `in_doubt` (exit 1), the
/// others done; `billed` says whether the lost ones were processed (and billed); a
/// rerun never sends them again.
fn in_doubt_never_resubmitted(o: &Outcome, billed: bool) {
    let ctx = o.ctx();
    let (done, in_doubt) = (o.first.count("done"), o.first.count("in_doubt"));
    assert!(in_doubt >= 1, "{ctx}: the fault should have struck a submit: {}", o.first.statuses());
    assert_eq!(done + in_doubt, o.clips, "{ctx}: done or in doubt, nothing else: {}", o.first.statuses());
    assert_eq!(o.first.code, Some(1), "{ctx}: exit 1 with jobs in doubt:\n{}", o.first.stderr);
    assert!(o.first.stderr.contains("--resubmit-in-doubt"), "{ctx}: the way out is named:\n{}", o.first.stderr);
    let expected = if billed { done + in_doubt } else { done };
    assert_eq!(
        o.first.ledger.len(),
        expected,
        "{ctx}: {done} done + {in_doubt} in doubt: the in-doubt submits were {}processed",
        if billed { "" } else { "not " }
    );
    assert!(
        o.first.rows.iter().filter(|r| r.status == "in_doubt").all(|r| r.error.starts_with("in doubt")),
        "{ctx}: in-doubt rows say why"
    );
    rerun_changes_nothing(o);
}

/// The documented outcome of every cell (README "How a run behaves", DESIGN "The
/// rules that make it trustworthy").
fn expect_documented(o: &Outcome) {
    let ctx = o.ctx();
    let p = o.p;
    let first = &o.first;
    match (p, o.fault) {
        // Runware: a 503 proves nothing was accepted; Segmind documents "retry the
        // submit" on a 5xx. Both retry until done.
        (Provider::Runware | Provider::Segmind, Fault::Http5xx) => {
            assert!(o.stats.submits > o.stats.accepted, "{ctx}: no submit met a 5xx: {:?}", o.stats);
            all_done_billed_once(o);
            if p == Provider::Runware {
                // Regression: a 503 to the resend of an unanswered intent (after a kill)
                // moved the job to a new taskUUID, and the first send had been billed.
                assert_eq!(o.uuids_per_job, 1, "{ctx}: a job kept one taskUUID until accepted");
            }
        }
        // MiniMax does not document whether a 5xx create was accepted: in doubt. The
        // simulator's 5xx comes before processing, so none of them is billed.
        (Provider::Minimax, Fault::Http5xx) => in_doubt_never_resubmitted(o, false),
        // Runware re-sends the same taskUUID: one task per job whatever the reset.
        (Provider::Runware, Fault::ResetBefore | Fault::ResetAfter) => {
            assert!(o.stats.submits > o.stats.accepted, "{ctx}: a submit should have been cut: {:?}", o.stats);
            all_done_billed_once(o);
            if o.fault == Fault::ResetAfter {
                assert!(o.replayed >= 1, "{ctx}: a re-sent taskUUID answered conflictTaskUUID (= accepted)");
            }
        }
        (_, Fault::ResetBefore) => in_doubt_never_resubmitted(o, false),
        (_, Fault::ResetAfter) => in_doubt_never_resubmitted(o, true),
        // Under the runner's 30 s request timeout (provider::REQUEST_TIMEOUT, which the
        // binary does not let a test shorten) a late answer is an answer. A submit that
        // times out is in doubt: that is proved at the client level
        // (clients::*::submit_no_answer), where the timeout can be 1 s.
        (_, Fault::ReadTimeout) => {
            assert!(o.stats.faults_injected > 0, "{ctx}: no answer was held back");
            all_done_billed_once(o);
        }
        // Runware honours Retry-After when sent and backs off without it; MiniMax
        // answers 1002 inside HTTP 200 and never sends Retry-After, and Segmind always
        // sends x-rate-limit-reset-at-utc, so their two cells play alike.
        (_, Fault::RateLimitRetryAfter | Fault::RateLimitNoRetryAfter) => {
            assert!(o.stats.rate_limited > 0, "{ctx}: the limit was never met: {:?}", o.stats);
            eprintln!("{ctx}: {} submits, {} rate-limited answers", o.stats.submits, o.stats.rate_limited);
            // Runware documents its 429 as queue back-pressure: without Retry-After the
            // first one backs off, and only a second in a row waits as for a window (this
            // simulator's 2 per minute is one), so each limit met may cost two answers.
            let per_limit = if p == Provider::Runware && o.fault == Fault::RateLimitNoRetryAfter { 2 } else { 1 };
            assert!(
                o.stats.rate_limited <= per_limit * o.stats.accepted + 2,
                "{ctx}: {} limited answers for {} accepted submits: the cooldown did not hold",
                o.stats.rate_limited,
                o.stats.accepted
            );
            all_done_billed_once(o);
        }
        (_, Fault::BlockedInput) => {
            for r in &first.rows {
                if is_blocked_shot(p, &r.shot_id) {
                    assert_eq!(r.status, "failed", "{ctx}: {} carries the blocked word", r.shot_id);
                    assert!(r.error.starts_with("content_blocked"), "{ctx}: {}: {}", r.shot_id, r.error);
                } else {
                    assert_eq!(r.status, "done", "{ctx}: {} is clean: {}", r.shot_id, r.error);
                }
            }
            assert_eq!(first.code, Some(1), "{ctx}: exit 1 with failed clips:\n{}", first.stderr);
            let blocked_jobs = first
                .rows
                .iter()
                .filter(|r| is_blocked_shot(p, &r.shot_id))
                .map(|r| &r.job_key)
                .collect::<BTreeSet<_>>()
                .len();
            if p == Provider::Segmind {
                // Segmind accepts the job and reports moderation as a FAILED job: free.
                assert_eq!(first.ledger.len(), o.jobs, "{ctx}: every submit accepted");
            } else {
                assert_eq!(first.ledger.len(), o.jobs - blocked_jobs, "{ctx}: blocked submits refused");
            }
            assert_eq!(first.billed_clips() as usize, first.count("done"), "{ctx}: only done clips billed");
            rerun_changes_nothing(o);
        }
        (_, Fault::BlockedOutput) => {
            let failed = first.count("failed");
            assert!(failed >= 1, "{ctx}: no output was blocked: {}", first.statuses());
            assert_eq!(failed + first.count("done"), o.clips, "{ctx}: {}", first.statuses());
            for r in first.rows.iter().filter(|r| r.status == "failed") {
                assert!(r.error.starts_with("content_blocked"), "{ctx}: {} #{}: {}", r.shot_id, r.variant, r.error);
            }
            assert_eq!(first.code, Some(1), "{ctx}: exit 1 with failed clips:\n{}", first.stderr);
            assert_eq!(first.ledger.len(), o.jobs, "{ctx}: each job accepted once");
            assert_eq!(first.billed_clips() as usize, first.count("done"), "{ctx}: blocked clips are free");
            // Blocked content stays failed: a rerun sends nothing.
            rerun_changes_nothing(o);
        }
        (_, Fault::ProviderFailure) => {
            let failed = first.count("failed");
            assert!(failed >= 1, "{ctx}: no task failed: {}", first.statuses());
            assert_eq!(failed + first.count("done"), o.clips, "{ctx}: {}", first.statuses());
            for r in first.rows.iter().filter(|r| r.status == "failed") {
                assert!(r.error.starts_with("failed"), "{ctx}: {} #{}: {}", r.shot_id, r.variant, r.error);
            }
            assert_eq!(first.code, Some(1), "{ctx}: exit 1 with failed clips:\n{}", first.stderr);
            assert_eq!(first.ledger.len(), o.jobs, "{ctx}: one task per job in the first run");
            assert_eq!(first.billed_clips() as usize, first.count("done"), "{ctx}: failed tasks are free");
            // The rerun sends each wholly failed job again as a new attempt (on
            // Runware under a new taskUUID); a Runware job with a clip on disk is kept.
            let retried: BTreeSet<&str> = first
                .rows
                .iter()
                .filter(|r| r.status == "failed")
                .filter(|r| first.rows.iter().filter(|x| x.job_key == r.job_key).all(|x| x.status == "failed"))
                .map(|r| r.job_key.as_str())
                .collect();
            assert_eq!(
                o.rerun.ledger.len(),
                o.jobs + retried.len(),
                "{ctx}: the rerun sends each of the {} wholly failed jobs once",
                retried.len()
            );
            for r in o.rerun.rows.iter().filter(|r| retried.contains(r.job_key.as_str())) {
                assert!(r.attempts >= 2, "{ctx}: {} was retried as a new attempt", r.shot_id);
                if p == Provider::Runware {
                    let before = first.rows.iter().find(|x| x.job_key == r.job_key).unwrap();
                    assert_ne!(r.task_uuid, before.task_uuid, "{ctx}: {}: a new attempt has a new taskUUID", r.shot_id);
                }
            }
            assert!(!retried.is_empty(), "{ctx}: no job failed wholly: {}", first.statuses());
            assert_eq!(o.rerun.billed_clips() as usize, o.rerun.count("done"), "{ctx}: only successes billed");
        }
        (_, Fault::CreditsMidRun) => {
            assert_eq!(first.code, Some(3), "{ctx}: out of credits halts with exit 3:\n{}", first.stderr);
            assert!(first.stderr.contains("Halted"), "{ctx}: the halt is told:\n{}", first.stderr);
            assert_eq!(first.ledger.len(), CREDITS as usize, "{ctx}: accepted until the credits ran out");
            let accepted: BTreeSet<&str> =
                first.rows.iter().filter(|r| !r.provider_task_id.is_empty()).map(|r| r.job_key.as_str()).collect();
            assert_eq!(accepted.len(), CREDITS as usize, "{ctx}");
            for r in &first.rows {
                let want = if accepted.contains(r.job_key.as_str()) { "done" } else { "pending" };
                assert_eq!(r.status, want, "{ctx}: {} #{}: {}", r.shot_id, r.variant, r.error);
            }
            assert!(first.other_rows.iter().all(|r| r.status == "done"), "{ctx}: the other provider finishes");
            assert!(!first.other_rows.is_empty());
            rerun_changes_nothing(o);
        }
        (_, Fault::BadKey) => {
            let var = shotlist::run::options::key_var(p);
            assert_eq!(first.code, Some(3), "{ctx}: a refused key halts with exit 3:\n{}", first.stderr);
            assert!(first.stderr.contains(var), "{ctx}: the variable is named:\n{}", first.stderr);
            for (_, key) in NIGHT_KEYS {
                for (what, text) in [
                    ("stderr", &first.stderr),
                    ("rerun stderr", &o.rerun.stderr),
                    ("journal", &o.journal_text),
                    ("report", &o.report_text),
                ] {
                    assert!(!text.contains(key), "{ctx}: a key leaked into the {what}");
                }
            }
            assert!(o.stats.auth_refused >= 1, "{ctx}: {:?}", o.stats);
            assert!(first.ledger.is_empty(), "{ctx}: nothing accepted");
            assert_eq!(first.count("pending"), o.clips, "{ctx}: {}", first.statuses());
            rerun_changes_nothing(o);
        }
        // MiniMax refreshes an expired URL through files/retrieve.
        (Provider::Minimax, Fault::ExpiredUrl) => {
            assert!(o.refreshed >= 1, "{ctx}: no URL needed a refresh");
            all_done_billed_once(o);
        }
        // Runware: every submit carries a `ttl` of a night and more, so a URL that
        // arrives late still works (before the ttl, these clips were paid and lost).
        (Provider::Runware, Fault::ExpiredUrl) => all_done_billed_once(o),
        // Segmind has no refresh: the clip fails as a download (billed, never
        // resubmitted); a rerun retries the download, which fails again.
        (_, Fault::ExpiredUrl) => {
            assert_eq!(first.code, Some(1), "{ctx}: exit 1:\n{}", first.stderr);
            for r in &first.rows {
                assert_eq!(r.status, "failed", "{ctx}: {} #{}", r.shot_id, r.variant);
                assert!(r.error.starts_with("download"), "{ctx}: {} #{}: {}", r.shot_id, r.variant, r.error);
                assert!(!r.video_url.is_empty(), "{ctx}: the URL is recorded");
            }
            assert_eq!(first.ledger.len(), o.jobs, "{ctx}: each job accepted once");
            assert_eq!(first.billed_clips() as usize, o.clips, "{ctx}: rendered and billed though not downloaded");
            rerun_changes_nothing(o);
        }
        (_, Fault::TruncatedDownload) => {
            assert!(o.stats.downloads > o.clips as u64, "{ctx}: no download was retried: {:?}", o.stats);
            all_done_billed_once(o);
        }
        // Runware: an unreadable acknowledgement is re-sent with the same taskUUID.
        (Provider::Runware, Fault::MalformedJson) => {
            assert!(o.replayed >= 1, "{ctx}: no mangled acknowledgement was re-sent: {:?}", o.stats);
            all_done_billed_once(o);
        }
        // MiniMax/Segmind: an unreadable acknowledgement may hide an accepted (billed) task.
        (_, Fault::MalformedJson) => in_doubt_never_resubmitted(o, true),
        (_, Fault::SlowDownload) => {
            assert!(o.stats.faults_injected >= o.clips as u64, "{ctx}: the downloads did not trickle");
            all_done_billed_once(o);
        }
    }
}

/// Observed outcomes, for the summary: "provider × fault" → summary line, or
/// "running" while a cell is playing.
static OBSERVED: Mutex<BTreeMap<(String, String), String>> = Mutex::new(BTreeMap::new());

fn observe(p: Provider, fault: Fault, what: String) {
    OBSERVED.lock().unwrap_or_else(|e| e.into_inner()).insert((fault.name().to_owned(), p.name().to_owned()), what);
}

/// Marks a cell failed if it panics before it reports.
struct Watch(Provider, Fault, bool);

impl Drop for Watch {
    fn drop(&mut self) {
        if !self.2 {
            observe(self.0, self.1, "TEST FAILED (see its message)".into());
        }
    }
}

async fn cell(provider: &str, fault: &str) {
    let p = Provider::parse(provider).expect("a provider");
    let fault = Fault::from_name(fault);
    observe(p, fault, "running".into());
    let mut watch = Watch(p, fault, false);
    let o = run_fault(p, fault).await;
    let line = o.summary();
    eprintln!("{p} × {}: {line}", fault.name());
    expect_documented(&o);
    crate::util::proof_line("fault matrix", &format!("{} × {p}", fault.name()), &line);
    observe(p, fault, line);
    watch.2 = true;
}

macro_rules! matrix {
    ($($provider:ident { $($(#[$meta:meta])* $fault:ident),* $(,)? })*) => {
        $(mod $provider {
            $($(#[$meta])*
            #[tokio::test(flavor = "multi_thread")]
            async fn $fault() {
                super::cell(stringify!($provider), stringify!($fault)).await;
            })*
        })*
    };
}

matrix! {
    runware {
        http5xx, reset_before, reset_after, read_timeout, rate_limit_retry_after, rate_limit_no_retry_after,
        blocked_input, blocked_output,
        provider_failure,
        credits_mid_run, bad_key, expired_url,
        truncated_download, malformed_json, slow_download,
    }
    minimax {
        http5xx, reset_before, reset_after, read_timeout, rate_limit_retry_after, rate_limit_no_retry_after,
        blocked_input, blocked_output,
        provider_failure,
        credits_mid_run, bad_key, expired_url,
        truncated_download, malformed_json, slow_download,
    }
    segmind {
        http5xx, reset_before, reset_after, read_timeout, rate_limit_retry_after, rate_limit_no_retry_after,
        blocked_input, blocked_output,
        provider_failure,
        credits_mid_run, bad_key, expired_url,
        truncated_download, malformed_json, slow_download,
    }
}

/// Provider failure, every time: the run still ends (exit 1, the job `failed`,
/// one task billed nothing); it does not send the job again and again.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_always_fails_on_the_provider_ends_the_run() {
    let mut c = config(Provider::Minimax, Fault::ProviderFailure);
    c.provider_mut(Provider::Minimax).faults = Some(Faults { provider_failure: 1.0, ..Faults::default() });
    let night = Night::start(c).await;
    night.write("m.yaml", &mixed_manifest(0, 1, 0));
    let (code, err) = night.run_bounded(&RUN, Duration::from_secs(10)).await;
    let ledger = night.sim.ledger();
    assert_eq!(
        code,
        Some(1),
        "still running after 10 s; {} tasks submitted for one job:\n{err}",
        ledger.count(Provider::Minimax)
    );
    assert_eq!(ledger.count(Provider::Minimax), 1, "one attempt per run");
    let rows = report_rows(&night);
    assert_eq!(rows[0].status, "failed");
    assert!(rows[0].error.starts_with("failed"), "{}", rows[0].error);
    check_consistency(&night, "always failing");
}

/// A render slower than the runner's deadline: the job fails as `timed_out` and
/// keeps its task (README "Polling"); nothing is submitted again in that run (the
/// task still renders and will be billed), and the next run collects it.
#[tokio::test(flavor = "multi_thread")]
async fn a_render_past_the_deadline_is_kept_and_collected_not_paid_twice() {
    // Renders of 400 simulated seconds at 1/100 (4 s); the runner at 1/5000 gives up
    // after 3 simulated hours (2.2 s).
    let c =
        SimConfig { time_scale: 0.01, render: RenderTime { min_secs: 400.0, max_secs: 400.0 }, ..SimConfig::default() };
    let night = Night::start(c).await;
    night.write("m.yaml", &mixed_manifest(0, 0, 1));
    let args = ["run", "m.yaml", "--out", "out", "--time-scale", "0.0002", "-q"];
    let (code, err) = night.run_bounded(&args, Duration::from_secs(8)).await;
    let ledger = night.sim.ledger();
    assert_eq!(ledger.count(Provider::Segmind), 1, "one task for one job, whatever the deadline: {ledger:?}");
    assert_eq!(code, Some(1), "{err}");
    let rows = report_rows(&night);
    assert_eq!(rows[0].status, "failed");
    assert!(rows[0].error.starts_with("timed_out"), "{}", rows[0].error);
    assert!(!rows[0].provider_task_id.is_empty(), "the remote task is kept");
    // Once the render is over, the next run collects it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (code, err) = night.run_bounded(&args, Duration::from_secs(10)).await;
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(report_rows(&night)[0].status, "done");
    assert_eq!(night.sim.ledger().count(Provider::Segmind), 1, "collected, not submitted again");
    check_consistency(&night, "past the deadline");
}

/// Sorted after every cell (libtest starts tests in name order), so when it runs
/// each cell of this binary has started: it waits for the ones still playing, then
/// prints the table (`cargo test --test it faults:: -- --nocapture`).
#[tokio::test(flavor = "multi_thread")]
async fn zz_matrix_summary() {
    let deadline = Instant::now() + Duration::from_secs(150);
    loop {
        let running = OBSERVED.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|v| *v == "running").count();
        if running == 0 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let observed = OBSERVED.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let mut table = String::from("\nfault matrix (provider × fault → observed outcome; first run → rerun)\n");
    for fault in Fault::ALL {
        for p in Provider::ALL {
            let cell = observed.get(&(fault.name().to_owned(), p.name().to_owned()));
            table.push_str(&format!(
                "  {:<26} {:<8} {}\n",
                fault.name(),
                p.name(),
                cell.map_or("not run (filtered out or ignored)", String::as_str)
            ));
        }
    }
    eprintln!("{table}");
}
