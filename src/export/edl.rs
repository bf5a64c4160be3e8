//! CMX 3600 EDL: one video cut per clip, reel `AX` (a file, not a tape) with
//! `* FROM CLIP NAME:` and `* FROM FILE:` comments, because reel names are 8
//! characters. A shot with no done take is left as a hole in the record timecode
//! (how CMX 3600 writes a gap); the OTIO export carries the reason. Non-drop-frame
//! timecode at the first clip's probed rate, rounded to whole frames per second.

use super::Event;

/// The record timecode of the first event (the usual start of an edit: 1 hour).
const START_HOURS: u64 = 1;

fn timecode(frames: u64, fps: u64) -> String {
    let (secs, ff) = (frames / fps, frames % fps);
    format!("{:02}:{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60, ff)
}

/// Frames at `fps` of something `frames` long at `rate`.
fn at_rate(frames: u64, rate: f64, fps: u64) -> u64 {
    if rate <= 0.0 { 0 } else { (frames as f64 * fps as f64 / rate).round() as u64 }
}

/// The EDL's frame rate: the first clip's, else 24.
pub fn rate(events: &[Event]) -> u64 {
    events
        .iter()
        .find_map(|e| match e {
            Event::Clip(c) => Some(c.media.rate.round() as u64),
            Event::Gap { .. } => None,
        })
        .filter(|r| *r > 0)
        .unwrap_or(24)
}

/// The EDL text. Comment text is kept on one line (a newline would end it).
pub fn edl(title: &str, events: &[Event]) -> String {
    let one_line = |s: &str| s.replace(['\r', '\n'], " ");
    let fps = rate(events);
    let mut out = format!("TITLE: {}\nFCM: NON-DROP FRAME\n\n", one_line(title));
    let mut record = START_HOURS * 3600 * fps;
    let mut number = 0;
    for e in events {
        match e {
            Event::Clip(c) => {
                number += 1;
                let len = at_rate(c.media.frames, c.media.rate, fps);
                out.push_str(&format!(
                    "{number:03}  {:8} {:5} C        {} {} {} {}\n",
                    "AX",
                    "V",
                    timecode(0, fps),
                    timecode(len, fps),
                    timecode(record, fps),
                    timecode(record + len, fps),
                ));
                out.push_str(&format!("* FROM CLIP NAME: {}\n", one_line(&c.name())));
                out.push_str(&format!("* FROM FILE: {}\n", one_line(&c.path.to_string_lossy())));
                record += len;
            }
            Event::Gap { rate, frames, .. } => record += at_rate(*frames, *rate, fps),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timecode_is_hh_mm_ss_ff() {
        assert_eq!(timecode(3600 * 25 + 61 * 25 + 7, 25), "01:01:01:07");
        assert_eq!(at_rate(50, 25.0, 24), 48);
    }
}
