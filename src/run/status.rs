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
    /// The manifest (YAML) whose out folder to read.
    pub manifest: PathBuf,
    /// The out folder (default as for `run`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Read the rehearsal's folder (`<out>-rehearsal`, as `run --rehearse` writes).
    #[arg(long)]
    pub rehearse: bool,
    /// Print JSON on stdout (`report`: the rows).
    #[arg(long)]
    pub json: bool,
    /// Read the campaign from PostgreSQL (`postgres://...`), as `run --state` wrote it.
    #[arg(long, env = "SHOTLIST_STATE", value_name = "URL", hide_env_values = true)]
    pub state: Option<String>,
}

/// Per machine of a shared campaign: the jobs it holds and the clips it downloaded.
type Machines = BTreeMap<String, (u32, u32)>;

fn machines(shared: Option<&super::store::pg::Campaign>) -> Machines {
    let mut machines = Machines::new();
    if let Some(read) = shared {
        for (machine, _) in read.claims.values() {
            machines.entry(machine.clone()).or_default().0 += 1;
        }
        for machine in read.downloaded_by.values() {
            machines.entry(machine.clone()).or_default().1 += 1;
        }
    }
    machines
}

/// What `status` and `report` read.
struct Loaded {
    plan: Plan,
    out: PathBuf,
    state: RunState,
    /// A shared campaign as read from its database.
    shared: Option<super::store::pg::Campaign>,
    /// The manifest's budget.
    budget_usd: Option<f64>,
}

impl Loaded {
    /// What the campaign may be billed at most, as a budget counts it: the shared
    /// store's sum of what every job committed, else the same rule over the journal.
    fn committed_usd(&self) -> f64 {
        match self.shared.as_ref().and_then(|c| c.committed_usd) {
            Some(usd) => usd,
            None => self.state.jobs.values().map(|js| super::budget::committed_usd(js, false)).sum(),
        }
    }
}

fn load(args: &StatusArgs) -> Result<Loaded, ExitCode> {
    std::thread::scope(|scope| {
        // A journal in a folder named by `--out` is read and replayed on its own
        // thread while the manifest loads and plans (each takes a second or more at
        // 100,000 shots). Whatever goes wrong is still told in the order it always
        // was: the manifest's problems first, then the journal's.
        let early = match (args.state.as_deref().map(str::trim), &args.out) {
            (None | Some(""), Some(out)) => {
                let dir = if args.rehearse { crate::outdir::rehearsal(out) } else { out.clone() };
                let path = dir.join("state.jsonl");
                let read = path.clone();
                Some((path, scope.spawn(move || replay_file(&read))))
            }
            _ => None,
        };
        let loaded = manifest::load(&args.manifest).map_err(|invalid| {
            eprint!("{}", invalid.render(crate::term::use_color()));
            exit::code(exit::INVALID)
        })?;
        let mut plan = Plan::new(&loaded.manifest);
        let out = crate::outdir::out_dir(&loaded, args.out.as_deref(), args.rehearse);
        let path = out.join("state.jsonl");
        let spec = super::store::StateSpec::parse(args.state.as_deref()).map_err(|e| {
            eprintln!("shotlist: {e}");
            exit::code(exit::INVALID)
        })?;
        let mut shared = None;
        let state = if let super::store::StateSpec::Postgres(url) = &spec {
            let campaign = super::campaign_id(&loaded, args.rehearse);
            let read = super::store::pg::read_only(url, &campaign).map_err(|e| {
                eprintln!("shotlist: {e}");
                exit::code(exit::INVALID)
            })?;
            let state = RunState::replay(&read.records);
            shared = Some(read);
            state
        } else {
            let replayed = match early {
                Some((early_path, thread)) if early_path == path => {
                    thread.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                }
                _ => replay_file(&path),
            };
            replayed.map_err(|e| {
                eprintln!("shotlist: {e}");
                exit::code(exit::INVALID)
            })?
        };
        state.keep_takes(&mut plan, &loaded.manifest);
        Ok(Loaded { plan, out, state, shared, budget_usd: loaded.manifest.max_cost_usd })
    })
}

