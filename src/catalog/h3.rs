//! MiniMax H3 (Hailuo 3.0) in the catalog: the models on MiniMax's v2 API and on
//! Runware, what they accept (durations, resolutions, `ratio`, references and their
//! media limits, prompt length) and their per-second prices.
//!
//! Several facts are third-party. Each group below names its [`Source`] (page and
//! date, and whether it is the provider's own word), so a corrected fact is one edit.
//! Evidence: `shared/reference/field-notes-2026-12.md` §1.2.

use super::{Combo, Mode, Model, Provider, Resolution, model};

/// Which MiniMax API serves a model: v1 (`/v1/video_generation`) or v2
/// (`/v2/video_generation`, H3 only). Journaled with each accepted MiniMax task, so a
/// resumed run polls it where it lives.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    #[default]
    V1,
    V2,
}

impl Api {
    pub fn is_v1(&self) -> bool {
        *self == Api::V1
    }
}

/// Where a fact was read.
#[derive(Debug, PartialEq, Eq)]
pub struct Source {
    pub page: &'static str,
    pub date: &'static str,
    /// Stated only by third-party material (other projects' notes, wrappers): to verify.
    pub third_party: bool,
}

/// MiniMax's v2 OpenAPI ("MiniMax video generation V2 (Hailuo-03) API").
pub static V2_OPENAPI: Source = Source {
    page: "https://platform.minimax.io/docs/api-reference/video-generation-v2-create.md (stored copy)",
    date: "2026-09",
    third_party: false,
};
/// The v2 query page (the 7-day window).
pub static V2_QUERY: Source = Source {
    page: "https://platform.minimaxi.com/docs/api-reference/video-generation-v2-query.md",
    date: "2026-09",
    third_party: false,
};
/// H3 pay-as-you-go prices, as quoted by research notes (no first-party copy stored).
pub static H3_PRICES: Source = Source {
    page: "Nexa adapter research note 2026-08-07; H3 research note 2026-09-27 (field-notes §1.2 \"Pricing\")",
    date: "2026-09",
    third_party: true,
};
/// Runware's H3 page as cited by a research note (the page itself was not stored).
pub static RUNWARE_H3_NOTE: Source = Source {
    page: "research note 2026-08-30 citing https://runware.ai/docs/models/minimax-h3",
    date: "2026-08",
    third_party: true,
};
/// Runware's SDK model registry: the AIR ids and `768p`/`1440p` / `480p`/`768p`.
pub static RUNWARE_REGISTRY: Source = Source {
    page: "runware-sdk runware/types/task_map.py (schemas 20261012) via runware-protocol.md §2.3",
    date: "2026-10",
    third_party: false,
};
/// `minimax:h3@fast` at 480p, 5/10/15 s, $0.046/s: an app catalogue.
pub static RUNWARE_FAST_NOTE: Source = Source {
    page: "third-party app catalogue (field-notes §1.2 \"H3 on Runware\")",
    date: "2026-09",
    third_party: true,
};

/// `ratio` of an H3 clip. Text-to-video needs one (not `adaptive`); with frames the
/// clip follows the first frame (`adaptive`). Source: [`V2_OPENAPI`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Ratio {
    #[serde(rename = "adaptive")]
    Adaptive,
    #[serde(rename = "21:9")]
    R21x9,
    #[serde(rename = "16:9")]
    R16x9,
    #[serde(rename = "4:3")]
    R4x3,
    #[serde(rename = "1:1")]
    R1x1,
    #[serde(rename = "3:4")]
    R3x4,
    #[serde(rename = "9:16")]
    R9x16,
}

impl Ratio {
    pub const ALL: [Ratio; 7] =
        [Ratio::Adaptive, Ratio::R21x9, Ratio::R16x9, Ratio::R4x3, Ratio::R1x1, Ratio::R3x4, Ratio::R9x16];

