//! `report.csv` (DESIGN "report.csv"): one row per clip of the plan's jobs, built
//! from the journal, written atomically (temp file + rename). Unknown values are
//! empty cells, never 0.

use std::path::Path;

use super::state::{JobState, Phase, RunState};
use crate::plan::{Job, Plan};

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
    let error = match status {
        "failed" | "in_doubt" | "pending" => {
            clip_state.and_then(|c| c.failed.clone()).or_else(|| js.and_then(|j| j.error.clone())).unwrap_or_default()
        }
        // Delivered and billed, but the shot's safety check flagged it: say so where a reader looks.
        _ if clip.and_then(|c| c.nsfw) == Some(true) => NSFW_FLAGGED.to_owned(),
        _ => String::new(),
    };
    Row {
        shot_id: job.shot_id.clone(),
        variant,
        provider: job.provider.name().to_owned(),
        model: job.model_label(),
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
        cost_usd: clip.and_then(|c| c.cost_usd),
        estimated_cost_usd: job.estimated_cost_usd.map(|c| round4(c / f64::from(job.number_results.max(1)))),
        width: w,
        height: h,
        // A template decides its own length and rate: unknown, so empty.
        duration_s: Some(job.duration).filter(|_| job.template.is_none()),
        fps: Some(job.fps).filter(|_| job.template.is_none()),
        attempts: js.map_or(0, |j| j.attempts),
        submitted_at: js.and_then(|j| j.submitted_at.clone()).unwrap_or_default(),
        completed_at: file
            .map(|f| f.at.clone())
            .or_else(|| js.and_then(|j| j.completed_at.clone()).filter(|_| status == "failed"))
            .unwrap_or_default(),
        error,
    }
}

/// The `error` cell of a done clip that Runware's safety check flagged (`NSFWContent: true`).
pub const NSFW_FLAGGED: &str = "NSFWContent: Runware's safety check flagged this clip (it was delivered and billed)";

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
pub const HEADER: [&str; 22] = [
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
