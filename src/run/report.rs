//! `report.csv` (DESIGN "report.csv"): one row per clip of the plan's jobs, built
//! from the journal, written atomically (temp file + rename). Unknown values are
//! empty cells, never 0.

use std::path::Path;

use super::journal::JobDef;
use super::state::{JobState, Phase, RunState};
use crate::catalog::Resolution;
use crate::plan::Plan;

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
    pub cost_usd: Option<f64>,
    pub estimated_cost_usd: Option<f64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_s: Option<u32>,
    pub fps: Option<u32>,
    pub attempts: u32,
    pub submitted_at: String,
    pub completed_at: String,
    pub error: String,
    /// The shot's version the take belongs to (from 1; an edited shot renders the next).
    pub version: u32,
    /// `yes` for a take of the current manifest, empty for an earlier version's.
    pub current: String,
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

/// The rows for a plan, in plan order, each shot's takes of earlier versions (kept on
/// disk, paid for) before its current ones; takes of shots no longer in the plan last.
pub fn rows(plan: &Plan, state: &RunState) -> Vec<Row> {
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
    let mut out = Vec::new();
    let mut shot_done = std::collections::HashSet::new();
    for job in &plan.jobs {
        if shot_done.insert(job.shot_id.as_str()) {
            for (key, def, js) in earlier.remove(job.shot_id.as_str()).unwrap_or_default() {
                out.extend(def.variants.iter().map(|v| row(key, def, Some(js), *v, false)));
            }
        }
        let js = state.jobs.get(&job.key);
        let def = js
            .and_then(|j| j.def.clone())
            .unwrap_or_else(|| JobDef::of(job, state.version_for(&job.shot_id, &job.render_key)));
        out.extend(job.variants.iter().map(|v| row(&job.key, &def, js, *v, true)));
    }
    for (key, def, js) in earlier.into_values().flatten() {
        out.extend(def.variants.iter().map(|v| row(key, def, Some(js), *v, false)));
    }
    out
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
    let error = match status {
        ClipStatus::Failed | ClipStatus::InDoubt | ClipStatus::Pending => clip_state
            .and_then(|c| c.failed.as_ref().map(|f| f.to_string()))
            .or_else(|| js.and_then(|j| j.error.clone()))
            .unwrap_or_default(),
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
        cost_usd: clip.and_then(|c| c.cost_usd),
        estimated_cost_usd: def.estimated_cost_usd.map(|c| round4(c / f64::from(def.number_results.max(1)))),
        width: w,
        height: h,
        duration_s: Some(def.duration),
        fps: Some(def.fps),
        attempts: js.map_or(0, |j| j.attempts),
        submitted_at: js.and_then(|j| j.submitted_at.clone()).unwrap_or_default(),
        completed_at: file
            .map(|f| f.at.clone())
            .or_else(|| js.and_then(|j| j.completed_at.clone()).filter(|_| status == ClipStatus::Failed))
            .unwrap_or_default(),
        error,
        version: def.version.max(1),
        current: if current { "yes".into() } else { String::new() },
    }
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

/// Writes the report to `path` atomically.
pub fn write(path: &Path, rows: &[Row]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new().prefix(".report").suffix(".part").tempfile_in(dir)?;
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
pub const HEADER: [&str; 24] = [
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
    "version",
    "current",
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
}
