//! The options that shape a clip beyond model, prompt and frames: Runware's output
//! container, quality and safety check, MiniMax's fast pretreatment and watermark,
//! and which model takes which. Validation, the plan and the clients read this.
//!
//! Sources (stored copies, read 2026-12):
//! - Runware `outputFormat` MP4 | WEBM | MOV (default MP4), `outputQuality` 20..99
//!   (default 95), `safety {checkContent, mode: none | fast | full}`, `ttl` (min 60 s):
//!   the seed pages "MiniMax 01 Director", "MiniMax 01 Live", "MiniMax Hailuo 02"
//!   (runware.ai model pages, API Options), and `runware-protocol.md` §2.1 (SDK
//!   schemas 2026-07). The result's `NSFWContent` flag: `runware-protocol.md` §3.3.
//! - MiniMax `fast_pretreatment` (Hailuo-2.3 and Hailuo-02 for text, plus
//!   Hailuo-2.3-Fast for a first frame) and `aigc_watermark` (all four modes, on the
//!   mainland schemas): `minimax-segmind-protocol.md` A3.1 (platform.minimax.io and
//!   platform.minimaxi.com video-generation pages, 2026-01 crawl) and the seed page
//!   "MiniMax Video Generation API Documentation".

use std::fmt;

use super::{Mode, Model, Provider};

/// The container a clip is delivered in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    #[default]
    Mp4,
    Webm,
    Mov,
}

impl OutputFormat {
    pub const ALL: [OutputFormat; 3] = [OutputFormat::Mp4, OutputFormat::Webm, OutputFormat::Mov];

    /// As the manifest writes it, and the file extension.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Mp4 => "mp4",
            OutputFormat::Webm => "webm",
            OutputFormat::Mov => "mov",
        }
    }

    /// As Runware spells it (`MP4`).
    pub fn wire(self) -> &'static str {
        match self {
            OutputFormat::Mp4 => "MP4",
            OutputFormat::Webm => "WEBM",
            OutputFormat::Mov => "MOV",
        }
    }

    /// Accepts `webm` and Runware's `WEBM`.
    pub fn parse(s: &str) -> Option<OutputFormat> {
        OutputFormat::ALL.into_iter().find(|f| f.name().eq_ignore_ascii_case(s.trim()))
    }

    /// The format a file extension names (the simulator's download paths).
    pub fn from_extension(ext: &str) -> Option<OutputFormat> {
        OutputFormat::parse(ext)
    }
}

impl fmt::Display for OutputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Runware's default `outputQuality`, sent when a shot sets none.
pub const DEFAULT_QUALITY: u8 = 95;
/// Runware's `outputQuality` range.
pub const QUALITY_RANGE: std::ops::RangeInclusive<i64> = 20..=99;

/// How thoroughly Runware checks a clip's content (`safety.mode`; `none` is
/// `checkContent: false`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SafetyMode {
    /// Key frames only.
    Fast,
    /// Every frame.
    Full,
}

impl SafetyMode {
    pub const ALL: [SafetyMode; 2] = [SafetyMode::Fast, SafetyMode::Full];

    pub fn name(self) -> &'static str {
        match self {
            SafetyMode::Fast => "fast",
            SafetyMode::Full => "full",
        }
    }

    pub fn parse(s: &str) -> Option<SafetyMode> {
        SafetyMode::ALL.into_iter().find(|m| m.name().eq_ignore_ascii_case(s.trim()))
    }
}

/// The containers a model delivers: Runware re-encodes into any of three;
/// MiniMax and Segmind deliver MP4 only.
pub fn output_formats(model: &Model) -> &'static [OutputFormat] {
    match model.provider {
        Provider::Runware => &OutputFormat::ALL,
        _ => &[OutputFormat::Mp4],
    }
}

/// `outputQuality` and `safety` are Runware's platform options.
pub fn takes_quality_and_safety(model: &Model) -> bool {
    model.provider == Provider::Runware
}

/// MiniMax's `fast_pretreatment`: Hailuo-2.3 and Hailuo-02 in text mode, and also
/// Hailuo-2.3-Fast with a first frame.
pub fn takes_fast_pretreatment(model: &Model, mode: Mode) -> bool {
    model.provider == Provider::Minimax
        && match mode {
            Mode::Text => matches!(model.id, "MiniMax-Hailuo-2.3" | "MiniMax-Hailuo-02"),
            Mode::FirstFrame => {
                matches!(model.id, "MiniMax-Hailuo-2.3" | "MiniMax-Hailuo-2.3-Fast" | "MiniMax-Hailuo-02")
            }
            _ => false,
        }
}

/// MiniMax's `aigc_watermark`, in every mode.
pub fn takes_watermark(model: &Model) -> bool {
    model.provider == Provider::Minimax
}

/// The `ttl` shotlist sends on every Runware submit: the result URL's lifetime. A
/// URL that expires before its clip is downloaded is a paid clip lost, so it covers
/// a long night (a job may wait 3 h for its render), a morning of failed downloads
/// and a rerun the next day: 72 hours.
pub const RUNWARE_TTL_SECS: u32 = 72 * 3600;

/// The options of one shot that shape its clip, as validated. Left out, each is the
/// provider's default (and stays out of the job key).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClipOptions {
    pub output_format: OutputFormat,
    /// `None`: Runware's default, 95.
    pub output_quality: Option<u8>,
    /// `None`: no content check.
    pub safety: Option<SafetyMode>,
    pub fast_pretreatment: bool,
    pub watermark: bool,
}

impl ClipOptions {
    /// The quality sent to Runware.
    pub fn quality(&self) -> u8 {
        self.output_quality.unwrap_or(DEFAULT_QUALITY)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::lookup;

    #[test]
    fn formats_parse_both_spellings_and_name_the_extension() {
        assert_eq!(OutputFormat::parse("WEBM"), Some(OutputFormat::Webm));
        assert_eq!(OutputFormat::parse("mov").map(OutputFormat::name), Some("mov"));
        assert_eq!(OutputFormat::parse("gif"), None);
        assert_eq!(SafetyMode::parse("strict"), None);
    }

    #[test]
    fn options_belong_to_their_provider_and_models() {
        let rw = lookup(Provider::Runware, "minimax:3@1", false).unwrap();
        let mm = lookup(Provider::Minimax, "MiniMax-Hailuo-02", false).unwrap();
        let t2v = lookup(Provider::Minimax, "T2V-01", false).unwrap();
        let fast = lookup(Provider::Minimax, "MiniMax-Hailuo-2.3-Fast", true).unwrap();
        assert_eq!(output_formats(rw).len(), 3);
        assert_eq!(output_formats(mm), &[OutputFormat::Mp4]);
        assert!(takes_quality_and_safety(rw) && !takes_quality_and_safety(mm));
        assert!(takes_fast_pretreatment(mm, Mode::Text));
        assert!(!takes_fast_pretreatment(mm, Mode::FirstLast));
        assert!(!takes_fast_pretreatment(t2v, Mode::Text));
        assert!(takes_fast_pretreatment(fast, Mode::FirstFrame));
        assert!(takes_watermark(t2v) && !takes_watermark(rw));
    }
}