/// The state a folder's journal holds (none when there is no journal yet).
fn replay_file(path: &std::path::Path) -> Result<RunState, journal::JournalError> {
    if !path.exists() {
        return Ok(RunState::default());
    }
    Ok(RunState::read(path)?.0)
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
    let read = match load(&args) {
        Ok(v) => v,
        Err(code) => return code,
    };
    let (committed, budget) = (round4(read.committed_usd()), read.budget_usd);
    let Loaded { plan, out, state, shared, .. } = read;
    let machines = machines(shared.as_ref());
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
    let money = report::money(&all_rows);
    let total = total_money(&money);
    let problems: Vec<ShotLine> = rows
        .iter()
        .filter(|r| matches!(r.status.as_str(), "failed" | "in_doubt"))
        .map(|r| ShotLine {
            shot: r.shot_id.clone(),
            variant: r.variant,
            provider: r.provider.clone(),
            status: r.status.clone(),
            error: reason(&r.status, &r.error).to_owned(),
        })
        .collect();
    if args.json {
        let money: BTreeMap<&str, &report::Money> = money.iter().map(|(p, m)| (p.name(), m)).collect();
        let doc = serde_json::json!({
            "out": out.display().to_string(),
            "runs": state.runs,
            "clips": rows.len(),
            "status": counts,
            "providers": by_provider,
            "spentUsd": total.billed_usd(),
            "committedUsd": committed,
            "budgetUsd": budget,
            "money": money,
            "estimatedUsd": plan.totals.estimated_cost_usd,
            "problems": problems,
            "earlierTakes": earlier,
            "machines": machines.iter().map(|(m, (jobs, clips))| serde_json::json!({"machine": m, "jobs": jobs, "downloaded": clips})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).expect("status serialises"));
        return exit::code(exit::OK);
    }
    if state.runs == 0 {
        println!("{}: nothing has run yet ({} clips planned).", out.display(), rows.len());
        let rehearsal = crate::outdir::rehearsal(&out);
        if !args.rehearse && rehearsal.join("state.jsonl").exists() {
            println!("  A rehearsal ran into {}: add --rehearse to see it.", rehearsal.display());
        }
        return exit::code(exit::OK);
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("{}: {} clips: {} (after {} run(s))", out.display(), rows.len(), parts.join(", "), state.runs);
    for (p, c) in &by_provider {
        let parts: Vec<String> = c.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let m = crate::catalog::Provider::parse(p).and_then(|p| money.get(&p)).cloned().unwrap_or_default();
        println!("  {p}: {}; {}", parts.join(", "), money_line(&m));
    }
    println!("  total: {} (estimate ${:.2})", money_line(&total), plan.totals.estimated_cost_usd);
    let of_budget = budget.map(|b| format!(" of a ${b:.2} budget")).unwrap_or_default();
    println!(
        "  committed: ${committed:.2}{of_budget} (billed so far, plus the worst case of jobs that may still bill{})",
        if shared.is_some() { ", every machine's" } else { "" }
    );
    for (m, (jobs, clips)) in &machines {
        println!("  machine {m}: holds {jobs} job(s), downloaded {clips} clip(s) into its own --out");
    }
    if earlier > 0 {
        println!("  {earlier} take(s) of earlier versions kept on disk (listed in report.csv, `current` empty)");
    }
    for p in problems.iter().take(50) {
        println!("  {} #{} ({}) {}: {}", p.shot, p.variant, p.provider, p.status, p.error);
    }
    exit::code(exit::OK)
}

/// A clip's error without the status repeated (`failed: failed: ...`).
pub fn reason<'e>(status: &str, error: &'e str) -> &'e str {
    let status = if status == "in_doubt" { "in doubt" } else { status };
    let e = error.strip_prefix(status).and_then(|rest| rest.strip_prefix(": ")).unwrap_or(error);
    // `content_blocked: runware content_blocked (...)`: the class once is enough.
    let e = match e.split_once(": ") {
        Some((class, rest)) if rest.contains(class) => rest,
        _ => e,
    };
    if e.is_empty() { "no reason recorded" } else { e }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0 + 0.0
}

/// The providers' bills added up.
pub fn total_money(money: &BTreeMap<crate::catalog::Provider, report::Money>) -> report::Money {
    let mut t = report::Money::default();
    for m in money.values() {
        t.reported_usd += m.reported_usd;
        t.list_usd += m.list_usd;
        t.unpriced_clips += m.unpriced_clips;
    }
    t.reported_usd = (t.reported_usd * 10_000.0).round() / 10_000.0 + 0.0;
    t.list_usd = (t.list_usd * 10_000.0).round() / 10_000.0 + 0.0;
    t
}

/// `$1.26 billed (reported) + $0.56 at list price, 1 clip with no price`.
pub fn money_line(m: &report::Money) -> String {
    let mut s = format!("${:.2} billed (reported) + ${:.2} at list price", m.reported_usd + 0.0, m.list_usd + 0.0);
    if m.unpriced_clips > 0 {
        let n = m.unpriced_clips;
        s.push_str(&format!(", {n} clip{} with no price", if n == 1 { "" } else { "s" }));
    }
    s
}

pub fn rebuild_report(args: StatusArgs) -> ExitCode {
    let Loaded { plan, out, state, shared, .. } = match load(&args) {
        Ok(v) => v,
        Err(code) => return code,
    };
    if args.state.is_none() && !out.join("state.jsonl").exists() {
        eprintln!("shotlist report: no journal in {} (nothing has run yet)", out.display());
        return exit::code(exit::INVALID);
    }
    let mut rows = report::rows(&plan, &state);
    if let Some(read) = &shared {
        report::name_machines(&mut rows, |key, variant| read.machine_of(key, variant));
    }
    let path = out.join("report.csv");
    match report::write(&path, &rows) {
        Ok(()) => {
            eprintln!("wrote {} ({} rows)", path.display(), rows.len());
            if args.json {
                // The same rows as report.csv, with the same column names.
                println!("{}", serde_json::to_string_pretty(&json_rows(&rows)).expect("rows serialise"));
            }
            exit::code(exit::OK)
        }
        Err(e) => {
            eprintln!("shotlist report: cannot write {}: {e}", path.display());
            exit::code(exit::INVALID)
        }
    }
}

/// The rows as JSON: costs as numbers (the CSV writes them as text with cents).
fn json_rows(rows: &[report::Row]) -> serde_json::Value {
    let mut v = serde_json::to_value(rows).expect("rows serialise");
    for row in v.as_array_mut().into_iter().flatten() {
        for key in ["cost_usd", "estimated_cost_usd"] {
            if let Some(text) = row[key].as_str()
                && let Some(n) = text.parse::<f64>().ok().and_then(serde_json::Number::from_f64)
            {
                row[key] = serde_json::Value::Number(n);
            }
        }
    }
    v
}
