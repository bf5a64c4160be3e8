//! `shotlist run`: the overnight render. The pipeline reads as the steps: load and
//! validate the manifest, plan, open the out folder (lock, journal replay), say what
//! changed since the last run, dispatch until every job is settled, write the
//! report, and exit with the documented code.

pub mod budget;
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
pub mod store;
pub mod worker;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

pub use options::{RunArgs, Timing};

use crate::catalog::Provider;
use crate::exit;
use crate::manifest::{self, Shot};
use crate::plan::{Job, JobId, Plan};
use crate::provider::{AnyClient, ApiKey, Endpoint};
use crate::sim::SimHandle;
use journal::Record;
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

/// Why a run could not start: nothing was submitted (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The manifest is invalid; its diagnostics are rendered already.
    #[error("{0}")]
    Manifest(String),
    #[error("shotlist run: {0}")]
    Refused(String),
}

impl RunError {
    /// The one place a run's failure to start becomes output and an exit code.
    fn exit(self) -> ExitCode {
        eprint!("{self}");
        if matches!(self, RunError::Refused(_)) {
            eprintln!();
        }
        exit::code(exit::INVALID)
    }
}

fn refused(msg: impl std::fmt::Display) -> RunError {
    RunError::Refused(msg.to_string())
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
    /// Per provider, the submit pace shared with other runners on the account (a
    /// database store only).
    pub paces: HashMap<Provider, Arc<dyn store::Pace>>,
    /// Per provider, the account its limits belong to.
    pub accounts: HashMap<Provider, store::AccountKey>,
    /// Per job key, its id: for what comes in by key (a shared store's records).
    index: KeyIndex,
}

/// Job ids by key, through a digest of the key: the plan holds the keys already,
/// and a copy of each (some 10 MB at 100,000 jobs) is not needed to find them.
#[derive(Default)]
struct KeyIndex {
    by_digest: HashMap<u64, JobId>,
    /// The keys whose digest another key took first (practically none).
    collided: HashMap<String, JobId>,
}

impl KeyIndex {
    fn new(plan: &Plan) -> KeyIndex {
        let mut index = KeyIndex::default();
        index.by_digest.reserve(plan.jobs.len());
        for id in plan.ids() {
            let key = &plan.job(id).key;
            match index.by_digest.entry(key_digest(key)) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
                std::collections::hash_map::Entry::Occupied(_) => {
                    index.collided.entry(key.clone()).or_insert(id);
                }
            }
        }
        index
    }

    fn get(&self, plan: &Plan, key: &str) -> Option<JobId> {
        match self.by_digest.get(&key_digest(key)) {
            Some(id) if plan.job(*id).key == key => Some(*id),
            _ => self.collided.get(key).copied(),
        }
    }
}

fn key_digest(key: &str) -> u64 {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    BuildHasherDefault::<DefaultHasher>::default().hash_one(key)
}

impl Context {
    /// The id of the planned job with this key (`None`: not in this run's plan).
    pub fn id(&self, key: &str) -> Option<JobId> {
        self.index.get(&self.plan, key)
    }

    pub fn job(&self, id: JobId) -> &Job {
        self.plan.job(id)
    }
}

/// `shotlist run`: the night as its steps.
pub fn run(args: RunArgs) -> ExitCode {
    match night(args) {
        Ok(outcome) => exit::code(outcome.exit_code()),
        Err(e) => e.exit(),
    }
}

fn night(args: RunArgs) -> Result<Outcome, RunError> {
    let mut loaded = load(&args.manifest)?;
    // The text was needed for the warnings alone; a night keeps nothing per line of it
    // (23 MB at 100,000 shots).
    loaded.source = String::new();
    let mut plan = plan(&loaded, &args.only)?;
    let out = out_dir(&loaded, &args);
    let budget = args.max_cost.or(loaded.manifest.max_cost_usd);
    if budget.is_some_and(|b| b.is_nan() || b <= 0.0) {
        return Err(refused("--max-cost must be more than 0"));
    }
    check_keys(&args, &plan)?;
    let spec = store::StateSpec::parse(args.state.as_deref()).map_err(refused)?;
    let campaign = campaign_id(&loaded, args.rehearse);
    if !args.rehearse
        && let Some(msg) =
            options::template_host_mismatch(&loaded.manifest, plan.jobs.iter().any(|j| j.template.is_some()))
    {
        return Err(refused(msg));
    }
    let runtime =
        tokio::runtime::Runtime::new().map_err(|e| refused(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let time_scale = args.time_scale.unwrap_or(if args.rehearse { 0.02 } else { 1.0 });
        let sim = rehearsal(&args, time_scale, &out).await?;
        let mut folder = Folder::open(&out, &loaded.file_name, &spec, &campaign).await?;
        if let Some(max) = budget {
            folder.store.keep_budget(max);
        }
        folder.state.keep_takes(&mut plan, &loaded.manifest);
        // The shots move into the context: from here on the plan's jobs reach them
        // through it alone, and a copy left in the manifest doubled them (16 MB at
        // 20,000 shots).
        let shots = std::mem::take(&mut loaded.manifest.shots);
        let mut ctx = context(&args, &loaded, plan, shots, out, budget, time_scale, sim.as_ref());
        ctx.accounts = accounts(&ctx, &loaded.manifest, sim.as_ref());
        ctx.paces = paces(&ctx, folder.store.as_ref());
        let started = std::time::Instant::now();
        let outcome = dispatch(&ctx, folder).await;
        if let Some(handle) = sim {
            eprintln!("Simulator {}", handle.stop_summary().await);
            let night = started.elapsed().div_f64(time_scale.max(1e-9));
            eprintln!(
                "At real speed this night would take about {} (rehearsed at time scale {time_scale}).",
                crate::run::eta::show(night)
            );
        }
        Ok(outcome)
    })
}

