//! Benchmark: one limit-bound night on shared PostgreSQL state with 1 and with 3
//! `shotlist run` processes on one campaign and one account, and 3 again under a
//! budget that every job fits (each intent then sums the campaign's committed cost
//! under its row lock). Prints one JSON line per case: wall time (about equal: the account's pace is the ceiling), database
//! round trips per clip (transactions the server committed, each statement being one
//! round trip), submits and rate-limited answers. It asserts nothing about time.
//!
//!     cargo bench --bench shared_night        # 240 jobs
//!
//! Needs `SHOTLIST_TEST_DATABASE_URL` (as the tests; `.ci/postgres.sh start` makes one).
//! Without `--bench` (`cargo test --all-targets`): 24 jobs. Run it alone: the round
//! trips are the whole database's.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use shotlist::catalog::Provider;

const SCALE: f64 = 0.05;
const RPM: u32 = 120;

async fn commits(client: &tokio_postgres::Client) -> i64 {
    // Cumulative statistics are flushed by each backend about once a second.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    client
        .query_one("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()", &[])
        .await
        .expect("pg_stat_database")
        .get(0)
}

/// The binary's allocator (src/main.rs), so what this harness runs through the
/// library runs as in the binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let full = args.iter().any(|a| a == "--bench");
    let Some(url) = std::env::var("SHOTLIST_TEST_DATABASE_URL").ok().filter(|u| !u.is_empty()) else {
        assert!(std::env::var_os("CI").is_none(), "CI is set but SHOTLIST_TEST_DATABASE_URL is not");
        println!("{{\"bench\":\"shared_night\",\"skipped\":\"no SHOTLIST_TEST_DATABASE_URL\"}}");
        return;
    };
    let jobs = if full { 240 } else { 24 };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.expect("the database");
        tokio::spawn(conn);
        for (runners, budget) in [(1usize, None), (3, None), (3, Some(1000.0))] {
            let mut cfg = shotlist::sim::SimConfig {
                time_scale: SCALE,
                render: shotlist::sim::RenderTime { min_secs: 20.0, max_secs: 40.0 },
                ..Default::default()
            };
            cfg.provider_mut(Provider::Runware).requests_per_minute = Some(RPM);
            let sim = shotlist::sim::start(cfg, "127.0.0.1:0".parse().unwrap()).await.unwrap();
            let dir = tempfile::tempdir().unwrap();
            let name = format!("bench-{}", uuid::Uuid::new_v4().simple());
            let mut m = format!(
                "version: 1\nname: {name}\nproviders:\n  runware: {{ requestsPerMinute: {RPM}, maxInFlight: 60 }}\nshots:\n"
            );
            if let Some(usd) = budget {
                m = m.replace("\nproviders:", &format!("\nbudget: {{ maxCostUsd: {usd:.2} }}\nproviders:"));
            }
            for i in 0..jobs {
                m.push_str(&format!(
                    "  - {{ id: s{i:04}, provider: runware, model: hailuo-2.3, prompt: \"bench shot {i}\" }}\n"
                ));
            }
            std::fs::write(dir.path().join("m.yaml"), m).unwrap();
            let before = commits(&client).await;
            let t = Instant::now();
            let children: Vec<_> = (0..runners)
                .map(|r| {
                    Command::new(env!("CARGO_BIN_EXE_shotlist"))
                        .current_dir(dir.path())
                        .args(["run", "m.yaml", "--out", &format!("out{r}"), "--time-scale", &SCALE.to_string(), "-q"])
                        .args(["--state", &url])
                        .env("RUNWARE_API_KEY", "bench-key")
                        .env("RUNWARE_BASE_URL", sim.base_url(Provider::Runware))
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap()
                })
                .collect();
            let mut codes = Vec::new();
            for mut c in children {
                codes.push(tokio::task::spawn_blocking(move || c.wait().unwrap().code()).await.unwrap());
            }
            let wall = t.elapsed().as_secs_f64();
            let after = commits(&client).await;
            let stats = sim.stats().providers.get("runware").cloned().unwrap_or_default();
            let clips = jobs;
            // The account's floor: the jobs at the limit's pace, plus one render.
            let floor = jobs as f64 * 60.0 / f64::from(RPM) * SCALE;
            println!(
                "{}",
                serde_json::json!({
                    "bench": "shared_night",
                    "runners": runners,
                    "budget_usd": budget,
                    "jobs": jobs,
                    "exit_codes": codes,
                    "wall_s": (wall * 100.0).round() / 100.0,
                    "submit_floor_s": (floor * 100.0).round() / 100.0,
                    "db_round_trips_per_clip": ((after - before) as f64 / clips as f64 * 10.0).round() / 10.0,
                    "submits": stats.submits,
                    "rate_limited": stats.rate_limited,
                })
            );
            assert!(codes.iter().all(|c| *c == Some(0)), "every runner finished the night: {codes:?}");
            sim.stop().await;
        }
    });
}
