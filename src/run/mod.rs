//! `shotlist run`: the overnight render. The pipeline reads as the steps: load and
//! validate the manifest, plan, open the out folder (lock, journal replay), say what
//! changed since the last run, dispatch until every job is settled, write the
//! report, and exit with the documented code.

pub mod dispatcher;
pub mod download;
pub mod eta;
pub mod journal;
pub mod lane;
pub mod lock;
pub mod options;
pub mod progress;
pub mod report;
pub mod schedule;
pub mod state;
pub mod status;
pub mod worker;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub use options::{RunArgs, Timing};

use crate::catalog::Provider;
use crate::exit;
use crate::manifest::{self, Shot};
use crate::plan::{Job, Plan};
use crate::provider::{AnyClient, ApiKey, Endpoint};
use journal::{Journal, Record};
use lane::Lane;
use state::{Phase, RunState};

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    AllDone,
    /// Finished with failed, in-doubt or unsubmitted jobs.
    Incomplete,
    /// Budget, credits or authentication stopped new submissions.
    Halted(String),
    Interrupted,
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Outcome::AllDone => exit::OK,
            Outcome::Incomplete => exit::JOBS_FAILED,
            Outcome::Halted(_) => exit::HALTED,
            Outcome::Interrupted => exit::INTERRUPTED,
        }
    }
}

/// Everything fixed for the length of a run.
pub struct Context {
    pub out: PathBuf,
    pub plan: Plan,
    pub shots: Vec<Shot>,
    pub clients: HashMap<Provider, Arc<AnyClient>>,
    pub lanes: HashMap<Provider, Arc<Lane>>,
    pub http: reqwest::Client,
    pub timing: Timing,
    pub budget_usd: Option<f64>,
    pub resubmit_in_doubt: bool,
    pub quiet: bool,
    index: HashMap<String, usize>,
}

impl Context {
    pub fn job(&self, key: &str) -> &Job {
        &self.plan.jobs[self.index[key]]
    }
}

/// A run that cannot start; exit 2, nothing submitted.
fn refuse(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("shotlist run: {msg}");
    exit::code(exit::INVALID)
}