/// The campaign a database store keeps this manifest's night under: the manifest's
/// `name:`, else its file stem (a rehearsal's is apart: `<name>-rehearsal`). Every
/// machine running the same manifest shares it, whatever its own `--out`.
pub fn campaign_id(loaded: &manifest::Loaded, rehearse: bool) -> String {
    let name = loaded.manifest.name.clone().unwrap_or_else(|| {
        loaded.manifest.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "shotlist".into())
    });
    if rehearse { format!("{name}-rehearsal") } else { name }
}

/// Per provider, the account: provider, base URL, a fingerprint of the key.
fn accounts(
    ctx: &Context,
    manifest: &manifest::Manifest,
    sim: Option<&SimHandle>,
) -> HashMap<Provider, store::AccountKey> {
    let mut out = HashMap::new();
    for p in ctx.lanes.keys() {
        let (base, key) = match sim {
            Some(handle) => (handle.base_url(*p), "rehearsal-key".to_owned()),
            None => (options::base_url(*p, manifest), options::api_key(*p).unwrap_or_default()),
        };
        out.insert(*p, store::AccountKey::new(*p, &base, &key));
    }
    out
}

/// Per provider, the account's pace shared through the store (none for the folder).
fn paces(ctx: &Context, store: &dyn store::Store) -> HashMap<Provider, Arc<dyn store::Pace>> {
    let mut out = HashMap::new();
    for (p, lane) in &ctx.lanes {
        if let Some(pace) = store.pace(&ctx.accounts[p], lane.limits.submits_per_minute, ctx.timing.time_scale) {
            out.insert(*p, pace);
        }
    }
    out
}

/// Loads and validates the manifest; its warnings are shown, its errors refuse the run.
fn load(path: &std::path::Path) -> Result<manifest::Loaded, RunError> {
    let loaded =
        manifest::load(path).map_err(|invalid| RunError::Manifest(invalid.render(crate::term::use_color())))?;
    if !loaded.warnings.is_empty() {
        eprint!(
            "{}",
            manifest::diag::render(&loaded.warnings, &loaded.file_name, &loaded.source, crate::term::use_color())
        );
    }
    Ok(loaded)
}

/// The plan, narrowed to `--only`.
fn plan(loaded: &manifest::Loaded, only: &[String]) -> Result<Plan, RunError> {
    let mut plan = Plan::new(&loaded.manifest);
    if !only.is_empty() {
        let ids: BTreeSet<&str> = loaded.manifest.shots.iter().map(|s| s.id.as_str()).collect();
        if let Some(bad) = only.iter().find(|o| !ids.contains(o.as_str())) {
            return Err(refused(format!("--only: no shot `{bad}` in {}", loaded.file_name)));
        }
        plan.jobs.retain(|j| only.contains(&j.shot_id));
    }
    Ok(plan)
}

/// The out folder; a rehearsal writes beside it, into `<out>-rehearsal`.
fn out_dir(loaded: &manifest::Loaded, args: &RunArgs) -> PathBuf {
    crate::outdir::out_dir(loaded, args.out.as_deref(), args.rehearse)
}