    pub fn name(self) -> &'static str {
        match self {
            Ratio::Adaptive => "adaptive",
            Ratio::R21x9 => "21:9",
            Ratio::R16x9 => "16:9",
            Ratio::R4x3 => "4:3",
            Ratio::R1x1 => "1:1",
            Ratio::R3x4 => "3:4",
            Ratio::R9x16 => "9:16",
        }
    }

    pub fn parse(s: &str) -> Option<Ratio> {
        let s = s.trim();
        Ratio::ALL.into_iter().find(|r| r.name().eq_ignore_ascii_case(s))
    }

    /// Width × height Runware takes for H3 at a ratio and tier: it accepts only these
    /// twelve pairs (a third-party model definition; [`RUNWARE_H3_NOTE`] era). `None`
    /// where no pair is known (480p, adaptive).
    pub fn runware_size(self, resolution: Resolution) -> Option<(u32, u32)> {
        use Ratio::*;
        Some(match (resolution, self) {
            (Resolution::P768, R16x9) => (1344, 768),
            (Resolution::P768, R4x3) => (1024, 768),
            (Resolution::P768, R1x1) => (768, 768),
            (Resolution::P768, R3x4) => (768, 1024),
            (Resolution::P768, R9x16) => (768, 1344),
            (Resolution::P768, R21x9) => (1536, 672),
            (Resolution::P1440, R16x9) => (2560, 1440),
            (Resolution::P1440, R4x3) => (1920, 1440),
            (Resolution::P1440, R1x1) => (1440, 1440),
            (Resolution::P1440, R3x4) => (1440, 1920),
            (Resolution::P1440, R9x16) => (1440, 2560),
            (Resolution::P1440, R21x9) => (2944, 1248),
            _ => return None,
        })
    }
}

impl std::fmt::Display for Ratio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// How many references of each kind a model takes (0: none of that kind).
#[derive(Debug, PartialEq, Eq)]
pub struct ReferenceLimits {
    pub images: u32,
    pub videos: u32,
    pub audio: u32,
    /// All files of a request together (frames and references).
    pub files: u32,
}

/// One per-second list price.
#[derive(Debug)]
pub struct PerSecond {
    pub resolution: Resolution,
    pub usd: f64,
}

/// What an H3 model accepts beyond the common fields.
#[derive(Debug)]
pub struct H3Spec {
    /// Longest prompt, in Unicode scalars (v2: "≤7000 chars").
    pub prompt_max: usize,
    pub references: ReferenceLimits,
    pub per_second: &'static [PerSecond],
    pub price_source: Option<&'static Source>,
    /// Reference images beyond `free_images` cost `usd_per_extra_image` each.
    pub free_images: u32,
    pub usd_per_extra_image: f64,
    /// Where the modes, durations and resolutions come from.
    pub source: &'static Source,
}

// Media limits of the v2 API (source: V2_OPENAPI, "Media limits").
/// Reference images: JPG/PNG/WEBP/HEIC.
pub const IMAGE_MAX_BYTES: u64 = 30 * 1024 * 1024;
pub const IMAGE_SIDES: std::ops::RangeInclusive<u64> = 256..=5760;
/// Aspect (width / height), as tenths: 0.4 to 2.5.
pub const IMAGE_ASPECT_TENTHS: std::ops::RangeInclusive<u64> = 4..=25;
/// Reference videos: MP4/MOV (H.264/H.265), 2–15 s each, 15 s together.
pub const VIDEO_MAX_BYTES: u64 = 50 * 1024 * 1024;
pub const VIDEO_SECS: std::ops::RangeInclusive<f64> = 2.0..=15.0;
pub const VIDEO_TOTAL_SECS: f64 = 15.0;
/// Reference audio: WAV/MP3, 2–15 s; never the only reference.
pub const AUDIO_MAX_BYTES: u64 = 15 * 1024 * 1024;
pub const AUDIO_SECS: std::ops::RangeInclusive<f64> = 2.0..=15.0;
/// A v2 request body: at most 64 MB (inlined files included).
pub const BODY_MAX_BYTES: u64 = 64 * 1024 * 1024;
/// The v2 prompt limit.
pub const V2_PROMPT_MAX: usize = 7000;
/// How long MiniMax keeps a v2 task queryable (source: V2_QUERY).
pub const QUERY_WINDOW_SECS: u64 = 7 * 24 * 3600;

