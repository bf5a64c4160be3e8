//! `report.csv` (DESIGN "report.csv"): one row per clip of the plan's jobs, built
//! from the journal, written atomically (temp file + rename). Unknown values are
//! empty cells, never 0.

use std::path::Path;

use super::state::{JobState, Phase, RunState};
use crate::plan::{Job, Plan, PriceSource};

/// The columns, in the contract's order.
#[derive(Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
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

/// The row status of one clip.
pub fn clip_status(job: Option<&JobState>, variant: u32) -> &'static str {
    let Some(job) = job else { return "pending" };
    let clip = job.clips.get(&variant);
    if clip.is_some_and(|c| c.file.is_some()) {
        return "done";
    }
    if clip.is_some_and(|c| c.failed.is_some()) {
        return "failed";
    }
    match &job.phase {
        Phase::Pending => "pending",
        Phase::Submitting { .. } | Phase::Running | Phase::Done => "running",
        Phase::InDoubt { .. } => "in_doubt",
        Phase::Failed { .. } => "failed",
    }
}

/// What a clip the provider delivered (so billed) cost, and where the figure comes
/// from: the provider's reported cost, else the price the run knew (the journal's,
/// else the plan's), so totals match what is billed; `(None, None)` when no price is
/// known. `None` for a clip not delivered (nothing billed).
pub fn clip_cost(job: &Job, js: Option<&JobState>, variant: u32) -> Option<(Option<f64>, Option<CostSource>)> {
    let clip = js.and_then(|j| j.clips.get(&variant)).and_then(|c| c.clip.as_ref())?;
    if let Some(reported) = clip.cost_usd {
        return Some((Some(reported), Some(CostSource::Reported)));
    }
    let def = js.and_then(|j| j.def.as_ref());
    let known =
        def.and_then(|d| d.price_source.zip(d.unit_price_usd)).or_else(|| job.price_source.zip(job.unit_price_usd));
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

/// Per provider, what the plan's delivered clips cost.
pub fn money(plan: &Plan, state: &RunState) -> std::collections::BTreeMap<crate::catalog::Provider, Money> {
    let mut out: std::collections::BTreeMap<crate::catalog::Provider, Money> = Default::default();
    for job in &plan.jobs {
        let js = state.jobs.get(&job.key);
        let m = out.entry(job.provider).or_default();
        for &v in &job.variants {
            if let Some(cost) = clip_cost(job, js, v) {
                m.add(cost);
            }
        }
    }
    for m in out.values_mut() {
        m.reported_usd = round4(m.reported_usd) + 0.0;
        m.list_usd = round4(m.list_usd) + 0.0;
    }
    out
}

/// The rows for a plan, in plan order.
pub fn rows(plan: &Plan, state: &RunState) -> Vec<Row> {
    let mut out = Vec::new();
    for job in &plan.jobs {
        let js = state.jobs.get(&job.key);
        for &variant in &job.variants {
            out.push(row(job, js, variant));
        }
    }
    out
}

fn row(job: &Job, js: Option<&JobState>, variant: u32) -> Row {
    let clip_state = js.and_then(|j| j.clips.get(&variant));
    let clip = clip_state.and_then(|c| c.clip.as_ref());
    let file = clip_state.and_then(|c| c.file.as_ref());
    let (w, h) = match (clip.and_then(|c| c.width), clip.and_then(|c| c.height)) {
        (Some(w), Some(h)) => (Some(w), Some(h)),
        _ if job.provider == crate::catalog::Provider::Runware => {
            let (w, h) = job.resolution.runware_size();
            (Some(w), Some(h))
        }
        _ => (None, None),
    };
    let status = clip_status(js, variant);
    let (cost_usd, cost_source) = clip_cost(job, js, variant).unwrap_or((None, None));
    let error = match status {
        "failed" | "in_doubt" | "pending" => {
            clip_state.and_then(|c| c.failed.clone()).or_else(|| js.and_then(|j| j.error.clone())).unwrap_or_default()
        }
        _ => String::new(),
    };
    Row {
        shot_id: job.shot_id.clone(),
        variant,
        provider: job.provider.name().to_owned(),
        model: job.model.id.to_owned(),
        job_key: job.key.clone(),
        task_uuid: js
            .and_then(|j| j.task_uuid)
            .filter(|_| job.provider == crate::catalog::Provider::Runware)
            .map(|u| u.to_string())
            .unwrap_or_default(),
        provider_task_id: js.and_then(|j| j.task.as_ref()).map(|t| t.id.clone()).unwrap_or_default(),
        status: status.to_owned(),
        seed: clip.and_then(|c| c.seed),
        video_url: clip.map(|c| c.video_url.clone()).unwrap_or_default(),
        file: file.map(|f| f.file.clone()).unwrap_or_default(),
        sha256: file.map(|f| f.sha256.clone()).unwrap_or_default(),
        cost_usd,
        estimated_cost_usd: job.estimated_cost_usd.map(|c| round4(c / f64::from(job.number_results.max(1)))),
        width: w,
        height: h,
        duration_s: Some(job.duration),
        fps: Some(job.fps),
        attempts: js.map_or(0, |j| j.attempts),
        submitted_at: js.and_then(|j| j.submitted_at.clone()).unwrap_or_default(),
        completed_at: file
            .map(|f| f.at.clone())
            .or_else(|| js.and_then(|j| j.completed_at.clone()).filter(|_| status == "failed"))
            .unwrap_or_default(),
        error,
        cost_source,
        resolution: job.resolution.name().to_owned(),
        prompt: job.prompt.clone().unwrap_or_default(),
        selected: None,
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Writes the report to `path` atomically.
pub fn write(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = super::download::temp_in(dir, ".report")?;
    {
        let mut w = csv::Writer::from_writer(tmp.as_file());
        for r in rows {
            w.serialize(r).map_err(std::io::Error::other)?;
        }
        if rows.is_empty() {
            w.write_record(HEADER)?;
        }
        w.flush()?;
    }
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The header line, for an empty report.
pub const HEADER: [&str; 26] = [
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
