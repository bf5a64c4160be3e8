//! `report.csv` (DESIGN "report.csv"): one row per clip of the plan's jobs, built
//! from the journal, written atomically (temp file + rename). Unknown values are
//! empty cells, never 0.

use std::path::Path;

use super::journal::JobDef;
use super::state::{JobState, Phase, RunState};
use crate::catalog::Resolution;
use crate::plan::{Job, Plan, PriceSource};

/// The columns, in the contract's order.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Row {
    pub shot_id: String,
    pub variant: u32,
    pub provider: String,
    pub model: String,
    pub job_key: String,
    pub task_uuid: String,
    pub provider_task_id: String,
    pub status: String,
    pub seed: Option<u64>,
    pub video_url: String,
    pub file: String,
    pub sha256: String,
    #[serde(serialize_with = "write_usd")]
    pub cost_usd: Option<f64>,
    #[serde(serialize_with = "write_usd")]
    pub estimated_cost_usd: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_s: Option<u32>,
    pub fps: Option<u32>,
    pub attempts: u32,
    pub submitted_at: String,
    pub completed_at: String,
    pub error: String,
    /// Where `cost_usd` comes from; empty when unknown.
    pub cost_source: Option<CostSource>,
    /// As `plan` names it (Runware's 1366×768 is 768p).
    pub resolution: String,
    /// The prompt as sent.
    pub prompt: String,
    /// Whether review marked the take as a select (`yes`); empty until then.
    #[serde(serialize_with = "yes_no", deserialize_with = "read_yes_no", default)]
    pub selected: Option<bool>,
    /// The shot's version the take belongs to (from 1; an edited shot renders the next).
    pub version: u32,
    /// `yes` for a take of the current manifest, empty for an earlier version's.
    pub current: String,
    /// A shared campaign (`--state`): the machine that downloaded the clip (it is in
    /// that machine's `--out`), else the one that holds its job; empty with the
    /// folder's journal (one folder, one runner) and for a job nobody claimed yet.
    #[serde(default)]
    pub machine: String,
}

/// Where a clip's cost comes from (the report's `cost_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CostSource {
    /// The provider's answer carried the cost.
    Reported,
    /// The catalog's published price (the provider reported none).
    List,
    /// The manifest's `prices:`.
    Manifest,
}

impl From<PriceSource> for CostSource {
    fn from(p: PriceSource) -> Self {
        match p {
            PriceSource::List => CostSource::List,
            PriceSource::Manifest => CostSource::Manifest,
        }
    }
}

/// Dollars as a decimal with cents (`0.28`, `0.625`, `1.00`), never `0.2800000001`.
pub fn format_usd(v: f64) -> String {
    let mut s = format!("{:.4}", (v * 10_000.0).round() / 10_000.0);
    while s.ends_with('0') && s.len() - s.find('.').unwrap_or(s.len()) > 3 {
        s.pop();
    }
    s
}

fn write_usd<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format_usd(*v)),
        None => s.serialize_none(),
    }
}

fn yes_no<S: serde::Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(true) => s.serialize_str("yes"),
        Some(false) => s.serialize_str("no"),
        None => s.serialize_none(),
    }
}

fn read_yes_no<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let text: Option<String> = serde::Deserialize::deserialize(d)?;
    Ok(match text.as_deref().map(str::trim) {
        Some("yes" | "true") => Some(true),
        Some("no" | "false") => Some(false),
        _ => None,
    })
}

/// Where one clip stands, as the report's `status` column spells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ClipStatus {
    Done,
    Failed,
    InDoubt,
    Pending,
    Running,
}

impl ClipStatus {
    pub fn name(self) -> &'static str {
        match self {
            ClipStatus::Done => "done",
            ClipStatus::Failed => "failed",
            ClipStatus::InDoubt => "in_doubt",
            ClipStatus::Pending => "pending",
            ClipStatus::Running => "running",
        }
    }
}

impl std::fmt::Display for ClipStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

// Readers of the report (and its tests) hold the status as text.
impl PartialEq<&str> for ClipStatus {
    fn eq(&self, other: &&str) -> bool {
        self.name() == *other
    }
}

impl PartialEq<String> for ClipStatus {
    fn eq(&self, other: &String) -> bool {
        self.name() == other
    }
}

/// Where one clip stands, from its job's state.
pub fn clip_status(job: Option<&JobState>, variant: u32) -> ClipStatus {
    let Some(job) = job else { return ClipStatus::Pending };
    let clip = job.clips.get(&variant);
    if clip.is_some_and(|c| c.file.is_some()) {
        return ClipStatus::Done;
    }
    if clip.is_some_and(|c| c.failed.is_some()) {
        return ClipStatus::Failed;
    }
    match &job.phase {
        Phase::Pending => ClipStatus::Pending,
        Phase::Submitting { .. } | Phase::Running | Phase::Done => ClipStatus::Running,
        Phase::InDoubt { .. } => ClipStatus::InDoubt,
        Phase::Failed(_) => ClipStatus::Failed,
    }
}