pub fn run(args: RunArgs) -> ExitCode {
    let loaded = match manifest::load(&args.manifest) {
        Ok(l) => l,
        Err(invalid) => {
            eprint!("{}", invalid.render(crate::cli::use_color()));
            return exit::code(exit::INVALID);
        }
    };
    if !loaded.warnings.is_empty() {
        eprint!(
            "{}",
            manifest::diag::render(&loaded.warnings, &loaded.file_name, &loaded.source, crate::cli::use_color())
        );
    }
    let mut plan = Plan::new(&loaded.manifest);
    if !args.only.is_empty() {
        let ids: BTreeSet<&str> = loaded.manifest.shots.iter().map(|s| s.id.as_str()).collect();
        if let Some(bad) = args.only.iter().find(|o| !ids.contains(o.as_str())) {
            return refuse(format!("--only: no shot `{bad}` in {}", loaded.file_name));
        }
        plan.jobs.retain(|j| args.only.contains(&j.shot_id));
    }
    let mut out = crate::cli::default_out_dir(&loaded, args.out.as_deref());
    if args.rehearse {
        let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
        name.push("-rehearsal");
        out.set_file_name(name);
    }
    let providers: BTreeSet<Provider> = plan.jobs.iter().map(|j| j.provider).collect();
    if !args.rehearse {
        let missing: Vec<String> = providers
            .iter()
            .filter(|p| options::api_key(**p).is_none())
            .map(|p| {
                format!(
                    "{} (for {} jobs on {p})",
                    options::key_var(*p),
                    plan.jobs.iter().filter(|j| j.provider == *p).count()
                )
            })
            .collect();
        if !missing.is_empty() {
            return refuse(format!(
                "no API key in {}. Set it, or try the night first with --rehearse (the built-in simulator, no key needed).",
                missing.join(", ")
            ));
        }
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => return refuse(format!("cannot start the async runtime: {e}")),
    };
    let budget = args.max_cost.or(loaded.manifest.max_cost_usd);
    if budget.is_some_and(|b| b.is_nan() || b <= 0.0) {
        return refuse("--max-cost must be more than 0");
    }
    runtime.block_on(async move {
        let time_scale = args.time_scale.unwrap_or(if args.rehearse { 0.02 } else { 1.0 });
        let mut sim = None;
        let mut endpoints: HashMap<Provider, (String, ApiKey)> = HashMap::new();
        if args.rehearse {
            let mut config = match &args.sim_scenario {
                Some(path) => match crate::sim::SimConfig::from_file(path) {
                    Ok(c) => c,
                    Err(e) => return refuse(e),
                },
                None => crate::sim::SimConfig::default(),
            };
            if args.sim_scenario.is_none() || args.time_scale.is_some() {
                config.time_scale = time_scale;
            }
            let handle = match crate::sim::start(config, "127.0.0.1:0".parse().expect("static address")).await {
                Ok(h) => h,
                Err(e) => return refuse(format!("cannot start the simulator: {e}")),
            };
            for p in Provider::ALL {
                endpoints.insert(p, (handle.base_url(p), ApiKey::new("rehearsal-key")));
            }
            eprintln!(
                "Rehearsal: the built-in simulator at {} plays every provider; nothing is billed. Out folder: {}",
                handle.url(),
                out.display()
            );
            sim = Some(handle);
        } else {
            for p in &providers {
                let key = options::api_key(*p).expect("checked above");
                endpoints.insert(*p, (options::base_url(*p, &loaded.manifest), ApiKey::new(key)));
            }
        }
        let http = crate::provider::http::default_http_client();
        let mut clients = HashMap::new();
        let mut lanes = HashMap::new();
        for p in &providers {
            let (base, key) = endpoints[p].clone();
            clients.insert(*p, Arc::new(AnyClient::new(*p, Endpoint::new(base, key).with_http(http.clone()))));
            let mut limits = options::limits(*p, &loaded.manifest);
            if args.rehearse {
                limits.max_in_flight = limits.max_in_flight.max(1);
            }
            lanes.insert(*p, Arc::new(Lane::new(*p, limits, time_scale)));
        }
        let index = plan.jobs.iter().enumerate().map(|(i, j)| (j.key.clone(), i)).collect();
        let ctx = Context {
            out: out.clone(),
            plan,
            shots: loaded.manifest.shots.clone(),
            clients,
            lanes,
            http,
            timing: Timing::new(time_scale),
            budget_usd: budget,
            resubmit_in_doubt: args.resubmit_in_doubt,
            quiet: args.quiet,
            index,
        };
        let started = std::time::Instant::now();
        let code = match execute(&ctx, &loaded.file_name).await {
            Ok(outcome) => exit::code(outcome.exit_code()),
            Err(msg) => {
                eprintln!("shotlist run: {msg}");
                exit::code(exit::INVALID)
            }
        };
        if let Some(handle) = sim {
            let ledger = handle.stop().await;
            eprintln!("Simulator {}", ledger.summary());
            let night = started.elapsed().div_f64(time_scale.max(1e-9));
            eprintln!(
                "At real speed this night would take about {} (rehearsed at time scale {time_scale}).",
                crate::run::eta::show(night)
            );
        }
        code
    })
}

