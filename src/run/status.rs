//! `shotlist status` and `shotlist report`: read the journal (never lock, never
//! write it), so both are safe while a run is active.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use super::journal;
use super::report;
use super::state::RunState;
use crate::exit;
use crate::manifest;
use crate::plan::Plan;

/// `status` and `report` options.
#[derive(clap::Args, Debug, Clone)]
pub struct StatusArgs {
    pub manifest: PathBuf,
    /// The out folder (default as for `run`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn load(args: &StatusArgs) -> Result<(Plan, PathBuf, RunState), ExitCode> {
    let loaded = manifest::load(&args.manifest).map_err(|invalid| {
        eprint!("{}", invalid.render(crate::cli::use_color()));
        exit::code(exit::INVALID)
    })?;
    let mut plan = Plan::new(&loaded.manifest);
    let out = crate::cli::default_out_dir(&loaded, args.out.as_deref());
    let path = out.join("state.jsonl");
    let state = if path.exists() {
        let replayed = journal::read(&path).map_err(|e| {
            eprintln!("shotlist: {e}");
            exit::code(exit::INVALID)
        })?;
        RunState::replay(&replayed.records)
    } else {
        RunState::default()
    };
    state.keep_takes(&mut plan, &loaded.manifest);
    Ok((plan, out, state))
}

#[derive(serde::Serialize)]
struct ShotLine {
    shot: String,
    variant: u32,
    provider: String,
    status: String,
    error: String,
}

pub fn status(args: StatusArgs) -> ExitCode {
    let (plan, out, state) = match load(&args) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let all_rows = report::rows(&plan, &state);
    let earlier = all_rows.iter().filter(|r| r.current.is_empty()).count();
    // The counts are of the current manifest's takes; earlier versions' are kept aside.
    let rows: Vec<&report::Row> = all_rows.iter().filter(|r| !r.current.is_empty()).collect();
    let mut counts: BTreeMap<String, u32> = BTreeMap::new();
    let mut by_provider: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for r in &rows {
        *counts.entry(r.status.clone()).or_default() += 1;
        *by_provider.entry(r.provider.clone()).or_default().entry(r.status.clone()).or_default() += 1;
    }
    let spent: f64 = rows.iter().filter_map(|r| r.cost_usd).sum();
    let problems: Vec<ShotLine> = rows
        .iter()
        .filter(|r| matches!(r.status.as_str(), "failed" | "in_doubt"))
        .map(|r| ShotLine {
            shot: r.shot_id.clone(),
            variant: r.variant,
            provider: r.provider.clone(),
            status: r.status.clone(),
            error: r.error.clone(),
        })
        .collect();
    if args.json {
        let doc = serde_json::json!({
            "out": out.display().to_string(),
            "runs": state.runs,
            "clips": rows.len(),
            "status": counts,
            "providers": by_provider,
            "spentUsd": (spent * 10_000.0).round() / 10_000.0,
            "estimatedUsd": plan.totals.estimated_cost_usd,
            "problems": problems,
            "earlierTakes": earlier,
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("status serialises"));
        return exit::code(exit::OK);
    }
    if state.runs == 0 {
        println!("{}: nothing has run yet ({} clips planned).", out.display(), rows.len());
        return exit::code(exit::OK);
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("{}: {} clips: {} (after {} run(s))", out.display(), rows.len(), parts.join(", "), state.runs);
    for (p, c) in &by_provider {
        let parts: Vec<String> = c.iter().map(|(s, n)| format!("{n} {s}")).collect();
        println!("  {p}: {}", parts.join(", "));
    }
    println!("  spent ${spent:.2} reported (estimate ${:.2})", plan.totals.estimated_cost_usd);
    if earlier > 0 {
        println!("  {earlier} take(s) of earlier versions kept on disk (listed in report.csv, `current` empty)");
    }
    for p in problems.iter().take(50) {
        println!("  {} #{} ({}) {}: {}", p.shot, p.variant, p.provider, p.status, p.error);
    }
    exit::code(exit::OK)
}

pub fn rebuild_report(args: StatusArgs) -> ExitCode {
    let (plan, out, state) = match load(&args) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if !out.join("state.jsonl").exists() {
        eprintln!("shotlist report: no journal in {} (nothing has run yet)", out.display());
        return exit::code(exit::INVALID);
    }
    let rows = report::rows(&plan, &state);
    let path = out.join("report.csv");
    match report::write(&path, &rows) {
        Ok(()) => {
            eprintln!("wrote {} ({} rows)", path.display(), rows.len());
            exit::code(exit::OK)
        }
        Err(e) => {
            eprintln!("shotlist report: cannot write {}: {e}", path.display());
            exit::code(exit::INVALID)
        }
    }
}