/// What a clip the provider delivered (so billed) cost, and where the figure comes
/// from: the provider's reported cost, else the price the run knew (the journal's,
/// else the plan's), so totals match what is billed; `(None, None)` when no price is
/// known. `None` for a clip not delivered (nothing billed).
pub fn clip_cost(job: &Job, js: Option<&JobState>, variant: u32) -> Option<(Option<f64>, Option<CostSource>)> {
    let def = js.and_then(|j| j.def.as_ref());
    let known =
        def.and_then(|d| d.price_source.zip(d.unit_price_usd)).or_else(|| job.price_source.zip(job.unit_price_usd));
    cost_at(known, js, variant)
}

/// A clip's cost given the price the run knew for it (see [`clip_cost`]).
fn cost_at(
    known: Option<(PriceSource, f64)>,
    js: Option<&JobState>,
    variant: u32,
) -> Option<(Option<f64>, Option<CostSource>)> {
    let clip = js.and_then(|j| j.clips.get(&variant)).and_then(|c| c.clip.as_ref())?;
    if let Some(reported) = clip.cost_usd {
        return Some((Some(reported), Some(CostSource::Reported)));
    }
    // MiniMax v2 reports usage, not dollars: its cost is the usage at list price.
    if let Some(list) = clip.list_cost_usd {
        return Some((Some(list), Some(CostSource::List)));
    }
    Some(match known {
        Some((source, usd)) => (Some(usd), Some(source.into())),
        None => (None, None),
    })
}

/// One provider's bill: reported by the provider, at a list (or manifest) price
/// where it reports none, and the delivered clips whose price is unknown.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub reported_usd: f64,
    pub list_usd: f64,
    pub unpriced_clips: u32,
}

impl Money {
    pub fn add(&mut self, cost: (Option<f64>, Option<CostSource>)) {
        match cost {
            (Some(usd), Some(CostSource::Reported)) => self.reported_usd += usd,
            (Some(usd), _) => self.list_usd += usd,
            (None, _) => self.unpriced_clips += 1,
        }
    }

    /// Reported plus list, rounded to hundredths of a cent (never `-0.00`).
    pub fn billed_usd(&self) -> f64 {
        round4(self.reported_usd + self.list_usd) + 0.0
    }
}

/// Per provider, what the delivered clips of these rows cost (every version's
/// takes: earlier ones were paid for too).
pub fn money<'r>(
    rows: impl IntoIterator<Item = &'r Row>,
) -> std::collections::BTreeMap<crate::catalog::Provider, Money> {
    let mut out: std::collections::BTreeMap<crate::catalog::Provider, Money> = Default::default();
    for r in rows {
        add_money(&mut out, r);
    }
    round_money(&mut out);
    out
}

/// Adds a row's bill to `money` (see [`money`]; [`round_money`] when all are in).
pub fn add_money(money: &mut std::collections::BTreeMap<crate::catalog::Provider, Money>, r: &Row) {
    let Some(p) = crate::catalog::Provider::parse(&r.provider) else { return };
    // A clip the provider delivered has its URL; only those are billed.
    if r.video_url.is_empty() && r.cost_usd.is_none() {
        return;
    }
    money.entry(p).or_default().add((r.cost_usd, r.cost_source));
}

/// Rounds sums added with [`add_money`] as the report shows them.
pub fn round_money(money: &mut std::collections::BTreeMap<crate::catalog::Provider, Money>) {
    for m in money.values_mut() {
        m.reported_usd = round4(m.reported_usd) + 0.0;
        m.list_usd = round4(m.list_usd) + 0.0;
    }
}

/// The rows for a plan, in plan order, each shot's takes of earlier versions (kept on
/// disk, paid for) before its current ones; takes of shots no longer in the plan last.
pub fn rows(plan: &Plan, state: &RunState) -> Vec<Row> {
    let mut out = Vec::new();
    each_row(plan, state, &mut |r| {
        out.push(r);
        Ok(())
    })
    .expect("collecting rows cannot fail");
    out
}