/// Opens the out folder and runs the dispatcher; the error is a message for people.
async fn execute(ctx: &Context, manifest_name: &str) -> Result<Outcome, String> {
    let out = &ctx.out;
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create the out folder {}: {e}", out.display()))?;
    let _lock = lock::acquire(out).map_err(|e| e.to_string())?;
    if let Some(prev) = &_lock.previous_holder {
        tracing::debug!("took over the lock last held by {prev}");
    }
    download::remove_partials(out);
    let path = out.join("state.jsonl");
    let replayed = if path.exists() {
        journal::read(&path).map_err(|e| e.to_string())?
    } else {
        journal::Replayed { records: Vec::new(), valid_len: 0, torn_tail: false }
    };
    if replayed.torn_tail {
        eprintln!(
            "The journal's last line was cut off by a crash; it is dropped (nothing it recorded had taken effect)."
        );
    }
    let mut state = RunState::replay(&replayed.records);
    let mut journal =
        Journal::open(&path, replayed.valid_len).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    let io = |e: std::io::Error| format!("cannot write the journal {}: {e}", path.display());
    if replayed.records.is_empty() {
        let header = Record::Header {
            v: journal::JOURNAL_VERSION,
            run_id: uuid::Uuid::new_v4(),
            created_at: journal::now(),
            tool: format!("shotlist {}", env!("CARGO_PKG_VERSION")),
        };
        journal.append(&header).map_err(io)?;
        state.apply(&header);
    }
    let run = Record::Run { at: journal::now(), pid: std::process::id(), manifest: manifest_name.to_owned() };
    journal.append(&run).map_err(io)?;
    state.apply(&run);
    if let Some(line) = drift(&ctx.plan, &state) {
        eprintln!("{line}");
    }
    let total_clips: u32 = ctx.plan.jobs.iter().map(|j| j.number_results).sum();
    eprintln!("{} jobs, {} clips → {}", ctx.plan.jobs.len(), total_clips, out.display());
    match dispatcher::Dispatcher::new(ctx, state, journal).run().await {
        Ok((outcome, state)) => {
            summary(ctx, &state, &outcome);
            Ok(outcome)
        }
        // The journal cannot be appended to (disk full, read-only): stop at once.
        // Every record already written is whole (a cut-off last line is dropped on
        // the next start), so the same command continues once the folder is writable.
        Err(e) => {
            let why = io(e);
            eprintln!("Halted: {why}. Free space (or make the folder writable) and run the same command again.");
            Ok(Outcome::Halted(why))
        }
    }
}

/// One line on what changed since the journal's last run, or `None` on a first run.
pub fn drift(plan: &Plan, state: &RunState) -> Option<String> {
    let known: BTreeMap<&str, &str> =
        state.jobs.iter().filter_map(|(k, j)| j.def.as_ref().map(|d| (k.as_str(), d.shot.as_str()))).collect();
    if known.is_empty() {
        return None;
    }
    let planned: BTreeSet<&str> = plan.jobs.iter().map(|j| j.key.as_str()).collect();
    let unchanged = plan.jobs.iter().filter(|j| known.contains_key(j.key.as_str())).count();
    let done = plan.jobs.iter().filter(|j| state.jobs.get(&j.key).is_some_and(|s| s.phase == Phase::Done)).count();
    let fresh: Vec<&Job> =
        plan.jobs.iter().filter(|j| !known.contains_key(j.key.as_str()) && !state.jobs.contains_key(&j.key)).collect();
    let fresh_shots: BTreeSet<&str> = fresh.iter().map(|j| j.shot_id.as_str()).collect();
    let left = known.keys().filter(|k| !planned.contains(*k)).count();
    let mut line = format!("Resuming: {unchanged} jobs unchanged ({done} done)");
    if !fresh.is_empty() {
        let names: Vec<&str> = fresh_shots.iter().take(8).copied().collect();
        let more = if fresh_shots.len() > 8 { ", ..." } else { "" };
        line.push_str(&format!(", {} new or changed (shots {}{more})", fresh.len(), names.join(", ")));
    }
    if left > 0 {
        line.push_str(&format!(", {left} from removed or edited shots left alone"));
    }
    Some(line)
}

fn summary(ctx: &Context, state: &RunState, outcome: &Outcome) {
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for job in &ctx.plan.jobs {
        for v in &job.variants {
            *counts.entry(report::clip_status(state.jobs.get(&job.key), *v)).or_default() += 1;
        }
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let verdict = match outcome {
        Outcome::AllDone => "All clips are in".to_owned(),
        Outcome::Incomplete => "Finished with clips missing".to_owned(),
        Outcome::Halted(why) => format!("Halted ({why})"),
        Outcome::Interrupted => "Interrupted; run the same command again to continue".to_owned(),
    };
    eprintln!("{verdict}: {}. Report: {}", parts.join(", "), ctx.out.join("report.csv").display());
    if counts.get("in_doubt").is_some_and(|n| *n > 0) {
        eprintln!(
            "In doubt: those submits may have been accepted and billed; check the provider's console, then rerun with --resubmit-in-doubt to send them again."
        );
    }
}
