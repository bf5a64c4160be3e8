//! Benchmark: what a night costs in provider quota and in wall time. `shotlist run`
//! (the release binary, as users run it) renders generated manifests against the
//! simulator (in this process, fixed seed and scenario from `bench/scenarios/`), and
//! the official Runware SDK (`bench/peer_runware_sdk.py`) runs the same workloads
//! against fresh simulators with the same scenario, in the same run. It prints one
//! JSON line per configuration; it asserts nothing about time.
//!
//!     bash bench/run.sh                                    # prepares the SDK's venv, then everything
//!     cargo bench --bench run_throughput -- --only s2,s15  # some configurations
//!
//! Configurations (see bench/README.md for the figures and what limits each):
//!   s2, s15, s45  400 / 240 / 120 Runware jobs rendering 2-4 / 15-30 / 45-90 s, 60 in
//!                 flight, 600/min (counted over any 10 s), shotlist then the SDK
//!                 (`<name>-sdk` lines, with ratios)
//!   m30   MiniMax with no limit in the manifest, the simulator enforcing 30/min: the
//!         pace of accepted submits after the first two minutes
//!   a     1,000 Runware jobs, told 600/min, simulator enforces 600/min, renders 20-60 s
//!   peer  workload (a) with the SDK
//!   b     as (a), simulator enforces 300/min (a limit shotlist must discover)
//!   c     500 MiniMax jobs at 20/min
//!   d     100,000 shots: plan time, replay of the finished journal, and the
//!         rehearsal's peak memory
//!
//! Without `--bench` (how `cargo test --all-targets` runs it) or with `--quick`: small
//! job counts, a few seconds, no SDK, and every run must come out right (exit 0,
//! every clip in, each job billed once); times are still never asserted.
//!
//! Environment: BENCH_ONLY=s2,m30,...; BENCH_PYTHON (the SDK's interpreter, default
//! target/conformance-venv/bin/python); BENCH_PEER=1 runs the SDK in quick mode too;
//! BENCH_JOBS, BENCH_CONCURRENCY, BENCH_TIME_SCALE override a, b and peer;
//! BENCH_SPEED_TIME_SCALE the speeds (default 1: real time, as the SDK polls on the
//! wall clock); BENCH_SPEED_SCENARIO another scenario for them (e.g.
//! runware-600.yaml, the one-minute window); BENCH_SHOTS d; BENCH_KEEP=1 keeps the
//! scratch folders; BENCH_BIN=PATH measures another shotlist binary (an older build,
//! side by side).

mod common;
use common::best_of;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};
use shotlist::catalog::Provider;
use shotlist::sim::{SimConfig, SimHandle};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

// ---------------------------------------------------------------------------
// Settings

#[derive(Clone, Debug)]
struct Settings {
    full: bool,
    only: Option<Vec<String>>,
    /// a, b and peer
    jobs_ab: usize,
    concurrency_ab: u32,
    scale_ab: f64,
    /// c
    jobs_c: usize,
    concurrency_c: u32,
    scale_c: f64,
    /// d (None: the rehearsal's own default time scale)
    shots_d: usize,
    scale_d: Option<f64>,
    /// s2, s15, s45 (time scale), m30
    scale_speeds: f64,
    jobs_m: usize,
    scale_m: f64,
    peer: bool,
    keep: bool,
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Option<T> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

impl Settings {
    fn from_env() -> Settings {
        let args: Vec<String> = std::env::args().skip(1).collect();
        // `cargo bench` passes `--bench`; `cargo test --all-targets` passes nothing.
        let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--quick");
        let mut only = std::env::var("BENCH_ONLY").ok().filter(|s| !s.trim().is_empty());
        for (i, a) in args.iter().enumerate() {
            if let Some(v) = a.strip_prefix("--only=") {
                only = Some(v.to_owned());
            } else if a == "--only" {
                only = args.get(i + 1).cloned();
            }
        }
        let only = only.map(|s| s.split(',').map(|x| x.trim().to_lowercase()).filter(|x| !x.is_empty()).collect());
        let mut s = if full {
            Settings {
                full,
                only,
                jobs_ab: 1000,
                concurrency_ab: 600,
                scale_ab: 0.5,
                jobs_c: 500,
                concurrency_c: 20,
                scale_c: 0.05,
                shots_d: 100_000,
                scale_d: None,
                scale_speeds: 1.0,
                jobs_m: 300,
                scale_m: 0.1,
                peer: true,
                keep: false,
            }
        } else {
            Settings {
                full,
                only,
                jobs_ab: 40,
                concurrency_ab: 600,
                scale_ab: 0.01,
                jobs_c: 12,
                concurrency_c: 20,
                scale_c: 0.004,
                shots_d: 200,
                scale_d: Some(0.002),
                scale_speeds: 0.02,
                jobs_m: 12,
                scale_m: 0.004,
                peer: std::env::var("BENCH_PEER").is_ok_and(|v| v == "1"),
                keep: false,
            }
        };
        if let Some(n) = env_parse("BENCH_JOBS") {
            s.jobs_ab = n;
        }
        if let Some(n) = env_parse("BENCH_CONCURRENCY") {
            s.concurrency_ab = n;
        }
        if let Some(f) = env_parse("BENCH_TIME_SCALE") {
            s.scale_ab = f;
        }
        if let Some(n) = env_parse("BENCH_SHOTS") {
            s.shots_d = n;
        }
        if let Some(f) = env_parse("BENCH_SPEED_TIME_SCALE") {
            s.scale_speeds = f;
        }
        s.keep = std::env::var("BENCH_KEEP").is_ok_and(|v| v == "1");
        s
    }