/// [`rows`] one at a time, never all held: a 100,000-job night's rows are some
/// 200 MB (the report is rewritten through this while the night runs).
pub fn each_row(
    plan: &Plan,
    state: &RunState,
    emit: &mut dyn FnMut(Row) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let planned: std::collections::HashSet<&str> = plan.jobs.iter().map(|j| j.key.as_str()).collect();
    let mut earlier: std::collections::BTreeMap<&str, Vec<(&str, &JobDef, &JobState)>> = Default::default();
    for (key, js) in &state.jobs {
        if let Some(def) = &js.def
            && !planned.contains(key.as_str())
            && js.clips.values().any(|c| c.clip.is_some())
        {
            earlier.entry(def.shot.as_str()).or_default().push((key, def, js));
        }
    }
    for list in earlier.values_mut() {
        list.sort_by_key(|(_, def, _)| (def.version, def.variants.first().copied()));
    }
    let mut shot_done = std::collections::HashSet::new();
    for job in &plan.jobs {
        if shot_done.insert(job.shot_id.as_str()) {
            for (key, def, js) in earlier.remove(job.shot_id.as_str()).unwrap_or_default() {
                for v in &def.variants {
                    emit(row(key, def, Some(js), *v, false))?;
                }
            }
        }
        let js = state.jobs.get(&job.key);
        let mut def = js
            .and_then(|j| j.def.clone())
            .unwrap_or_else(|| JobDef::of(job, state.version_for(&job.shot_id, &job.render_key)));
        // A journal written before prices and prompts were recorded: the plan knows them
        // (same key, same job).
        if def.price_source.is_none() {
            (def.price_source, def.unit_price_usd) = (job.price_source, job.unit_price_usd);
        }
        if def.prompt.is_none() {
            def.prompt.clone_from(&job.prompt);
        }
        def.resolution = job.resolution.name().to_owned();
        for v in &job.variants {
            emit(row(&job.key, &def, js, *v, true))?;
        }
    }
    for (key, def, js) in earlier.into_values().flatten() {
        for v in &def.variants {
            emit(row(key, def, Some(js), *v, false))?;
        }
    }
    Ok(())
}

fn row(key: &str, def: &JobDef, js: Option<&JobState>, variant: u32, current: bool) -> Row {
    let clip_state = js.and_then(|j| j.clips.get(&variant));
    let clip = clip_state.and_then(|c| c.clip.as_ref());
    let file = clip_state.and_then(|c| c.file.as_ref());
    let caps = crate::provider::capabilities(def.provider);
    let (w, h) = match (clip.and_then(|c| c.width), clip.and_then(|c| c.height)) {
        (Some(w), Some(h)) => (Some(w), Some(h)),
        // Runware is told the size: it is known before the clip is.
        _ if caps.sized_by_request => match Resolution::parse(&def.resolution) {
            Some(r) => {
                let (w, h) = r.runware_size();
                (Some(w), Some(h))
            }
            None => (None, None),
        },
        _ => (None, None),
    };
    let status = clip_status(js, variant);
    let (cost_usd, cost_source) =
        cost_at(def.price_source.zip(def.unit_price_usd), js, variant).unwrap_or((None, None));
    let error = match status {
        ClipStatus::Failed | ClipStatus::InDoubt | ClipStatus::Pending => clip_state
            .and_then(|c| c.failed.as_ref().map(|f| f.to_string()))
            .or_else(|| js.and_then(|j| j.error.clone()))
            .unwrap_or_default(),
        // Delivered and billed, but the shot's safety check flagged it: say so where a reader looks.
        ClipStatus::Done | ClipStatus::Running if clip.and_then(|c| c.nsfw) == Some(true) => NSFW_FLAGGED.to_owned(),
        ClipStatus::Done | ClipStatus::Running => String::new(),
    };
    Row {
        shot_id: def.shot.clone(),
        variant,
        provider: def.provider.name().to_owned(),
        model: def.model.clone(),
        job_key: key.to_owned(),
        // Only an idempotency key the provider honours means anything to a reader.
        task_uuid: js
            .and_then(|j| j.task_uuid)
            .filter(|_| caps.idempotent_submit)
            .map(|u| u.to_string())
            .unwrap_or_default(),
        provider_task_id: js.and_then(|j| j.task.as_ref()).map(|t| t.id.clone()).unwrap_or_default(),
        status: status.name().to_owned(),
        seed: clip.and_then(|c| c.seed),
        video_url: clip.map(|c| c.video_url.clone()).unwrap_or_default(),
        file: file.map(|f| f.file.clone()).unwrap_or_default(),
        sha256: file.map(|f| f.sha256.clone()).unwrap_or_default(),
        cost_usd,
        estimated_cost_usd: def.estimated_cost_usd.map(|c| round4(c / f64::from(def.number_results.max(1)))),
        width: w,
        height: h,
        // A template decides its own length and rate: unknown, so empty.
        duration_s: Some(def.duration).filter(|_| !def.model.starts_with("template:")),
        fps: Some(def.fps).filter(|_| !def.model.starts_with("template:")),
        attempts: js.map_or(0, |j| j.attempts),
        submitted_at: js.and_then(|j| j.submitted_at.clone()).unwrap_or_default(),
        completed_at: file
            .map(|f| f.at.clone())
            .or_else(|| js.and_then(|j| j.completed_at.clone()).filter(|_| status == ClipStatus::Failed))
            .unwrap_or_default(),
        error,
        cost_source,
        resolution: def.resolution.clone(),
        prompt: def.prompt.clone().unwrap_or_default(),
        selected: None,
        version: def.version.max(1),
        current: if current { "yes".into() } else { String::new() },
        machine: String::new(),
    }
}

