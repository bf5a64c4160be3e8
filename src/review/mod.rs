//! `shotlist review`: the morning after. Reads the campaign from the journal (as
//! `status` and `report` do, never locking or writing it), writes `<out>/review.html`
//! and, with `--serve`, serves the same page where takes are marked select / reject.

pub mod page;
pub mod posters;
pub mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::exit;
use crate::manifest;
use crate::plan::Plan;
use crate::run::report::{self, Row};
use crate::run::state::RunState;
use crate::selects::{self, Selects};

/// `shotlist review` options.
#[derive(clap::Args, Debug, Clone)]
pub struct ReviewArgs {
    pub manifest: PathBuf,
    /// The out folder (default as for `run`).
    #[arg(long, conflicts_with = "rehearse")]
    pub out: Option<PathBuf>,
    /// Review the rehearsal's out folder (`<out>-rehearsal`).
    #[arg(long)]
    pub rehearse: bool,
    /// Serve the page at ADDR to mark selects (loopback by default; 127.0.0.1:8932).
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "127.0.0.1:8932")]
    pub serve: Option<std::net::SocketAddr>,
}

/// Where a take stands, as report.csv says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakeStatus {
    Done,
    Failed,
    InDoubt,
    Running,
    Pending,
}

impl TakeStatus {
    fn parse(s: &str) -> TakeStatus {
        match s {
            "done" => TakeStatus::Done,
            "failed" => TakeStatus::Failed,
            "in_doubt" => TakeStatus::InDoubt,
            "running" => TakeStatus::Running,
            _ => TakeStatus::Pending,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            TakeStatus::Done => "done",
            TakeStatus::Failed => "failed",
            TakeStatus::InDoubt => "in doubt",
            TakeStatus::Running => "running",
            TakeStatus::Pending => "pending",
        }
    }
}

/// One take (a clip of a job) with what the page and the timeline show of it.
#[derive(Clone, Debug)]
pub struct Take {
    pub row: Row,
    pub status: TakeStatus,
    /// The clip's file exists in the out folder (a done take whose file was moved
    /// away is shown, not played).
    pub file_exists: bool,
    /// The catalog's frame rate of the model.
    pub fps: u32,
    /// The resolution asked for (`768p`).
    pub resolution: &'static str,
}

/// One shot of the manifest with its takes.
#[derive(Clone, Debug)]
pub struct ShotTakes {
    pub id: String,
    pub prompt: String,
    pub takes: Vec<Take>,
}

/// The campaign as the journal tells it, in manifest order.
#[derive(Clone, Debug)]
pub struct Campaign {
    pub out: PathBuf,
    pub manifest_name: String,
    pub shots: Vec<ShotTakes>,
    pub selects: Selects,
}

impl Campaign {
    pub fn takes(&self) -> impl Iterator<Item = &Take> {
        self.shots.iter().flat_map(|s| s.takes.iter())
    }
}

/// Loads the manifest, resolves the out folder and reads the campaign. The error
/// is a message for people.
pub fn open(manifest_path: &Path, out: Option<&Path>, rehearse: bool) -> Result<Campaign, String> {
    let loaded = manifest::load(manifest_path).map_err(|invalid| invalid.render(crate::term::use_color()))?;
    let dir = crate::outdir::out_dir(&loaded, out, rehearse);
    read(&dir, &loaded.file_name, &loaded.manifest)
}

/// Re-reads the journal and the selects of an out folder (the server does it per page).
fn read(dir: &Path, manifest_name: &str, manifest: &crate::manifest::Manifest) -> Result<Campaign, String> {
    let path = dir.join("state.jsonl");
    let state = if path.exists() { RunState::read(&path).map_err(|e| e.to_string())?.0 } else { RunState::default() };
    // The plan as `run` would fit it to the takes the journal holds (more results).
    let mut plan = Plan::new(manifest);
    state.keep_takes(&mut plan, manifest);
    let plan = &plan;
    let prompts: std::collections::HashMap<&str, &str> =
        manifest.shots.iter().map(|s| (s.id.as_str(), s.prompt.as_deref().unwrap_or(""))).collect();
    let shot_order: Vec<&str> = manifest.shots.iter().map(|s| s.id.as_str()).collect();
    let selects = selects::load(dir).map_err(|e| e.to_string())?;
    let jobs: std::collections::HashMap<&str, &crate::plan::Job> =
        plan.jobs.iter().map(|j| (j.key.as_str(), j)).collect();
    let mut shots: Vec<ShotTakes> = shot_order
        .iter()
        .map(|id| ShotTakes { id: (*id).to_owned(), prompt: prompts[id].to_owned(), takes: Vec::new() })
        .collect();
    let index: std::collections::HashMap<String, usize> =
        shots.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
    for row in report::rows(plan, &state) {
        // Takes of shots no longer in the manifest stay in report.csv, not on the page.
        let Some(&shot) = index.get(&row.shot_id) else { continue };
        let status = TakeStatus::parse(&row.status);
        let file_exists = !row.file.is_empty() && dir.join(&row.file).is_file();
        // An earlier version's take is not in the plan: its row says what it was.
        let (fps, resolution) = match jobs.get(row.job_key.as_str()) {
            Some(job) => (job.fps, job.resolution.name()),
            None => (row.fps.unwrap_or(0), crate::catalog::Resolution::parse(&row.resolution).map_or("", |r| r.name())),
        };
        let take = Take { fps, resolution, status, file_exists, row };
        shots[shot].takes.push(take);
    }
    for s in &mut shots {
        s.takes.sort_by_key(|t| (t.row.version, t.row.variant));
    }
    Ok(Campaign { out: dir.to_path_buf(), manifest_name: manifest_name.to_owned(), shots, selects })
}

/// Writes `<out>/review.html` (posters first, when ffmpeg is there).
pub fn write_page(campaign: &Campaign) -> std::io::Result<PathBuf> {
    let posters = posters::make(campaign);
    let html = page::render(campaign, &posters, page::Mode::Static);
    let path = campaign.out.join("review.html");
    selects::atomic_write(&path, html.as_bytes())?;
    Ok(path)
}

/// `shotlist review`.
pub fn review(args: ReviewArgs) -> ExitCode {
    let campaign = match open(&args.manifest, args.out.as_deref(), args.rehearse) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("shotlist review: {}", msg.trim_end());
            return exit::code(exit::INVALID);
        }
    };
    if !campaign.out.join("state.jsonl").exists() {
        eprintln!("shotlist review: no journal in {} (nothing has run yet)", campaign.out.display());
        return exit::code(exit::INVALID);
    }
    match write_page(&campaign) {
        Ok(path) => eprintln!("wrote {}", path.display()),
        Err(e) => {
            eprintln!("shotlist review: cannot write the page in {}: {e}", campaign.out.display());
            return exit::code(exit::INVALID);
        }
    }
    match args.serve {
        None => exit::code(exit::OK),
        Some(addr) => serve::serve(&args, addr),
    }
}