    fn wants(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|x| x == name))
    }
}

// ---------------------------------------------------------------------------
// Child processes: wall time, CPU and peak RSS from wait4(2)

struct Measured {
    /// Exit code, or minus the signal number.
    code: i32,
    wall_s: f64,
    cpu_s: Option<f64>,
    peak_rss_mb: Option<f64>,
}

#[cfg(all(target_os = "linux", target_pointer_width = "64"))]
mod sys {
    #[repr(C)]
    #[derive(Default)]
    struct Timeval {
        sec: i64,
        usec: i64,
    }

    /// `struct rusage` on 64-bit Linux.
    #[repr(C)]
    #[derive(Default)]
    struct Rusage {
        utime: Timeval,
        stime: Timeval,
        maxrss_kb: i64,
        rest: [i64; 13],
    }

    unsafe extern "C" {
        fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
        fn getrusage(who: i32, usage: *mut Rusage) -> i32;
    }

    fn cpu(r: &Rusage) -> f64 {
        let t = |tv: &Timeval| tv.sec as f64 + tv.usec as f64 / 1e6;
        t(&r.utime) + t(&r.stime)
    }

    /// Waits for the child; (exit code or -signal, CPU seconds, peak RSS in MB).
    pub fn wait(child: std::process::Child) -> (i32, Option<f64>, Option<f64>) {
        let pid = child.id() as i32;
        let mut status = 0i32;
        let mut ru = Rusage::default();
        loop {
            // SAFETY: plain syscall wrapper with valid out-pointers; the pid is our child.
            let r = unsafe { wait4(pid, &mut status, 0, &mut ru) };
            if r == pid {
                break;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                panic!("wait4({pid}): {e}");
            }
        }
        drop(child); // already reaped: nothing left to wait for
        let code = if status & 0x7f == 0 { (status >> 8) & 0xff } else { -(status & 0x7f) };
        (code, Some(cpu(&ru)), Some(ru.maxrss_kb as f64 / 1024.0))
    }

    /// CPU seconds this process (the harness and its in-process simulator) used so far.
    pub fn self_cpu() -> Option<f64> {
        let mut ru = Rusage::default();
        // SAFETY: RUSAGE_SELF with a valid out-pointer.
        (unsafe { getrusage(0, &mut ru) } == 0).then(|| cpu(&ru))
    }
}

#[cfg(not(all(target_os = "linux", target_pointer_width = "64")))]
mod sys {
    pub fn wait(mut child: std::process::Child) -> (i32, Option<f64>, Option<f64>) {
        let status = child.wait().expect("wait for the child");
        (status.code().unwrap_or(-1), None, None)
    }
    pub fn self_cpu() -> Option<f64> {
        None
    }
}

/// Runs `cmd` to the end with its output in `log_stem.{out,err}`.
async fn measure(mut cmd: Command, log_stem: &Path) -> Measured {
    let out = File::create(log_stem.with_extension("out")).expect("log file");
    let err = File::create(log_stem.with_extension("err")).expect("log file");
    cmd.stdin(Stdio::null()).stdout(out).stderr(err);
    let started = Instant::now();
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
    let (code, cpu_s, peak_rss_mb) = tokio::task::spawn_blocking(move || sys::wait(child)).await.expect("waiter");
    Measured { code, wall_s: started.elapsed().as_secs_f64(), cpu_s, peak_rss_mb }
}

fn tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------
// Output: one JSON object per line, keys in a readable order