/// Names each row's machine: `machine_of(job key, variant)` (a shared campaign's
/// store knows who downloaded or holds what).
pub fn name_machines(rows: &mut [Row], machine_of: impl Fn(&str, u32) -> Option<String>) {
    for r in rows {
        r.machine = machine_of(&r.job_key, r.variant).unwrap_or_default();
    }
}

/// The `error` cell of a done clip that Runware's safety check flagged (`NSFWContent: true`).
pub const NSFW_FLAGGED: &str = "NSFWContent: Runware's safety check flagged this clip (it was delivered and billed)";

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Writes the report to `path` atomically.
pub fn write(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    write_with(path, &mut |put| rows.iter().try_for_each(|r| put(r.clone())))
}

/// Writes the report of `plan` and `state` to `path` atomically, row by row (see
/// [`each_row`]).
pub fn write_plan(
    path: &Path,
    plan: &Plan,
    state: &RunState,
    machine_of: &dyn Fn(&str, u32) -> Option<String>,
) -> std::io::Result<()> {
    write_with(path, &mut |put| {
        each_row(plan, state, &mut |mut r| {
            r.machine = machine_of(&r.job_key, r.variant).unwrap_or_default();
            put(r)
        })
    })
}

/// The rows `rows` hands to its argument, written to `path` atomically.
#[allow(clippy::type_complexity)]
fn write_with(
    path: &Path,
    rows: &mut dyn FnMut(&mut dyn FnMut(Row) -> std::io::Result<()>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = super::download::temp_in(dir, ".report")?;
    {
        let mut w = csv::Writer::from_writer(tmp.as_file());
        let selects = selected_marks(dir);
        let mut any = false;
        rows(&mut |r| {
            any = true;
            let selected = selects.is_selected(&r.job_key, r.variant).then_some(true);
            w.serialize(Row { selected, ..r }).map_err(std::io::Error::other)
        })?;
        if !any {
            w.write_record(HEADER)?;
        }
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The review marks of the out folder; a damaged selects.yaml leaves the column
/// empty (with a warning) rather than stop a night's report.
fn selected_marks(out: &Path) -> crate::selects::Selects {
    crate::selects::load(out).unwrap_or_else(|e| {
        eprintln!("shotlist: {e}; report.csv's `selected` column is left empty");
        crate::selects::Selects::default()
    })
}

/// The header line, for an empty report.
pub const HEADER: [&str; 29] = [
    "shot_id",
    "variant",
    "provider",
    "model",
    "job_key",
    "task_uuid",
    "provider_task_id",
    "status",
    "seed",
    "video_url",
    "file",
    "sha256",
    "cost_usd",
    "estimated_cost_usd",
    "width",
    "height",
    "duration_s",
    "fps",
    "attempts",
    "submitted_at",
    "completed_at",
    "error",
    "cost_source",
    "resolution",
    "prompt",
    "selected",
    "version",
    "current",
    "machine",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_the_contract() {
        let mut w = csv::Writer::from_writer(vec![]);
        w.serialize(Row::default()).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert_eq!(text.lines().next().unwrap(), HEADER.join(","));
        // Unknown numbers are empty cells, not 0.
        let second = text.lines().nth(1).unwrap();
        assert!(second.contains(",,,"), "{second}");
    }

    #[test]
    fn costs_are_written_with_cents_and_no_float_noise() {
        assert_eq!(format_usd(0.1 + 0.2 - 0.02), "0.28");
        assert_eq!(format_usd(0.28), "0.28");
        assert_eq!(format_usd(0.336), "0.336");
        assert_eq!(format_usd(1.0), "1.00");
        assert_eq!(format_usd(0.625), "0.625");
        let row = Row { cost_usd: Some(0.2800000001), selected: None, ..Row::default() };
        let mut w = csv::Writer::from_writer(vec![]);
        w.serialize(&row).unwrap();
        let text = String::from_utf8(w.into_inner().unwrap()).unwrap();
        assert!(text.lines().nth(1).unwrap().contains(",0.28,"), "{text}");
    }
}
