//! The fault matrix's MiniMax v2 (H3) cells: a night of H3 shots with one fault,
//! then the same command again, through the binary against the simulator. Each cell
//! checks the documented outcome and the invariants (`util::check_night`: nothing
//! paid twice, no paid result lost, the journal agrees with the report and disk).
//! The v1 cells in `faults.rs` are unchanged.

use std::time::Duration;

use shotlist::sim::{Faults, RenderTime, SimConfig};

use crate::util::{Night, NightCheck, check_night, read_report, stderr};

const SHOTS: usize = 5;
const RUN: [&str; 7] = ["run", "m.yaml", "--out", "out", "--time-scale", "0.01", "-q"];
const RUN_DEADLINE: Duration = Duration::from_secs(90);

fn config(tweak: impl FnOnce(&mut SimConfig, &mut Faults)) -> SimConfig {
    let mut c =
        SimConfig { time_scale: 0.01, render: RenderTime { min_secs: 60.0, max_secs: 120.0 }, ..SimConfig::default() };
    let mut f = Faults::default();
    tweak(&mut c, &mut f);
    let entry = c.providers.entry("minimax".into()).or_default();
    entry.faults = Some(f);
    c
}

fn manifest(blocked: &[usize]) -> String {
    let mut m = String::from("version: 1\nshots:\n");
    for i in 0..SHOTS {
        let word = if blocked.contains(&i) { " FORBIDDEN-SCENE" } else { "" };
        let model = if i % 2 == 0 { "h3" } else { "h3-max" };
        m.push_str(&format!(
            "  - {{ id: h{i}, provider: minimax, model: {model}, ratio: \"16:9\", duration: {}, prompt: \"h3 shot {i}{word}, a harbour at dawn\" }}\n",
            5 + i
        ));
    }
    m
}

struct Cell {
    night: Night,
    first: std::process::Output,
    rerun: std::process::Output,
    after_first: NightCheck,
    after_rerun: NightCheck,
    billed_after_first: usize,
}

async fn play(config: SimConfig, blocked: &[usize]) -> Cell {
    let night = Night::start(config).await;
    night.write("m.yaml", &manifest(blocked));
    let run = || async { tokio::time::timeout(RUN_DEADLINE, night.run(&RUN)).await.expect("a run ends in time") };
    let first = run().await;
    let after_first = check_night(&night, "out");
    let billed_after_first = night.sim.ledger().entries.len();
    let rerun = run().await;
    let after_rerun = check_night(&night, "out");
    for c in [&after_first, &after_rerun] {
        assert_eq!((c.double_charges, c.lost_results), (0, 0), "{c:?}\n{}", stderr(&first));
    }
    Cell { night, first, rerun, after_first, after_rerun, billed_after_first }
}

fn all_done_billed_once(c: &Cell) {
    assert_eq!(c.first.status.code(), Some(0), "{}", stderr(&c.first));
    assert_eq!(c.after_first.done, SHOTS, "{:?}", c.after_first);
    assert_eq!(c.night.sim.ledger().entries.len(), SHOTS, "one task per shot");
    assert_eq!(c.rerun.status.code(), Some(0));
}

/// Answers cut off after the task was made: in doubt, then reconciled from the list.
#[tokio::test(flavor = "multi_thread")]
async fn v2_reset_after() {
    let c = play(config(|_, f| f.reset_after = 0.4), &[]).await;
    assert!(c.after_first.in_doubt >= 1, "{:?}", c.after_first);
    assert_eq!(c.after_rerun.done, SHOTS, "{:?}\n{}", c.after_rerun, stderr(&c.rerun));
    assert_eq!(c.night.sim.ledger().entries.len(), c.billed_after_first, "the rerun sent nothing again");
    assert_eq!(c.billed_after_first, SHOTS);
}

/// 402 `insufficient_balance_error`: MiniMax halts (exit 3); the rest stays pending.
#[tokio::test(flavor = "multi_thread")]
async fn v2_insufficient_balance_402() {
    let c =
        play(config(|c, _| c.provider_mut(shotlist::catalog::Provider::Minimax).credits_after = Some(2)), &[]).await;
    assert_eq!(c.first.status.code(), Some(3), "{}", stderr(&c.first));
    assert!(stderr(&c.first).contains("402"), "{}", stderr(&c.first));
    assert_eq!((c.after_first.done, c.after_first.pending), (2, SHOTS - 2), "{:?}", c.after_first);
    assert_eq!(c.rerun.status.code(), Some(3));
    assert_eq!(c.night.sim.ledger().entries.len(), 2);
}

/// 422 sensitive content: those shots fail as blocked, never sent again, never billed.
#[tokio::test(flavor = "multi_thread")]
async fn v2_sensitive_content_422() {
    let c = play(config(|_, _| {}), &[1, 3]).await;
    assert_eq!(c.first.status.code(), Some(1), "{}", stderr(&c.first));
    let rows = read_report(&c.night.out("out").join("report.csv"));
    for r in &rows {
        let blocked = r["shot_id"] == "h1" || r["shot_id"] == "h3";
        let want = if blocked { "failed" } else { "done" };
        assert_eq!(r["status"], want, "{r:?}");
        if blocked {
            assert!(r["error"].starts_with("content_blocked") && r["error"].contains("422"), "{r:?}");
        }
    }
    assert_eq!(c.night.sim.ledger().entries.len(), SHOTS - 2);
    assert_eq!(c.rerun.status.code(), Some(1));
    assert_eq!(c.night.sim.ledger().entries.len(), SHOTS - 2, "blocked shots are not sent again");
}

/// 429 `rate_limit_error` (1002) with Retry-After: ridden out, every clip in.
#[tokio::test(flavor = "multi_thread")]
async fn v2_rate_limited_429() {
    let c =
        play(config(|c, _| c.provider_mut(shotlist::catalog::Provider::Minimax).requests_per_minute = Some(2)), &[])
            .await;
    all_done_billed_once(&c);
    assert!(c.night.sim.stats().providers["minimax"].rate_limited >= 1);
}

/// 529 `overloaded_error`: proves nothing was started; waited out and sent again.
#[tokio::test(flavor = "multi_thread")]
async fn v2_overloaded_529() {
    let c = play(config(|_, f| f.http5xx = 0.5), &[]).await;
    all_done_billed_once(&c);
    let stats = &c.night.sim.stats().providers["minimax"];
    assert!(stats.faults_injected >= 1, "{stats:?}");
}

/// Downloads that stop halfway are fetched again; nothing is resubmitted.
#[tokio::test(flavor = "multi_thread")]
async fn v2_truncated_download() {
    let c = play(config(|_, f| f.truncated_download = 0.4), &[]).await;
    all_done_billed_once(&c);
    assert!(c.night.sim.stats().providers["minimax"].downloads > SHOTS as u64, "no download was retried");
}