const FOUR_TO_FIFTEEN: &[u32] = &[4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const FIVE_TO_FIFTEEN: &[u32] = &[5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

const NO_REFERENCES: ReferenceLimits = ReferenceLimits { images: 0, videos: 0, audio: 0, files: 2 };

static MINIMAX_H3_SPEC: H3Spec = H3Spec {
    prompt_max: V2_PROMPT_MAX,
    references: ReferenceLimits { images: 9, videos: 3, audio: 3, files: 12 },
    per_second: &[
        PerSecond { resolution: Resolution::P768, usd: 0.08 },
        PerSecond { resolution: Resolution::P1440, usd: 0.13 },
    ],
    price_source: Some(&H3_PRICES),
    free_images: 5,
    usd_per_extra_image: 0.04,
    source: &V2_OPENAPI,
};
/// "H3-Max supports only T2V and first/last-frame I2V, with no references".
static MINIMAX_H3_MAX_SPEC: H3Spec = H3Spec {
    prompt_max: V2_PROMPT_MAX,
    references: NO_REFERENCES,
    per_second: &[
        PerSecond { resolution: Resolution::P480, usd: 0.05 },
        PerSecond { resolution: Resolution::P768, usd: 0.08 },
    ],
    price_source: Some(&H3_PRICES),
    free_images: 0,
    usd_per_extra_image: 0.0,
    source: &V2_OPENAPI,
};
/// Runware `minimax:h3@0`: `inputs.referenceImages` up to 9. Its motion-reference
/// videos and audio are not wired: their field names are not in any stored source.
/// The prompt limit is MiniMax's (Runware passes the prompt on) [inference].
static RUNWARE_H3_SPEC: H3Spec = H3Spec {
    prompt_max: V2_PROMPT_MAX,
    references: ReferenceLimits { images: 9, videos: 0, audio: 0, files: 11 },
    per_second: &[
        PerSecond { resolution: Resolution::P768, usd: 0.08 },
        PerSecond { resolution: Resolution::P1440, usd: 0.13 },
    ],
    price_source: Some(&RUNWARE_H3_NOTE),
    free_images: 0,
    usd_per_extra_image: 0.0,
    source: &RUNWARE_H3_NOTE,
};
static RUNWARE_H3_FAST_SPEC: H3Spec = H3Spec {
    prompt_max: V2_PROMPT_MAX,
    references: NO_REFERENCES,
    per_second: &[PerSecond { resolution: Resolution::P480, usd: 0.046 }],
    price_source: Some(&RUNWARE_FAST_NOTE),
    free_images: 0,
    usd_per_extra_image: 0.0,
    source: &RUNWARE_FAST_NOTE,
};
/// `minimax:h3@max` and `@max-turbo`: resolutions from the SDK registry, durations
/// as on MiniMax; no published Runware price (unknown, never 0).
static RUNWARE_H3_MAX_SPEC: H3Spec = H3Spec {
    prompt_max: V2_PROMPT_MAX,
    references: NO_REFERENCES,
    per_second: &[],
    price_source: None,
    free_images: 0,
    usd_per_extra_image: 0.0,
    source: &RUNWARE_REGISTRY,
};

use Mode::{FirstFrame, FirstLast, Reference, Text};
use Provider::{Minimax, Runware};
use Resolution::{P480, P768, P1440};

const H3_MODES: &[Mode] = &[Text, FirstFrame, FirstLast, Reference];
const H3_MAX_MODES: &[Mode] = &[Text, FirstFrame, FirstLast];

/// An H3 entry: v2 on MiniMax, a prompt always (v2: "exactly one non-empty text"),
/// no camera brackets (H3 prompts are prose), 24 fps [inference: not published].
#[allow(clippy::too_many_arguments)] // a const table builder: each argument is one column
const fn h3_model(
    provider: Provider,
    id: &'static str,
    name: &'static str,
    modes: &'static [Mode],
    combos: &'static [Combo],
    default_resolution: Resolution,
    default_duration: u32,
    spec: &'static H3Spec,
) -> Model {
    Model {
        default_duration,
        fps: 24,
        prompt_required: true,
        api: if matches!(provider, Minimax) { Api::V2 } else { Api::V1 },
        h3: Some(spec),
        ..model(provider, id, name, modes, combos, default_resolution)
    }
}

pub const MINIMAX_H3: Model = h3_model(
    Minimax,
    "MiniMax-H3",
    "MiniMax H3 (Hailuo 3.0)",
    H3_MODES,
    &[
        Combo { resolution: P768, durations: FOUR_TO_FIFTEEN, only_modes: None },
        Combo { resolution: P1440, durations: FOUR_TO_FIFTEEN, only_modes: None },
    ],
    P768,
    6,
    &MINIMAX_H3_SPEC,
);
pub const MINIMAX_H3_MAX: Model = h3_model(
    Minimax,
    "MiniMax-H3-Max",
    "MiniMax H3-Max",
    H3_MAX_MODES,
    &[
        Combo { resolution: P480, durations: FIVE_TO_FIFTEEN, only_modes: None },
        Combo { resolution: P768, durations: FIVE_TO_FIFTEEN, only_modes: None },
    ],
    P768,
    6,
    &MINIMAX_H3_MAX_SPEC,
);
pub const RUNWARE_H3: Model = h3_model(
    Runware,
    "minimax:h3@0",
    "MiniMax H3 (Hailuo 3.0)",
    H3_MODES,
    &[
        Combo { resolution: P768, durations: FIVE_TO_FIFTEEN, only_modes: None },
        Combo { resolution: P1440, durations: FIVE_TO_FIFTEEN, only_modes: None },
    ],
    P768,
    6,
    &RUNWARE_H3_SPEC,
);
pub const RUNWARE_H3_FAST: Model = h3_model(
    Runware,
    "minimax:h3@fast",
    "MiniMax H3 Fast",
    &[Text, FirstFrame],
    &[Combo { resolution: P480, durations: &[5, 10, 15], only_modes: None }],
    P480,
    5,
    &RUNWARE_H3_FAST_SPEC,
);
pub const RUNWARE_H3_MAX: Model = h3_model(
    Runware,
    "minimax:h3@max",
    "MiniMax H3-Max",
    H3_MAX_MODES,
    &[
        Combo { resolution: P480, durations: FIVE_TO_FIFTEEN, only_modes: None },
        Combo { resolution: P768, durations: FIVE_TO_FIFTEEN, only_modes: None },
    ],
    P768,
    6,
    &RUNWARE_H3_MAX_SPEC,
);
pub const RUNWARE_H3_MAX_TURBO: Model = h3_model(
    Runware,
    "minimax:h3@max-turbo",
    "MiniMax H3-Max Turbo",
    H3_MAX_MODES,
    &[
        Combo { resolution: P480, durations: FIVE_TO_FIFTEEN, only_modes: None },
        Combo { resolution: P768, durations: FIVE_TO_FIFTEEN, only_modes: None },
    ],
    P768,
    6,
    &RUNWARE_H3_MAX_SPEC,
);

/// A resolution as a message names it for a model: MiniMax calls 1440p `2K`.
pub fn resolution_label(model: &Model, resolution: Resolution) -> Label {
    Label { resolution, two_k: resolution == Resolution::P1440 && model.provider == Provider::Minimax }
}

/// A resolution with the name its provider gives it.
#[derive(Clone, Copy, Debug)]
pub struct Label {
    pub resolution: Resolution,
    two_k: bool,
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.two_k { f.write_str("2K (1440p)") } else { f.write_str(self.resolution.name()) }
    }
}

/// The list price of one clip of an H3 model: seconds × the per-second price.
pub fn clip_price(model: &Model, resolution: Resolution, duration: u32) -> Option<f64> {
    let rate = model.h3?.per_second.iter().find(|p| p.resolution == resolution)?.usd;
    Some(round4(rate * f64::from(duration)))
}

/// What the provider's `usage` of a finished task costs at list price: output
/// seconds × the per-second price, reference images past the free ones, and
/// reference video billed per input second at the same rate [inference: the rate
/// for input video is not published]. `None` without a published price.
pub fn usage_cost(model: &Model, resolution: Resolution, usage: &Usage) -> Option<f64> {
    let spec = model.h3?;
    let rate = spec.per_second.iter().find(|p| p.resolution == resolution)?.usd;
    let images = usage.input_image_count.saturating_sub(spec.free_images);
    let usd = rate * (usage.output_seconds + usage.input_video_seconds) + f64::from(images) * spec.usd_per_extra_image;
    Some(round4(usd))
}

/// The extra a job's reference images cost beyond the clip's seconds.
pub fn reference_surcharge(model: &Model, images: usize) -> f64 {
    model.h3.map_or(0.0, |s| f64::from((images as u32).saturating_sub(s.free_images)) * s.usd_per_extra_image)
}

/// The usage a v2 task reports (`usage` of the query answer), in the units priced.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Usage {
    pub output_seconds: f64,
    pub input_video_seconds: f64,
    pub input_image_count: u32,
}