struct Line(Vec<(&'static str, Value)>);

impl Line {
    fn new(config: &str) -> Line {
        Line(vec![("config", json!(config))])
    }
    fn put(&mut self, key: &'static str, v: impl Into<Value>) -> &mut Line {
        self.0.push((key, v.into()));
        self
    }
    fn num(&mut self, key: &'static str, v: Option<f64>, decimals: i32) -> &mut Line {
        let p = 10f64.powi(decimals);
        let v = v.filter(|x| x.is_finite()).map_or(Value::Null, |x| json!((x * p).round() / p));
        self.put(key, v)
    }
    fn get(&self, key: &str) -> Option<f64> {
        self.0.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_f64())
    }
    fn print(&self) {
        let body: Vec<String> =
            self.0.iter().map(|(k, v)| format!("{}:{}", serde_json::to_string(k).unwrap(), v)).collect();
        println!("{{{}}}", body.join(","));
    }
}

// ---------------------------------------------------------------------------
// The ideal: a perfect client under the same rate, concurrency and latencies

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Simulated seconds a perfect client needs for `n` jobs: it submits at exactly
/// `rate_per_min` (evenly spaced, no burst), never has more than `concurrency` jobs
/// rendering, and learns each result the instant it is ready, at no cost. Render
/// times are the configured range's evenly spaced quantiles in a shuffled order;
/// the median over 21 orders is returned.
fn ideal_sim_s(n: usize, rate_per_min: f64, concurrency: u32, (lo, hi): (f64, f64)) -> f64 {
    if n == 0 {
        return 0.0;
    }
    let gap = 60.0 / rate_per_min;
    let mut runs: Vec<f64> = (0..21u64)
        .map(|seed| {
            let mut lat: Vec<f64> = (0..n).map(|i| lo + (hi - lo) * (i as f64 + 0.5) / n as f64).collect();
            let mut st = seed + 1;
            for i in (1..n).rev() {
                let j = (splitmix(&mut st) % (i as u64 + 1)) as usize;
                lat.swap(i, j);
            }
            // Slots free at these moments (microseconds, as integers for the heap).
            let mut free: BinaryHeap<Reverse<u64>> = (0..concurrency.max(1)).map(|_| Reverse(0)).collect();
            let (mut last, mut end) = (-gap, 0f64);
            for l in lat {
                let Reverse(slot) = free.pop().expect("a slot");
                let t = (last + gap).max(slot as f64 / 1e6);
                last = t;
                end = end.max(t + l);
                free.push(Reverse(((t + l) * 1e6) as u64));
            }
            end
        })
        .collect();
    runs.sort_by(f64::total_cmp);
    runs[runs.len() / 2]
}

// ---------------------------------------------------------------------------
// Manifests

const PROMPT: &str = "a lantern-lit night market in the rain, steam rising from stalls, shoppers with umbrellas weaving between them [Pan left]";

fn write_manifest(
    dir: &Path,
    name: &str,
    provider: Provider,
    n: usize,
    rpm: Option<u32>,
    in_flight: Option<u32>,
) -> PathBuf {
    let p = provider.name();
    let mut y = format!(
        "version: 1\nname: {name}\ndefaults:\n  provider: {p}\n  model: hailuo-02\n  resolution: 768p\n  duration: 6\n"
    );
    let limits: Vec<String> =
        [rpm.map(|r| format!("requestsPerMinute: {r}")), in_flight.map(|n| format!("maxInFlight: {n}"))]
            .into_iter()
            .flatten()
            .collect();
    if !limits.is_empty() {
        y.push_str(&format!("providers:\n  {p}: {{ {} }}\n", limits.join(", ")));
    }
    y.push_str("shots:\n");
    for i in 0..n {
        y.push_str(&format!("  - id: s{i:05}\n    prompt: \"Shot {i}: {PROMPT}\"\n"));
    }
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(&path, y).expect("write the manifest");
    path
}

/// The big manifest of (d): one job per shot, a quarter on each of Runware
/// text, Runware first frame with camera moves, MiniMax first + last frame, and
/// Segmind 1080p; limits high enough that the rehearsal is bound by the runner.
fn write_big_manifest(dir: &Path, shots: usize) -> PathBuf {
    let frames = root().join("tests/manifests/frames");
    std::fs::copy(frames.join("ok-first.png"), dir.join("first.png")).expect("frame");
    std::fs::copy(frames.join("ok-last.png"), dir.join("last.png")).expect("frame");
    let mut y = String::from(
        "version: 1\nname: bench-big\ndefaults:\n  provider: runware\n  model: hailuo-2.3\n  duration: 6\n\
         providers:\n  runware: { requestsPerMinute: 6000, maxInFlight: 1000 }\n  \
         minimax: { requestsPerMinute: 6000, maxInFlight: 1000 }\n  \
         segmind: { requestsPerMinute: 6000, maxInFlight: 1000 }\nshots:\n",
    );
    for i in 0..shots {
        let prompt = format!("Shot {i}: {PROMPT} then [Static shot]");
        let body = match i % 4 {
            0 => format!("    prompt: \"{prompt}\"\n"),
            1 => format!("    prompt: \"{prompt}\"\n    frames: {{ first: first.png }}\n    camera: [Push in]\n"),
            2 => format!(
                "    provider: minimax\n    model: hailuo-02\n    prompt: \"{prompt}\"\n    frames: {{ first: first.png, last: last.png }}\n"
            ),
            _ => format!(
                "    provider: segmind\n    model: hailuo-2.3\n    resolution: 1080p\n    prompt: \"{prompt}\"\n"
            ),
        };
        y.push_str(&format!("  - id: s{i:05}\n{body}"));
    }
    let path = dir.join("bench-big.yaml");
    std::fs::write(&path, y).expect("write the manifest");
    path
}

/// The ETA as the run showed it (its progress lines, every 10 s when not on a
/// terminal: `[  20s] 200/400 clips, …, eta 17 s`) against the time the run really had
/// left, from a tenth of the clips done to the last tenth of the night: how many
/// lines, the worst error in per cent of the time left, and each `[t, eta, left]`.
fn eta_seen(err: &Path, wall_s: f64) -> (usize, Option<f64>, Value) {
    let text = std::fs::read_to_string(err).unwrap_or_default();
    let mut seen = Vec::new();
    for line in text.lines() {
        let Some((clock, rest)) = line.strip_prefix('[').and_then(|l| l.split_once("s] ")) else { continue };
        let Ok(t) = clock.trim().parse::<f64>() else { continue };
        let Some((count, _)) = rest.split_once(" clips") else { continue };
        let Some((done, total)) = count.split_once('/') else { continue };
        let (Ok(done), Ok(total)) = (done.parse::<f64>(), total.parse::<f64>()) else { continue };
        let Some((_, eta)) = rest.rsplit_once("eta ") else { continue };
        let Some(eta) = shown_secs(eta) else { continue };
        let left = wall_s - t;
        if done >= 0.1 * total && left >= 0.1 * wall_s {
            seen.push((t, eta, left));
        }
    }
    let worst = seen.iter().map(|(_, eta, left)| 100.0 * (eta - left).abs() / left).reduce(f64::max);
    let list = seen.iter().map(|(t, eta, left)| json!([t, eta, (left * 10.0).round() / 10.0])).collect();
    (seen.len(), worst, Value::Array(list))
}

/// Seconds from the progress line's ETA (`17 s`, `2 min 05 s`, `15 min`, `1 h 05 min`).
fn shown_secs(eta: &str) -> Option<f64> {
    let words: Vec<&str> = eta.split_whitespace().collect();
    match words.as_slice() {
        [n, "s"] => n.parse().ok(),
        [n, "min"] => n.parse::<f64>().ok().map(|m| m * 60.0),
        [m, "min", s, "s"] => Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?),
        [h, "h", m, "min"] => Some(h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0),
        _ => None,
    }
}

