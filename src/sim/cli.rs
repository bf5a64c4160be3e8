//! `shotlist sim`: the simulator as a standalone server, until Ctrl-C; the ledger
//! is printed when it stops.

use std::process::ExitCode;

use super::config::SimConfig;
use crate::catalog::Provider;
use crate::exit;

/// Knobs of `shotlist sim`; a scenario file sets the rest (see `sim::SimConfig`).
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8931")]
    pub listen: std::net::SocketAddr,
    /// A scenario file (YAML); the flags below override it.
    #[arg(long)]
    pub scenario: Option<std::path::PathBuf>,
    /// Seed of every random draw (same seed, same scenario: same answers).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Real seconds per simulated second (0.01: a 2-minute render takes 1.2 s).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// A fault rate for every provider, e.g. `--fault http5xx=0.1` (repeatable).
    #[arg(long, value_name = "KIND=RATE")]
    pub fault: Vec<String>,
    /// Submits per minute a provider accepts, e.g. `--rpm minimax=5` (repeatable).
    #[arg(long, value_name = "PROVIDER=N")]
    pub rpm: Vec<String>,
    /// Tasks a provider renders at once, e.g. `--concurrency runware=8` (repeatable).
    #[arg(long, value_name = "PROVIDER=N")]
    pub concurrency: Vec<String>,
    /// Accepted jobs after which a provider answers "insufficient credits" (repeatable).
    #[arg(long, value_name = "PROVIDER=N")]
    pub credits_after: Vec<String>,
}

pub fn run(args: SimArgs) -> ExitCode {
    let config = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("shotlist sim: {e}");
            return exit::code(exit::INVALID);
        }
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime starts");
    runtime.block_on(async move {
        let handle = match super::start(config, args.listen).await {
            Ok(h) => h,
            Err(e) => {
                eprintln!("shotlist sim: cannot listen on {}: {e}", args.listen);
                return exit::code(exit::INVALID);
            }
        };
        println!("shotlist sim listening on {}", handle.url());
        println!(
            "  RUNWARE_BASE_URL={}  MINIMAX_BASE_URL={}  SEGMIND_BASE_URL={}",
            handle.base_url(Provider::Runware),
            handle.base_url(Provider::Minimax),
            handle.base_url(Provider::Segmind)
        );
        let _ = tokio::signal::ctrl_c().await;
        let ledger = handle.stop().await;
        println!("{}", ledger.summary());
        exit::code(exit::OK)
    })
}

fn config(args: &SimArgs) -> Result<SimConfig, String> {
    let mut c = match &args.scenario {
        Some(path) => SimConfig::from_file(path)?,
        None => SimConfig::default(),
    };
    if let Some(seed) = args.seed {
        c.seed = seed;
    }
    if let Some(scale) = args.time_scale {
        c.time_scale = scale;
    }
    for f in &args.fault {
        let (kind, rate) = pair(f)?;
        let rate: f64 = rate.parse().map_err(|_| format!("--fault {f}: the rate must be a number from 0 to 1"))?;
        let slot = match kind {
            "http5xx" => &mut c.faults.http5xx,
            "reset-before" | "resetBefore" => &mut c.faults.reset_before,
            "reset-after" | "resetAfter" => &mut c.faults.reset_after,
            "no-answer" | "noAnswer" => &mut c.faults.no_answer,
            "malformed-json" | "malformedJson" => &mut c.faults.malformed_json,
            "provider-failure" | "providerFailure" => &mut c.faults.provider_failure,
            "content-blocked-input" | "contentBlockedInput" => &mut c.faults.content_blocked_input,
            "content-blocked-output" | "contentBlockedOutput" => &mut c.faults.content_blocked_output,
            "truncated-download" | "truncatedDownload" => &mut c.faults.truncated_download,
            "slow-download" | "slowDownload" => &mut c.faults.slow_download,
            other => return Err(format!("--fault: unknown fault `{other}`")),
        };
        *slot = rate;
    }
    for (list, what) in [(&args.rpm, 0), (&args.concurrency, 1), (&args.credits_after, 2)] {
        for item in list {
            let (name, n) = pair(item)?;
            let provider =
                Provider::parse(name).ok_or(format!("`{name}` is not a provider (runware, minimax, segmind)"))?;
            let n: u32 = n.parse().map_err(|_| format!("`{item}`: expected PROVIDER=NUMBER"))?;
            let ps = c.provider_mut(provider);
            match what {
                0 => ps.requests_per_minute = Some(n),
                1 => ps.max_concurrent = Some(n),
                _ => ps.credits_after = Some(n),
            }
        }
    }
    c.check()?;
    Ok(c)
}

fn pair(s: &str) -> Result<(&str, &str), String> {
    s.split_once('=').ok_or_else(|| format!("`{s}`: expected NAME=VALUE"))
}
