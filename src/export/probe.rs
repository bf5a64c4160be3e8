//! A clip's real frame rate and length, read from the MP4 itself (the `mp4` crate:
//! the video track's timescale, `stts` sample delta and sample count). Pure Rust, so
//! export works the same with or without ffmpeg; providers do not always deliver the
//! rate their docs state (Runware pins 25 fps where MiniMax documents 24), so the
//! catalog's rate is only the fallback for a file that cannot be read.

use std::path::Path;

/// Where the figures came from.
#[derive(Clone, Debug, PartialEq)]
pub enum Source {
    File,
    /// The file could not be read (why); the catalog's rate and duration were used.
    Catalog(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Media {
    /// Frames per second (23.976 is 24000/1001 exactly as f64 allows).
    pub rate: f64,
    pub frames: u64,
    pub source: Source,
}

/// Probes `path`; falls back to `fps` × `secs` when the file says nothing usable.
pub fn probe(path: &Path, fps: u32, secs: u32) -> Media {
    match read(path) {
        Ok((rate, frames)) => Media { rate, frames, source: Source::File },
        Err(why) => {
            Media { rate: f64::from(fps), frames: u64::from(fps) * u64::from(secs), source: Source::Catalog(why) }
        }
    }
}

fn read(path: &Path) -> Result<(f64, u64), String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mp4 = mp4::read_mp4(file).map_err(|e| e.to_string())?;
    let track = mp4
        .tracks()
        .values()
        .filter(|t| matches!(t.track_type(), Ok(mp4::TrackType::Video)))
        .min_by_key(|t| t.track_id())
        .ok_or("no video track")?;
    let timescale = track.timescale();
    let frames = u64::from(track.sample_count());
    let stts = &track.trak.mdia.minf.stbl.stts.entries;
    // A constant-rate clip has one stts entry (or a last entry for the final frame).
    let delta = stts.first().map(|e| e.sample_delta).filter(|d| *d > 0).ok_or("no sample timing")?;
    if timescale == 0 || frames == 0 {
        return Err("empty video track".into());
    }
    let rate = f64::from(timescale) / f64::from(delta);
    // 25.000000001 from a rounding timescale is 25.
    let rate = if (rate - rate.round()).abs() < 1e-6 { rate.round() } else { rate };
    Ok((rate, frames))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_clip_is_25_fps_50_frames() {
        // assets/README.md: 25 fps, 50 frames, 2.000 s (ffprobe); the catalog would say 24.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/sim-clip.mp4");
        let m = probe(&path, 24, 6);
        assert_eq!(m, Media { rate: 25.0, frames: 50, source: Source::File });
    }

    #[test]
    fn a_file_that_is_not_mp4_falls_back_to_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.mp4");
        std::fs::write(&path, b"not a video").unwrap();
        let m = probe(&path, 24, 6);
        assert_eq!((m.rate, m.frames), (24.0, 144));
        assert!(matches!(m.source, Source::Catalog(_)));
    }
}