/// Clip statuses in report.csv: (done, not done).
fn report_counts(out: &Path) -> (usize, usize) {
    let Ok(mut r) = csv::Reader::from_path(out.join("report.csv")) else { return (0, 0) };
    let status = r.headers().ok().and_then(|h| h.iter().position(|c| c == "status"));
    let (mut done, mut other) = (0, 0);
    for row in r.records().flatten() {
        match status.and_then(|i| row.get(i)) {
            Some("done") => done += 1,
            _ => other += 1,
        }
    }
    (done, other)
}

/// The binary measured: this build's, or `BENCH_BIN`.
fn shotlist_bin() -> std::ffi::OsString {
    std::env::var_os("BENCH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_shotlist").into())
}

fn shotlist_cmd(args: &[&str]) -> Command {
    let mut cmd = Command::new(shotlist_bin());
    cmd.args(args).env("NO_COLOR", "1").env_remove("SHOTLIST_LOG");
    for p in Provider::ALL {
        let up = p.name().to_uppercase();
        cmd.env_remove(format!("{up}_API_KEY")).env_remove(format!("{up}_BASE_URL"));
    }
    cmd
}

fn sim_config(scenario: &str, time_scale: f64) -> SimConfig {
    let path = root().join("bench/scenarios").join(scenario);
    let mut c = SimConfig::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    c.time_scale = time_scale;
    c
}

async fn start_sim(config: SimConfig) -> SimHandle {
    shotlist::sim::start(config, "127.0.0.1:0".parse().unwrap()).await.expect("the simulator starts")
}

// ---------------------------------------------------------------------------
// a, b, c: shotlist run against the simulator

#[derive(Clone, Copy)]
struct Workload {
    name: &'static str,
    provider: Provider,
    scenario: &'static str,
    jobs: usize,
    /// The manifest's requestsPerMinute (None: no limit in the manifest).
    told_rpm: Option<u32>,
    concurrency: u32,
    /// Whether the manifest gives maxInFlight (else the default cap).
    told_in_flight: bool,
    time_scale: f64,
    /// Render times (simulated seconds) instead of the scenario's.
    render: Option<(f64, f64)>,
    /// Also report the pace of accepted submits after this many simulated seconds.
    pace_after_s: Option<f64>,
}

impl Workload {
    fn sim_config(&self) -> SimConfig {
        let mut config = sim_config(self.scenario, self.time_scale);
        if let Some((lo, hi)) = self.render {
            let p = config.providers.entry(self.provider.name().to_owned()).or_default();
            p.render = Some(shotlist::sim::RenderTime { min_secs: lo, max_secs: hi });
        }
        config
    }
}