fn round4(v: f64) -> f64 {
    (v * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::lookup;

    #[test]
    fn aliases_reach_h3_on_both_providers() {
        assert_eq!(lookup(Minimax, "h3", false).unwrap().id, "MiniMax-H3");
        assert_eq!(lookup(Minimax, "h3-max", true).unwrap().id, "MiniMax-H3-Max");
        assert_eq!(lookup(Runware, "h3", false).unwrap().id, "minimax:h3@0");
        assert_eq!(lookup(Runware, "H3-Max", false).unwrap().id, "minimax:h3@max");
        assert_eq!(lookup(Minimax, "MiniMax-H3", false).unwrap().api, Api::V2);
        assert_eq!(lookup(Minimax, "hailuo-02", false).unwrap().api, Api::V1);
    }

    #[test]
    fn h3_offers_4_to_15_s_at_768p_and_2k_and_h3_max_5_to_15_at_480p_and_768p() {
        let h3 = lookup(Minimax, "h3", false).unwrap();
        assert_eq!(h3.durations(P1440, Text).first(), Some(&4));
        assert_eq!(h3.durations(P1440, Text).last(), Some(&15));
        assert!(h3.durations(P480, Text).is_empty());
        let max = lookup(Minimax, "h3-max", false).unwrap();
        assert_eq!(max.durations(P480, FirstLast).first(), Some(&5));
        assert!(max.durations(P1440, Text).is_empty());
        assert!(!max.supports(Reference));
        assert_eq!(Resolution::parse("2K"), Some(P1440));
    }

    #[test]
    fn prices_follow_seconds_and_usage() {
        let h3 = lookup(Minimax, "h3", false).unwrap();
        assert_eq!(h3.price(P768, 10), Some(0.8));
        assert_eq!(h3.price(P1440, 4), Some(0.52));
        let usage = Usage { output_seconds: 6.0, input_video_seconds: 0.0, input_image_count: 7 };
        assert_eq!(usage_cost(h3, P768, &usage), Some(0.56));
        assert_eq!(lookup(Runware, "h3-max", false).unwrap().price(P768, 6), None);
    }

    #[test]
    fn runware_sizes_exist_for_every_ratio_but_adaptive() {
        for r in Ratio::ALL {
            assert_eq!(r.runware_size(P768).is_some(), r != Ratio::Adaptive);
        }
        assert_eq!(Ratio::parse("9:16").unwrap().runware_size(P1440), Some((1440, 2560)));
    }
}
