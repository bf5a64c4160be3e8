//! `shotlist export`: the selects (else each shot's first done take) in manifest
//! order, as an edit timeline for editorial: OpenTimelineIO JSON ([`otio`]) or a
//! CMX 3600 EDL ([`edl`]). Durations come from the files themselves ([`probe`]).

pub mod edl;
pub mod otio;
pub mod probe;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::exit;
use crate::review::{self, Campaign, Take, TakeStatus};

/// `shotlist export` options.
#[derive(clap::Args, Debug, Clone)]
#[command(group(clap::ArgGroup::new("format").required(true).args(["otio", "edl"])))]
pub struct ExportArgs {
    pub manifest: PathBuf,
    /// The out folder (default as for `run`).
    #[arg(long, conflicts_with = "rehearse")]
    pub out: Option<PathBuf>,
    /// Export the rehearsal's out folder (`<out>-rehearsal`).
    #[arg(long)]
    pub rehearse: bool,
    /// Write an OpenTimelineIO timeline (JSON, `.otio`).
    #[arg(long, value_name = "FILE")]
    pub otio: Option<PathBuf>,
    /// Write a CMX 3600 EDL.
    #[arg(long, value_name = "FILE")]
    pub edl: Option<PathBuf>,
}

/// One event of the cut.
#[derive(Clone, Debug)]
pub enum Event {
    Clip(Box<ClipEvent>),
    /// A shot with no done take: a gap as long as the shot was meant to be.
    Gap {
        shot: String,
        rate: f64,
        frames: u64,
        reason: String,
    },
}

#[derive(Clone, Debug)]
pub struct ClipEvent {
    pub take: Take,
    pub prompt: String,
    /// The clip's absolute path.
    pub path: PathBuf,
    pub selected: bool,
    pub media: probe::Media,
}

impl ClipEvent {
    /// `s010_2`: the shot and the take, what an editor sees on the clip.
    pub fn name(&self) -> String {
        format!("{}_{}", self.take.row.shot_id, self.take.row.variant)
    }
}

/// The cut: per shot in manifest order, its selects, else its first done take.
pub fn cut(c: &Campaign) -> Vec<Event> {
    let mut events = Vec::new();
    let out = std::path::absolute(&c.out).unwrap_or_else(|_| c.out.clone());
    for shot in &c.shots {
        let playable: Vec<&Take> =
            shot.takes.iter().filter(|t| t.status == TakeStatus::Done && t.file_exists).collect();
        let selects: Vec<&Take> =
            playable.iter().copied().filter(|t| c.selects.is_selected(&t.row.job_key, t.row.variant)).collect();
        // Without selects, the first done take of the current manifest's version (an
        // earlier version's take is what the shot was before its edit).
        let current = || playable.iter().copied().filter(|t| !t.row.current.is_empty()).take(1);
        let chosen: Vec<&Take> = if selects.is_empty() { current().collect() } else { selects };
        if chosen.is_empty() {
            let first = shot.takes.first();
            let fps = first.map_or(24, |t| t.fps);
            let secs = first.and_then(|t| t.row.duration_s).unwrap_or(0);
            events.push(Event::Gap {
                shot: shot.id.clone(),
                rate: f64::from(fps),
                frames: u64::from(secs) * u64::from(fps),
                reason: gap_reason(&shot.id, &shot.takes),
            });
            continue;
        }
        for take in chosen {
            let path = out.join(&take.row.file);
            let media = probe::probe(&path, take.fps, take.row.duration_s.unwrap_or(0));
            if let probe::Source::Catalog(why) = &media.source {
                eprintln!(
                    "shotlist export: {}: cannot read the frame rate from the file ({why}); using the model's {} fps",
                    take.row.file, take.fps
                );
            }
            events.push(Event::Clip(Box::new(ClipEvent {
                take: take.clone(),
                prompt: shot.prompt.clone(),
                path,
                selected: c.selects.is_selected(&take.row.job_key, take.row.variant),
                media,
            })));
        }
    }
    events
}

/// Why a shot has no clip in the cut, in a few words.
fn gap_reason(shot: &str, takes: &[Take]) -> String {
    use std::collections::BTreeMap;
    if takes.is_empty() {
        return format!("{shot}: no take planned");
    }
    let mut counts: BTreeMap<&str, u32> = BTreeMap::new();
    for t in takes {
        let label = if t.status == TakeStatus::Done { "done, file missing" } else { t.status.label() };
        *counts.entry(label).or_default() += 1;
    }
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    let error = takes.iter().map(|t| t.row.error.as_str()).find(|e| !e.is_empty());
    match error {
        Some(e) => format!("{shot}: no done take ({}); {e}", parts.join(", ")),
        None => format!("{shot}: no done take ({})", parts.join(", ")),
    }
}

/// `shotlist export`.
pub fn export(args: ExportArgs) -> ExitCode {
    let campaign = match review::open(&args.manifest, args.out.as_deref(), args.rehearse) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("shotlist export: {}", msg.trim_end());
            return exit::code(exit::INVALID);
        }
    };
    if !campaign.out.join("state.jsonl").exists() {
        eprintln!("shotlist export: no journal in {} (nothing has run yet)", campaign.out.display());
        return exit::code(exit::INVALID);
    }
    let events = cut(&campaign);
    let name = Path::new(&campaign.manifest_name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "shotlist".into());
    let (path, text) = match (&args.otio, &args.edl) {
        (Some(p), _) => (p, otio::timeline(&name, &events)),
        (None, Some(p)) => (p, edl::edl(&name, &events)),
        (None, None) => unreachable!("clap requires --otio or --edl"),
    };
    if let Err(e) = crate::selects::atomic_write(path, text.as_bytes()) {
        eprintln!("shotlist export: cannot write {}: {e}", path.display());
        return exit::code(exit::INVALID);
    }
    let clips = events.iter().filter(|e| matches!(e, Event::Clip(_))).count();
    let gaps = events.len() - clips;
    eprintln!("wrote {} ({clips} clips, {gaps} gaps)", path.display());
    exit::code(exit::OK)
}