/// Accepted submits per simulated minute in the journal, from `after_s` simulated
/// seconds past the first accepted submit to the last one.
fn accepted_pace(journal: &Path, after_s: f64, time_scale: f64) -> Option<f64> {
    let r = shotlist::run::journal::read(journal).ok()?;
    let mut at: Vec<f64> = r
        .records
        .iter()
        .filter_map(|rec| match rec {
            shotlist::run::journal::Record::Accepted { at, .. } => at.parse::<jiff::Timestamp>().ok(),
            _ => None,
        })
        .map(|t| t.as_millisecond() as f64 / 1000.0)
        .collect();
    at.sort_by(f64::total_cmp);
    let (first, last) = (*at.first()?, *at.last()?);
    let from = first + after_s * time_scale;
    let n = at.iter().filter(|t| **t >= from).count();
    let minutes = (last - from) / (60.0 * time_scale);
    (minutes > 0.0 && n > 1).then(|| (n - 1) as f64 / minutes)
}

async fn run_workload(s: &Settings, w: &Workload, scratch: &Path) -> Line {
    let config = w.sim_config();
    let sim_rpm = config.provider(w.provider).requests_per_minute;
    let enforced = match (sim_rpm, w.told_rpm) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).expect("a limit somewhere"),
    };
    let render = config.render(w.provider);
    let seed = config.seed;
    let sim = start_sim(config).await;
    let dir = scratch.join(w.name);
    std::fs::create_dir_all(&dir).unwrap();
    let in_flight = w.told_in_flight.then_some(w.concurrency);
    let manifest = write_manifest(&dir, &format!("bench-{}", w.name), w.provider, w.jobs, w.told_rpm, in_flight);
    let out = dir.join("out");
    let scale = w.time_scale.to_string();
    let mut cmd = shotlist_cmd(&["run", manifest.to_str().unwrap(), "--out", out.to_str().unwrap(), "-q"]);
    cmd.args(["--time-scale", &scale]);
    let up = w.provider.name().to_uppercase();
    cmd.env(format!("{up}_API_KEY"), "bench-key").env(format!("{up}_BASE_URL"), sim.base_url(w.provider));
    let self0 = sys::self_cpu();
    let m = measure(cmd, &dir.join("run")).await;
    let sim_cpu = sys::self_cpu().zip(self0).map(|(b, a)| b - a);
    let stats = sim.stats().providers.get(w.provider.name()).cloned().unwrap_or_default();
    let billed = sim.ledger().count(w.provider);
    sim.stop().await;
    let (done, not_done) = report_counts(&out);
    let clips = w.jobs as f64;
    let ideal =
        ideal_sim_s(w.jobs, f64::from(enforced), w.concurrency, (render.min_secs, render.max_secs)) * w.time_scale;
    let pace = w.pace_after_s.and_then(|after| accepted_pace(&out.join("state.jsonl"), after, w.time_scale));
    let (eta_checks, eta_worst, eta_list) = eta_seen(&dir.join("run.err"), m.wall_s);
    let mut line = Line::new(w.name);
    line.put("client", "shotlist")
        .put("scenario", w.scenario)
        .put("provider", w.provider.name())
        .put("jobs", w.jobs)
        .put("told_rpm", w.told_rpm.map_or(json!("none"), |r| json!(r)))
        .put("enforced_rpm", enforced)
        .put("concurrency", w.concurrency)
        .put("render_s", json!([render.min_secs, render.max_secs]))
        .put("time_scale", w.time_scale)
        .put("seed", seed)
        .num("wall_s", Some(m.wall_s), 2)
        .num("ideal_s", Some(ideal), 2)
        .num("efficiency", Some(ideal / m.wall_s), 3)
        .num("api_requests_per_clip", Some((stats.submits + stats.polls) as f64 / clips), 3)
        .put("clips_delivered", done)
        .num("api_requests_per_delivered_clip", Some((stats.submits + stats.polls) as f64 / done.max(1) as f64), 3)
        .put("submits", stats.submits)
        .put("polls", stats.polls)
        .num("downloads_per_clip", Some(stats.downloads as f64 / clips), 3)
        .put("rate_limited_answers", stats.rate_limited)
        .num("rate_limited_pct_of_submits", Some(100.0 * stats.rate_limited as f64 / stats.submits.max(1) as f64), 2)
        .num(
            "rate_limited_pct_of_requests",
            Some(100.0 * stats.rate_limited as f64 / (stats.submits + stats.polls).max(1) as f64),
            2,
        )
        .num("accepted_per_min_after", pace, 2)
        .num("pace_of_enforced", pace.map(|p| p / f64::from(enforced)), 3)
        .put("eta_checks", eta_checks)
        .num("eta_worst_pct", eta_worst, 1)
        .put("eta_seen", eta_list)
        .put("failed_jobs", not_done + w.jobs.saturating_sub(done + not_done))
        .put("billed_tasks", billed)
        .put("exit_code", m.code)
        .num("cpu_s", m.cpu_s, 2)
        .num("peak_rss_mb", m.peak_rss_mb, 1)
        .num("sim_cpu_s", sim_cpu, 2)
        .put("full", s.full);
    if m.code != 0 {
        eprintln!("run_throughput {}: shotlist exited {}:\n{}", w.name, m.code, tail(&dir.join("run.err"), 20));
    }
    if !s.full {
        assert_eq!(
            m.code,
            0,
            "{}: shotlist run exited {} (stderr: {})",
            w.name,
            m.code,
            tail(&dir.join("run.err"), 20)
        );
        assert_eq!(done, w.jobs, "{}: every clip is in", w.name);
        assert_eq!(billed, w.jobs, "{}: each job is billed exactly once", w.name);
    }
    line
}

