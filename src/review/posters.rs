//! Poster frames (one per take) and a contact sheet (one per shot), made with ffmpeg
//! when it is on PATH and written beside the clips. Optional: without ffmpeg, or when
//! it fails on a file, the page simply has no image there.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Campaign, TakeStatus};

/// Images made, as paths relative to the out folder.
#[derive(Debug, Default)]
pub struct Posters {
    /// By the clip's `file` (relative).
    pub poster: HashMap<String, String>,
    /// By shot id.
    pub contact_sheet: HashMap<String, String>,
}

/// ffmpeg's path, when it is on PATH.
pub fn ffmpeg() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join("ffmpeg")).find(|p| p.is_file())
}

/// Makes what is missing (a poster newer than its clip is kept) and lists what exists.
pub fn make(campaign: &Campaign) -> Posters {
    let mut out = Posters::default();
    let Some(ffmpeg) = ffmpeg() else { return out };
    for shot in &campaign.shots {
        let mut frames = Vec::new();
        for take in shot.takes.iter().filter(|t| t.status == TakeStatus::Done && t.file_exists) {
            let clip = campaign.out.join(&take.row.file);
            let rel = poster_name(&take.row.file);
            let poster = campaign.out.join(&rel);
            if fresh(&poster, &clip)
                || run(
                    &ffmpeg,
                    &[
                        "-ss",
                        "0.5",
                        "-i",
                        &clip.to_string_lossy(),
                        "-frames:v",
                        "1",
                        "-vf",
                        "scale=-2:180",
                        "-q:v",
                        "4",
                        &poster.to_string_lossy(),
                    ],
                )
            {
                out.poster.insert(take.row.file.clone(), rel);
                frames.push(poster);
            }
        }
        if frames.is_empty() {
            continue;
        }
        let Some(folder) = Path::new(&shot.takes.iter().find(|t| t.file_exists).map(|t| t.row.file.clone()).unwrap())
            .parent()
            .map(Path::to_path_buf)
        else {
            continue;
        };
        let rel = folder.join(format!("{}_contact.jpg", shot.id)).to_string_lossy().into_owned();
        let sheet = campaign.out.join(&rel);
        let mut args: Vec<String> = Vec::new();
        for f in &frames {
            args.extend(["-i".into(), f.to_string_lossy().into_owned()]);
        }
        if frames.len() > 1 {
            args.extend(["-filter_complex".into(), format!("hstack=inputs={}", frames.len())]);
        }
        args.extend(["-frames:v".into(), "1".into(), "-q:v".into(), "4".into(), sheet.to_string_lossy().into_owned()]);
        let newest = frames.iter().all(|f| fresh(&sheet, f));
        if newest || run(&ffmpeg, &args.iter().map(String::as_str).collect::<Vec<_>>()) {
            out.contact_sheet.insert(shot.id.clone(), rel);
        }
    }
    out
}

/// `s010/s010_1.mp4` → `s010/s010_1.poster.jpg`.
fn poster_name(file: &str) -> String {
    let p = Path::new(file);
    p.with_extension("poster.jpg").to_string_lossy().into_owned()
}

/// Whether `made` exists and is not older than `from`.
fn fresh(made: &Path, from: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((m(made), m(from)), (Some(a), Some(b)) if a >= b)
}

fn run(ffmpeg: &Path, args: &[&str]) -> bool {
    let status = Command::new(ffmpeg)
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => true,
        other => {
            tracing::debug!("ffmpeg {args:?}: {other:?}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_poster_sits_beside_its_clip() {
        assert_eq!(super::poster_name("s010/s010_2.mp4"), "s010/s010_2.poster.jpg");
    }
}