/// A real night needs the key of every provider the plan uses.
fn check_keys(args: &RunArgs, plan: &Plan) -> Result<(), RunError> {
    if args.rehearse {
        return Ok(());
    }
    let providers: BTreeSet<Provider> = plan.jobs.iter().map(|j| j.provider).collect();
    let missing: Vec<String> = providers
        .iter()
        .filter(|p| options::api_key(**p).is_none())
        .map(|p| {
            let jobs = plan.jobs.iter().filter(|j| j.provider == *p).count();
            format!("{} (for {jobs} jobs on {p})", options::key_var(*p))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(refused(format!(
        "no API key in {}. Set it, or try the night first with --rehearse (the built-in simulator, no key needed).",
        missing.join(", ")
    )))
}

/// With `--rehearse`, the built-in simulator on a loopback port plays every provider.
async fn rehearsal(args: &RunArgs, time_scale: f64, out: &std::path::Path) -> Result<Option<SimHandle>, RunError> {
    if !args.rehearse {
        return Ok(None);
    }
    let mut config = match &args.sim_scenario {
        Some(path) => crate::sim::SimConfig::from_file(path).map_err(refused)?,
        None => crate::sim::SimConfig::default(),
    };
    if args.sim_scenario.is_none() || args.time_scale.is_some() {
        config.time_scale = time_scale;
    }
    // This runner never asks again for a clip it has; ten simulated minutes cover a
    // retried download. The simulator then forgets the task but for its ledger line
    // (its tables held every task of the night: some 100 MB at 100,000 shots).
    config.forget_delivered_after_secs = Some(600.0);
    let handle = crate::sim::start(config, "127.0.0.1:0".parse().expect("static address"))
        .await
        .map_err(|e| refused(format!("cannot start the simulator: {e}")))?;
    eprintln!(
        "Rehearsal: the built-in simulator at {} plays every provider; nothing is billed. Out folder: {}",
        handle.url(),
        out.display()
    );
    Ok(Some(handle))
}

/// The clients and lanes of the providers the plan uses, and the rest of the run's constants.
#[allow(clippy::too_many_arguments)]
fn context(
    args: &RunArgs,
    loaded: &manifest::Loaded,
    plan: Plan,
    shots: Vec<Shot>,
    out: PathBuf,
    budget_usd: Option<f64>,
    time_scale: f64,
    sim: Option<&SimHandle>,
) -> Context {
    let providers: BTreeSet<Provider> = plan.jobs.iter().map(|j| j.provider).collect();
    let http = crate::provider::http::default_http_client();
    let mut clients = HashMap::new();
    let mut lanes = HashMap::new();
    for p in providers {
        let (base, key) = match sim {
            Some(handle) => (handle.base_url(p), ApiKey::new("rehearsal-key")),
            None => {
                let key = options::api_key(p).expect("checked before the run started");
                (options::base_url(p, &loaded.manifest), ApiKey::new(key))
            }
        };
        clients.insert(p, Arc::new(AnyClient::new(p, Endpoint::new(base, key).with_http(http.clone()))));
        let mut limits = options::limits(p, &loaded.manifest);
        if args.rehearse {
            limits.max_in_flight = limits.max_in_flight.max(1);
        }
        lanes.insert(p, Arc::new(Lane::new(p, limits, time_scale)));
    }
    let index = KeyIndex::new(&plan);
    Context {
        out,
        plan,
        shots,
        clients,
        lanes,
        http,
        timing: Timing::new(time_scale),
        budget_usd,
        resubmit_in_doubt: args.resubmit_in_doubt,
        quiet: args.quiet,
        paces: HashMap::new(),
        accounts: HashMap::new(),
        index,
    }
}

/// The out folder opened for a run, with its store: locked (the folder's journal)
/// or claimed under leases (a database), its records replayed, this run recorded.
struct Folder {
    state: RunState,
    store: Box<dyn store::Store>,
}

impl Folder {
    async fn open(
        out: &std::path::Path,
        manifest_name: &str,
        spec: &store::StateSpec,
        campaign: &str,
    ) -> Result<Folder, RunError> {
        std::fs::create_dir_all(out)
            .map_err(|e| refused(format!("cannot create the out folder {}: {e}", out.display())))?;
        let (mut store, mut state): (Box<dyn store::Store>, RunState) = match spec {
            store::StateSpec::Folder => {
                let (store, state, torn_tail) = store::FileStore::open(out).map_err(refused)?;
                if torn_tail {
                    eprintln!(
                        "The journal's last line was cut off by a crash; it is dropped (nothing it recorded had taken effect)."
                    );
                }
                (Box::new(store), state)
            }
            store::StateSpec::Postgres(url) => {
                download::remove_partials(out);
                let machine = store::pg::machine_name(out);
                let (store, records) = store::pg::PgStore::open(url, campaign, machine).await.map_err(refused)?;
                (Box::new(store), RunState::replay(records))
            }
        };
        let run = Record::Run { at: journal::now(), pid: std::process::id(), manifest: manifest_name.to_owned() };
        let shown = store.describe();
        store.append(&run).map_err(|e| refused(format!("cannot write the journal {shown}: {e}")))?;
        state.apply(run);
        Ok(Folder { state, store })
    }
}

/// Runs the dispatcher until every job is settled or the run stops, and says how it ended.
async fn dispatch(ctx: &Context, folder: Folder) -> Outcome {
    let Folder { state, store } = folder;
    if let Some(line) = drift(&ctx.plan, &state) {
        eprintln!("{line}");
    }
    let total_clips: u32 = ctx.plan.jobs.iter().map(|j| j.number_results).sum();
    eprintln!("{} jobs, {} clips → {}", ctx.plan.jobs.len(), total_clips, ctx.out.display());
    let path = store.describe();
    tracing::info!(jobs = ctx.plan.jobs.len(), clips = total_clips, out = %ctx.out.display(), "run started");
    match dispatcher::Dispatcher::new(ctx, state, store).run().await {
        Ok((outcome, state)) => {
            summary(ctx, &state, &outcome);
            outcome
        }
        // The journal cannot be appended to (disk full, read-only): stop at once.
        // Every record already written is whole (a cut-off last line is dropped on
        // the next start), so the same command continues once the folder is writable.
        Err(e) => {
            let why = format!("cannot write the journal {path}: {e}");
            eprintln!("Halted: {why}. Free space (or make the folder writable) and run the same command again.");
            Outcome::Halted(why)
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
            *counts.entry(report::clip_status(state.jobs.get(&job.key), *v).name()).or_default() += 1;
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
    tracing::info!("{verdict}: {}", parts.join(", "));
    // What was billed, per provider: the figures the providers' invoices show.
    // Row by row: only the failed and in-doubt ones are kept.
    let mut money = BTreeMap::new();
    let mut troubled: Vec<report::Row> = Vec::new();
    let _ = report::each_row(&ctx.plan, state, &mut |r| {
        report::add_money(&mut money, &r);
        if matches!(r.status.as_str(), "failed" | "in_doubt") {
            troubled.push(r);
        }
        Ok(())
    });
    report::round_money(&mut money);
    for (p, m) in &money {
        eprintln!("  {p}: {}", status::money_line(m));
    }
    if money.len() > 1 {
        eprintln!("  total: {}", status::money_line(&status::total_money(&money)));
    }
    for (status, title) in [("failed", "Failed"), ("in_doubt", "In doubt")] {
        let these: Vec<&report::Row> = troubled.iter().filter(|r| r.status == status).collect();
        if these.is_empty() {
            continue;
        }
        eprintln!("{title}:");
        for r in these.iter().take(20) {
            eprintln!("  {} #{} ({}): {}", r.shot_id, r.variant, r.provider, status::reason(&r.status, &r.error));
        }
        if these.len() > 20 {
            eprintln!("  ... and {} more (shotlist status lists them)", these.len() - 20);
        }
    }
    if counts.get("in_doubt").is_some_and(|n| *n > 0) {
        eprintln!(
            "In doubt: those submits may have been accepted and billed; check the provider's console, then rerun with --resubmit-in-doubt to send them again."
        );
    }
    if let Some(next) = next_command(outcome, &counts) {
        eprintln!("Next: {next}");
    }
}

/// The command to run next, from the command line this run was given.
fn next_command(outcome: &Outcome, counts: &BTreeMap<&str, u32>) -> Option<String> {
    // A --state URL is shown without its password (SHOTLIST_STATE keeps it out of sight).
    let args: Vec<String> = std::env::args().skip(1).map(|a| shell_word(&store::elide_password_in_arg(&a))).collect();
    let same = format!("shotlist {}", args.join(" "));
    let in_doubt = counts.get("in_doubt").copied().unwrap_or(0) > 0;
    let failed = counts.get("failed").copied().unwrap_or(0) > 0;
    Some(match outcome {
        Outcome::AllDone => return None,
        Outcome::Interrupted => same,
        Outcome::Halted(_) => format!("{same}   (once the cause above is fixed)"),
        Outcome::Incomplete if in_doubt && !args.iter().any(|a| a == "--resubmit-in-doubt") => {
            format!("{same} --resubmit-in-doubt   (after checking the provider's console)")
        }
        Outcome::Incomplete if failed => {
            format!("{same}   (edit the shots the provider refused first; an edited shot renders anew)")
        }
        Outcome::Incomplete => same,
    })
}

/// An argument as a shell reads it back.
fn shell_word(a: &str) -> String {
    let plain = !a.is_empty() && a.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@+%".contains(c));
    if plain { a.to_owned() } else { format!("'{}'", a.replace('\'', "'\\''")) }
}