// ---------------------------------------------------------------------------
// peer: workload (a) with the official runware-sdk

fn peer_python() -> Option<PathBuf> {
    let p = std::env::var_os("BENCH_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/conformance-venv/bin/python"));
    p.exists().then_some(p)
}

async fn run_peer(s: &Settings, w: &Workload, ours: Option<&Line>, scratch: &Path) -> Line {
    let name = if w.name == "a" { "peer".to_owned() } else { format!("{}-sdk", w.name) };
    let mut line = Line::new(&name);
    line.put("client", "runware-sdk 1.8.0 (REST, asyncio)");
    let Some(python) = peer_python() else {
        line.put(
            "skipped",
            "no Python with runware-sdk: run `bash bench/run.sh` (it builds the venv) or set BENCH_PYTHON",
        );
        return line;
    };
    let config = w.sim_config();
    let enforced = config.provider(Provider::Runware).requests_per_minute.or(w.told_rpm).expect("a limit");
    let render = config.render(Provider::Runware);
    let sim = start_sim(config).await;
    let dir = scratch.join(&name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(python);
    cmd.arg(root().join("bench/peer_runware_sdk.py")).arg(sim.url()).args([
        "--jobs",
        &w.jobs.to_string(),
        "--concurrency",
        &w.concurrency.to_string(),
    ]);
    let self0 = sys::self_cpu();
    let m = measure(cmd, &dir.join("peer")).await;
    let sim_cpu = sys::self_cpu().zip(self0).map(|(b, a)| b - a);
    let stats = sim.stats().providers.get("runware").cloned().unwrap_or_default();
    let billed = sim.ledger().count(Provider::Runware);
    sim.stop().await;
    let report: Value = std::fs::read_to_string(dir.join("peer.out"))
        .ok()
        .and_then(|t| t.lines().rev().find_map(|l| serde_json::from_str(l).ok()))
        .unwrap_or(Value::Null);
    if m.code != 0 || report.is_null() {
        eprintln!("run_throughput peer: exited {}:\n{}", m.code, tail(&dir.join("peer.err"), 30));
    }
    let ok = report["ok"].as_u64();
    let failed = report["failed"].as_u64().or(ok.map(|o| w.jobs as u64 - o));
    let clips = w.jobs as f64;
    let ideal =
        ideal_sim_s(w.jobs, f64::from(enforced), w.concurrency, (render.min_secs, render.max_secs)) * w.time_scale;
    let api = (stats.submits + stats.polls) as f64 / clips;
    line.put("scenario", w.scenario)
        .put("jobs", w.jobs)
        .put("told_rpm", w.told_rpm.map_or(json!("none"), |r| json!(r)))
        .put("enforced_rpm", enforced)
        .put("concurrency", w.concurrency)
        .put("render_s", json!([render.min_secs, render.max_secs]))
        .put("time_scale", w.time_scale)
        .num("wall_s", Some(m.wall_s), 2)
        .num("ideal_s", Some(ideal), 2)
        .num("efficiency", Some(ideal / m.wall_s), 3)
        .num("api_requests_per_clip", Some(api), 3)
        .put("clips_delivered", report["downloaded"].clone())
        .num(
            "api_requests_per_delivered_clip",
            report["downloaded"].as_u64().map(|d| (stats.submits + stats.polls) as f64 / d.max(1) as f64),
            3,
        )
        .put("submits", stats.submits)
        .put("polls", stats.polls)
        .num("downloads_per_clip", Some(stats.downloads as f64 / clips), 3)
        .put("rate_limited_answers", stats.rate_limited)
        .num("rate_limited_pct_of_submits", Some(100.0 * stats.rate_limited as f64 / stats.submits.max(1) as f64), 2)
        .num(
            "rate_limited_pct_of_requests",
            Some(100.0 * stats.rate_limited as f64 / (stats.submits + stats.polls).max(1) as f64),
            2,
        )
        .put("failed_jobs", failed.map_or(Value::Null, Value::from))
        .put("errors", report["errors"].clone())
        .put("billed_tasks", billed)
        .put("exit_code", m.code)
        .num("cpu_s", m.cpu_s, 2)
        .num("peak_rss_mb", m.peak_rss_mb, 1)
        .num("sim_cpu_s", sim_cpu, 2);
    if let Some(o) = ours {
        let ratio = |k: &str| match (line.get(k), o.get(k)) {
            (Some(p), Some(us)) if us > 0.0 => Some(p / us),
            _ => None,
        };
        let (rq, wall, rl) = (ratio("api_requests_per_clip"), ratio("wall_s"), ratio("rate_limited_answers"));
        let rq_delivered = ratio("api_requests_per_delivered_clip");
        line.num("peer_over_shotlist_api_requests_per_clip", rq, 2)
            .num("peer_over_shotlist_api_requests_per_delivered_clip", rq_delivered, 2)
            .num("peer_over_shotlist_wall_s", wall, 3)
            .num("peer_over_shotlist_rate_limited_answers", rl, 2)
            .put("shotlist_rate_limited_answers", o.get("rate_limited_answers").unwrap_or(0.0))
            .put("shotlist_failed_jobs", o.get("failed_jobs").unwrap_or(0.0));
    }
    if !s.full {
        assert_eq!(m.code, 0, "{name}: the SDK script exited {}", m.code);
    }
    line
}

/// One render speed: shotlist, then the official SDK, against fresh simulators with
/// the same scenario, in the same run.
async fn run_speed(s: &Settings, w: &Workload, scratch: &Path) {
    let ours = run_workload(s, w, scratch).await;
    ours.print();
    if s.peer {
        run_peer(s, w, Some(&ours), scratch).await.print();
    } else {
        let mut l = Line::new(&format!("{}-sdk", w.name));
        l.put("skipped", "quick mode (BENCH_PEER=1 runs it)");
        l.print();
    }
}

// ---------------------------------------------------------------------------
// d: 10,000 shots

async fn run_big(s: &Settings, scratch: &Path) -> Line {
    let dir = scratch.join("d");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = write_big_manifest(&dir, s.shots_d);
    let m_str = manifest.to_str().unwrap().to_owned();
    let runs = if s.full { 3 } else { 1 };

    // Plan, as a user runs it (binary, JSON to /dev/null), and through the library.
    let (plan_s, status) = best_of(runs, || {
        shotlist_cmd(&["plan", &m_str, "--json"]).stdout(Stdio::null()).stderr(Stdio::null()).status().unwrap()
    });
    assert!(status.success(), "plan of the generated manifest");
    let (plan_lib_s, jobs) = best_of(runs, || {
        let loaded = shotlist::manifest::load(&manifest).expect("the generated manifest is valid");
        shotlist::plan::Plan::new(&loaded.manifest).jobs.len()
    });

    // The rehearsal: the whole night on the in-process simulator.
    let out = dir.join("out");
    let mut cmd = shotlist_cmd(&["run", &m_str, "--rehearse", "--out", out.to_str().unwrap(), "-q"]);
    if let Some(scale) = s.scale_d {
        cmd.args(["--time-scale", &scale.to_string()]);
    }
    cmd.current_dir(&dir);
    let m = measure(cmd, &dir.join("rehearsal")).await;
    let rehearsed = dir.join("out-rehearsal");
    let (done, not_done) = report_counts(&rehearsed);
    // The rehearsal prints the simulator's ledger: "runware: N tasks accepted, ...".
    let ledger = tail(&dir.join("rehearsal.err"), 5);
    let billed: usize =
        ledger.split("tasks accepted").filter_map(|part| part.split_whitespace().last()?.parse::<usize>().ok()).sum();
    if m.code != 0 {
        eprintln!("run_throughput d: the rehearsal exited {}:\n{}", m.code, tail(&dir.join("rehearsal.err"), 20));
    }

    // Replay of the finished journal: through the library, and `status --json`.
    let journal = rehearsed.join("state.jsonl");
    let journal_mb = std::fs::metadata(&journal).map(|m| m.len() as f64 / 1e6).ok();
    // The time to the state, its drop included (as before `RunState::read`). The
    // first replay is also printed on its own: the later ones find the memory the
    // ones before freed, a process that replays once does not.
    let replay = || {
        let (state, tail) = shotlist::run::state::RunState::read(&journal).expect("the journal reads");
        (tail.records, state.jobs.len())
    };
    let (replay_first_s, _) = best_of(1, replay);
    let (replay_s, (records, replayed_jobs)) = best_of(if s.full { 5 } else { 1 }, replay);
    let (status_s, st) = best_of(runs, || {
        shotlist_cmd(&["status", &m_str, "--out", rehearsed.to_str().unwrap(), "--json"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
    });

    let mut line = Line::new("d");
    line.put("shots", s.shots_d)
        .put("jobs", jobs)
        .num("plan_s", Some(plan_s), 3)
        .num("plan_library_s", Some(plan_lib_s), 3)
        .num("replay_s", Some(replay_s), 3)
        .num("replay_first_s", Some(replay_first_s), 3)
        .put("replay_records", records)
        .put("replay_jobs", replayed_jobs)
        .num("journal_mb", journal_mb, 2)
        .num("status_json_s", Some(status_s), 3)
        .put("status_exit_code", st.code().unwrap_or(-1))
        .put("rehearsal_time_scale", s.scale_d.map_or(json!("default"), |x| json!(x)))
        .num("rehearsal_wall_s", Some(m.wall_s), 2)
        .num("rehearsal_cpu_s", m.cpu_s, 2)
        .num("rehearsal_peak_rss_mb", m.peak_rss_mb, 1)
        .put("rehearsal_exit_code", m.code)
        .put("rehearsal_clips_done", done)
        .put("rehearsal_billed_tasks", billed)
        .put("failed_jobs", not_done + jobs.saturating_sub(done + not_done))
        .put("runs", runs)
        .put("full", s.full);
    if !s.full {
        assert_eq!(m.code, 0, "d: the rehearsal exited {} ({})", m.code, tail(&dir.join("rehearsal.err"), 20));
        assert_eq!(done, jobs, "d: every clip of the rehearsal is in");
        assert_eq!(replayed_jobs, jobs, "d: the replayed journal knows every job");
        assert_eq!(billed, jobs, "d: each job is billed exactly once");
        assert!(st.success(), "d: status --json");
    }
    line
}

// ---------------------------------------------------------------------------

/// The binary's allocator (src/main.rs): d replays the journal through the library
/// in this process, and its figure is the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let s = Settings::from_env();
    let scratch_dir = tempfile::Builder::new().prefix("shotlist-bench-").tempdir().expect("a scratch folder");
    let scratch = scratch_dir.path().to_path_buf();
    eprintln!(
        "run_throughput: {} mode, scratch {} (binary {})",
        if s.full { "full" } else { "quick" },
        scratch.display(),
        shotlist_bin().to_string_lossy()
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("a tokio runtime");
    runtime.block_on(async {
        let a = Workload {
            name: "a",
            provider: Provider::Runware,
            scenario: "runware-600.yaml",
            jobs: s.jobs_ab,
            told_rpm: Some(600),
            concurrency: s.concurrency_ab,
            told_in_flight: true,
            time_scale: s.scale_ab,
            render: None,
            pace_after_s: None,
        };
        // The three render speeds: 60 in flight, 600/min, shotlist and the SDK.
        let speeds = [("s2", 400, (2.0, 4.0)), ("s15", 240, (15.0, 30.0)), ("s45", 120, (45.0, 90.0))];
        let speed_scenario: &'static str = std::env::var("BENCH_SPEED_SCENARIO")
            .map(|s| &*Box::leak(s.into_boxed_str()))
            .unwrap_or("runware-600-smooth.yaml");
        for (name, jobs, render) in speeds {
            if s.wants(name) {
                let jobs = if s.full { jobs } else { jobs / 20 };
                let time_scale = if s.full { s.scale_speeds } else { 0.02 };
                let w = Workload {
                    name,
                    jobs,
                    concurrency: 60,
                    time_scale,
                    render: Some(render),
                    scenario: speed_scenario,
                    ..a
                };
                run_speed(&s, &w, &scratch).await;
            }
        }
        // MiniMax with no limit in the manifest against an enforced 30/min.
        if s.wants("m30") {
            let w = Workload {
                name: "m30",
                provider: Provider::Minimax,
                scenario: "minimax-30.yaml",
                jobs: s.jobs_m,
                told_rpm: None,
                told_in_flight: false,
                time_scale: s.scale_m,
                pace_after_s: Some(120.0),
                ..a
            };
            run_workload(&s, &w, &scratch).await.print();
        }
        let b = Workload { name: "b", scenario: "runware-300.yaml", ..a };
        let c = Workload {
            name: "c",
            provider: Provider::Minimax,
            scenario: "minimax-20.yaml",
            jobs: s.jobs_c,
            told_rpm: Some(20),
            concurrency: s.concurrency_c,
            time_scale: s.scale_c,
            ..a
        };
        let mut ours_a = None;
        if s.wants("a") {
            let line = run_workload(&s, &a, &scratch).await;
            line.print();
            ours_a = Some(line);
        }
        if s.wants("peer") {
            if s.peer {
                run_peer(&s, &a, ours_a.as_ref(), &scratch).await.print();
            } else {
                let mut l = Line::new("peer");
                l.put("skipped", "quick mode (BENCH_PEER=1 runs it)");
                l.print();
            }
        }
        if s.wants("b") {
            run_workload(&s, &b, &scratch).await.print();
        }
        if s.wants("c") {
            run_workload(&s, &c, &scratch).await.print();
        }
        if s.wants("d") {
            run_big(&s, &scratch).await.print();
        }
    });
    if s.keep {
        eprintln!("run_throughput: kept {}", scratch_dir.keep().display());
    }
}
