//! The model catalog: every MiniMax video model on every provider, with what each
//! accepts (modes, resolution × duration pairs, result limits) and what it costs
//! where a price is published. Validation and the cost estimate read only this.
//!
//! Sources: `shared/reference/runware-protocol.md` §2.3, `minimax-segmind-protocol.md`
//! A3.2, A3.3 and B9, and the seed pages (stored copies of the providers' pages, read
//! 2026-12). A price not published there is `None`: unknown is shown as unknown, never
//! as 0. The clip options and which model takes them: `output`; MiniMax's video
//! templates per host: `templates` (each with its pages and dates).

pub mod output;
pub mod templates;

use std::fmt;

pub mod h3;

pub use h3::{Api, Ratio};

/// A provider that hosts MiniMax video models.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Runware,
    Minimax,
    Segmind,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Runware, Provider::Minimax, Provider::Segmind];

    pub fn name(self) -> &'static str {
        match self {
            Provider::Runware => "runware",
            Provider::Minimax => "minimax",
            Provider::Segmind => "segmind",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.name() == s)
    }

    /// Runware takes `numberResults` in one task; MiniMax and Segmind make one video
    /// per task, so a shot with several results becomes several jobs.
    pub fn batches_results(self) -> bool {
        self == Provider::Runware
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a shot gives the model to start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// Prompt only.
    Text,
    /// A first frame (image to video).
    FirstFrame,
    /// A first and a last frame.
    FirstLast,
    /// A subject (face) reference.
    Subject,
    /// MiniMax H3 references: images, videos and audio the clip draws on (never with frames).
    Reference,
    /// A MiniMax video template: its own endpoint, inputs instead of a model and prompt.
    Template,
}

impl Mode {
    pub fn describe(self) -> &'static str {
        match self {
            Mode::Text => "text only",
            Mode::FirstFrame => "first frame",
            Mode::FirstLast => "first and last frame",
            Mode::Subject => "subject reference",
            Mode::Reference => "references",
            Mode::Template => "video template",
        }
    }
}

/// Output resolution, named as the manifest names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Resolution {
    P512,
    P720,
    P768,
    P1080,
    /// MiniMax H3-Max's lowest tier.
    P480,
    /// MiniMax H3's top tier: MiniMax calls it `2K`, Runware `1440p`.
    P1440,
}

impl Resolution {
    pub const ALL: [Resolution; 6] =
        [Resolution::P512, Resolution::P720, Resolution::P768, Resolution::P1080, Resolution::P480, Resolution::P1440];

    pub fn name(self) -> &'static str {
        match self {
            Resolution::P512 => "512p",
            Resolution::P720 => "720p",
            Resolution::P768 => "768p",
            Resolution::P1080 => "1080p",
            Resolution::P480 => "480p",
            Resolution::P1440 => "1440p",
        }
    }

    /// Accepts `768p` and MiniMax's `768P`; `2k` (MiniMax's name) is `1440p`.
    pub fn parse(s: &str) -> Option<Resolution> {
        if s.eq_ignore_ascii_case("2k") {
            return Some(Resolution::P1440);
        }
        Resolution::ALL.into_iter().find(|r| r.name().eq_ignore_ascii_case(s))
    }

    /// Width × height as Runware wants them. Runware serves MiniMax's 720P and 768P
    /// both as 1366×768 (its model pages allow no other 16:9 size below 1080p).
    pub fn runware_size(self) -> (u32, u32) {
        match self {
            Resolution::P512 => (910, 512),
            Resolution::P720 | Resolution::P768 => (1366, 768),
            Resolution::P1080 => (1920, 1080),
            Resolution::P480 => (854, 480),
            Resolution::P1440 => (2560, 1440),
        }
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for Resolution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One allowed resolution with its durations, optionally only in some modes
/// (MiniMax-Hailuo-02 offers 512P for a first frame alone).
#[derive(Debug)]
pub struct Combo {
    pub resolution: Resolution,
    pub durations: &'static [u32],
    pub only_modes: Option<&'static [Mode]>,
}

/// Where a published price was read: the page (or reference file) and its date,
/// so that a changed price is one edit and the report can say how old a price is.
#[derive(Debug, PartialEq, Eq)]
pub struct Citation {
    pub page: &'static str,
    pub date: &'static str,
}

/// A published price for one clip of a resolution and duration.
#[derive(Debug)]
pub struct Price {
    pub resolution: Resolution,
    pub duration: u32,
    pub usd: f64,
    pub source: &'static Citation,
}

/// One model on one provider.
#[derive(Debug)]
pub struct Model {
    pub provider: Provider,
    /// The provider's own id, sent on the wire.
    pub id: &'static str,
    pub name: &'static str,
    pub modes: &'static [Mode],
    pub combos: &'static [Combo],
    pub default_resolution: Resolution,
    pub default_duration: u32,
    pub fps: u32,
    pub max_results: u32,
    /// Whether the model understands bracketed camera commands.
    pub camera: bool,
    /// Whether a prompt is required even when images are given.
    pub prompt_required: bool,
    pub prices: &'static [Price],
    /// The resolution job keys name for this model, when it differs from the one the
    /// catalog names (Runware's 01 models were catalogued as 720p before the catalog
    /// called their 1366×768 768p; their keys keep `720p` so journals written before
    /// still resume instead of rendering, and paying, again).
    pub key_resolution: Option<Resolution>,
    /// A typical render of a 6 s clip, seconds (Segmind's pages: ~154 s for Director,
    /// ~173 s for Hailuo 02, ~178 s for Video-01; Fast variants are quicker). The
    /// first poll waits for part of it: no earlier poll can find the video ready.
    pub typical_render_secs: u32,
    /// Which MiniMax API the model is served by (v1 for all but H3).
    pub api: Api,
    /// What an H3 model accepts beyond the common fields (ratio, references,
    /// prompt length); `None` for every other model.
    pub h3: Option<&'static h3::H3Spec>,
}

impl Model {
    pub fn supports(&self, mode: Mode) -> bool {
        self.modes.contains(&mode)
    }

    /// The durations allowed for a resolution in a mode; empty when the resolution
    /// itself is not offered in that mode.
    pub fn durations(&self, resolution: Resolution, mode: Mode) -> &'static [u32] {
        self.combos
            .iter()
            .find(|c| c.resolution == resolution && c.only_modes.is_none_or(|m| m.contains(&mode)))
            .map_or(&[], |c| c.durations)
    }

    pub fn resolutions(&self, mode: Mode) -> Vec<Resolution> {
        self.combos.iter().filter(|c| c.only_modes.is_none_or(|m| m.contains(&mode))).map(|c| c.resolution).collect()
    }

    /// When to poll first before any render of the model was seen: a quarter of
    /// a typical render (renders vary widely), longer clips taking longer.
    pub fn first_poll_secs(&self, duration: u32) -> f64 {
        self.typical_render_secs_for(duration) * 0.25
    }

    /// A typical render of a clip this long, in seconds: longer clips take longer.
    pub fn typical_render_secs_for(&self, duration: u32) -> f64 {
        f64::from(self.typical_render_secs) * (f64::from(duration) / 6.0).max(1.0)
    }

    /// A resolution as this model names it: Runware renders 720p and 768p both as
    /// 1366×768, so on a Runware model that has no 720p a `720p` is its 768p.
    pub fn read_resolution(&self, r: Resolution) -> Resolution {
        let offered = self.combos.iter().any(|c| c.resolution == r);
        if self.provider == Provider::Runware && r == Resolution::P720 && !offered { Resolution::P768 } else { r }
    }

    /// The list price of one clip: the highest published for the pair (two sources
    /// may differ; a budget must never be under-estimated), or `None` when none is.
    pub fn price(&self, resolution: Resolution, duration: u32) -> Option<f64> {
        self.price_row(resolution, duration).map(|p| p.usd).or_else(|| h3::clip_price(self, resolution, duration))
    }

    /// The price row behind [`Model::price`], with its source.
    pub fn price_row(&self, resolution: Resolution, duration: u32) -> Option<&Price> {
        self.prices
            .iter()
            .filter(|p| p.resolution == resolution && p.duration == duration)
            .max_by(|a, b| a.usd.total_cmp(&b.usd))
    }
}

use Mode::{FirstFrame, FirstLast, Subject, Text};
use Resolution::{P512, P720, P768, P1080};

const SIX: &[u32] = &[6];
const SIX_TEN: &[u32] = &[6, 10];

/// 01-series models: 720P, 6 s only.
const ONLY_720_6: &[Combo] = &[Combo { resolution: P720, durations: SIX, only_modes: None }];
/// The 01 models on Runware render 1366×768, so the catalog calls that 768p (plan,
/// report and status then agree); a manifest's `720p` is read as the same size.
const RUNWARE_01: &[Combo] = &[Combo { resolution: P768, durations: SIX, only_modes: None }];
/// Hailuo 2.3 and Hailuo 02 without 512P: 768P for 6 or 10 s, 1080P for 6 s.
const HAILUO: &[Combo] = &[
    Combo { resolution: P768, durations: SIX_TEN, only_modes: None },
    Combo { resolution: P1080, durations: SIX, only_modes: None },
];
/// MiniMax-Hailuo-02 on MiniMax: 512P exists for image-to-video only.
const HAILUO_02_NATIVE: &[Combo] = &[
    Combo { resolution: P512, durations: SIX_TEN, only_modes: Some(&[FirstFrame]) },
    Combo { resolution: P768, durations: SIX_TEN, only_modes: None },
    Combo { resolution: P1080, durations: SIX, only_modes: None },
];

const fn p(resolution: Resolution, duration: u32, usd: f64, source: &'static Citation) -> Price {
    Price { resolution, duration, usd, source }
}

// The price sources. A changed price is one edit of a row below (and of its date here).
/// MiniMax pay-as-you-go (platform.minimax.io pricing page, mirrored early 2026).
pub static MINIMAX_PAYG: Citation = Citation {
    page: "MiniMax pay-as-you-go pricing (platform.minimax.io; reference/field-notes-2026-12.md §1.2)",
    date: "2026-01",
};
/// Runware's model pages as quoted in the protocol notes.
pub static RUNWARE_DOCS: Citation = Citation {
    page: "runware.ai/docs model pages (reference/runware-protocol.md §2.3 \"Prices shown on the docs\")",
    date: "2026",
};
/// Runware's 01 Director / 01 Live pages: "$0.0560/s for 720p" (6 s: $0.336).
pub static RUNWARE_01_PER_SECOND: Citation = Citation {
    page: "runware.ai/docs 01 Director and 01 Live pages, $0.0560/s (reference/runware-protocol.md §2.3)",
    date: "2026",
};
/// The `cost` in the example responses of Runware's model pages (reference/seeds/).
pub static RUNWARE_EXAMPLES: Citation =
    Citation { page: "runware.ai/docs model pages' example responses (reference/seeds/000, 001, 003)", date: "2026" };
/// Runware's Hailuo 2.3 Fast page.
pub static RUNWARE_23_FAST: Citation = Citation {
    page: "https://runware.ai/docs/models/minimax-hailuo-2-3-fast.md (reference/field-notes-2026-12.md §1.2)",
    date: "2026-12",
};
/// Runware's sample exchange of Hailuo 02 at 1366×768, 10 s (`"cost": 0.56`).
pub static RUNWARE_SAMPLE: Citation = Citation {
    page: "Runware getResponse sample, Hailuo 02 768p 10 s (reference/runware-protocol.md §8.1, §8.5)",
    date: "2026",
};
/// Segmind's model pages: the upper end of each published range.
pub static SEGMIND_PAGES: Citation = Citation {
    page: "Segmind model pages, upper end of the range (reference/minimax-segmind-protocol.md B9)",
    date: "2026-09",
};

/// Builds a catalog entry with the defaults most entries share (25 fps, one result
/// at a time, no price, 6 s).
const fn model(
    provider: Provider,
    id: &'static str,
    name: &'static str,
    modes: &'static [Mode],
    combos: &'static [Combo],
    default_resolution: Resolution,
) -> Model {
    Model {
        provider,
        id,
        name,
        modes,
        combos,
        default_resolution,
        default_duration: 6,
        fps: 25,
        max_results: 4,
        camera: false,
        prompt_required: false,
        prices: &[],
        key_resolution: None,
        typical_render_secs: if is_fast(id) { 90 } else { 170 },
        api: Api::V1,
        h3: None,
    }
}

use Provider::{Minimax, Runware, Segmind};

/// Whether a model id names a Fast variant (quicker renders).
const fn is_fast(id: &str) -> bool {
    // `minimax:4@2` is Hailuo 2.3 Fast on Runware; the others say "fast" in the id.
    let b = id.as_bytes();
    let mut i = 0;
    while i + 4 <= b.len() {
        if (b[i] == b'f' || b[i] == b'F') && b[i + 1] == b'a' && b[i + 2] == b's' && b[i + 3] == b't' {
            return true;
        }
        i += 1;
    }
    b.len() == 11 && b[8] == b'4' && b[10] == b'2'
}

/// Every model. Each price row names its source (above). Segmind prices: the upper end
/// of each published range, so that a budget is never under-estimated. Where two
/// sources differ (Runware 01: $0.28 in example answers, $0.056/s on the pages) both
/// rows stand and the list price is the higher. MiniMax publishes no price for the
/// 01 models and S2V-01 in the reference: unknown (a manifest's `prices:` can say).
pub static MODELS: &[Model] = &[
    Model {
        key_resolution: Some(P720),
        prices: &[p(P768, 6, 0.28, &RUNWARE_DOCS)],
        ..model(Runware, "minimax:1@1", "MiniMax 01 (Video-01)", &[Text, FirstFrame], RUNWARE_01, P768)
    },
    Model {
        key_resolution: Some(P720),
        camera: true,
        prices: &[p(P768, 6, 0.28, &RUNWARE_EXAMPLES), p(P768, 6, 0.336, &RUNWARE_01_PER_SECOND)],
        ..model(Runware, "minimax:2@1", "MiniMax 01 Director", &[Text, FirstFrame], RUNWARE_01, P768)
    },
    Model {
        key_resolution: Some(P720),
        prices: &[p(P768, 6, 0.28, &RUNWARE_EXAMPLES), p(P768, 6, 0.336, &RUNWARE_01_PER_SECOND)],
        ..model(Runware, "minimax:2@3", "MiniMax 01 Live", &[FirstFrame], RUNWARE_01, P768)
    },
    Model {
        camera: true,
        max_results: 20,
        prices: &[p(P768, 10, 0.56, &RUNWARE_SAMPLE), p(P1080, 6, 0.49, &RUNWARE_EXAMPLES)],
        ..model(Runware, "minimax:3@1", "MiniMax Hailuo 02", &[Text, FirstFrame, FirstLast], HAILUO, P768)
    },
    Model {
        camera: true,
        prices: &[p(P768, 6, 0.28, &RUNWARE_DOCS), p(P768, 10, 0.56, &RUNWARE_DOCS), p(P1080, 6, 0.49, &RUNWARE_DOCS)],
        ..model(Runware, "minimax:4@1", "MiniMax Hailuo 2.3", &[Text, FirstFrame], HAILUO, P768)
    },
    Model {
        camera: true,
        prices: &[p(P768, 6, 0.19, &RUNWARE_23_FAST), p(P1080, 6, 0.33, &RUNWARE_23_FAST)],
        ..model(Runware, "minimax:4@2", "MiniMax Hailuo 2.3 Fast", &[FirstFrame], HAILUO, P768)
    },
    Model {
        camera: true,
        prices: &[p(P768, 6, 0.28, &MINIMAX_PAYG), p(P768, 10, 0.56, &MINIMAX_PAYG), p(P1080, 6, 0.49, &MINIMAX_PAYG)],
        ..model(Minimax, "MiniMax-Hailuo-2.3", "MiniMax Hailuo 2.3", &[Text, FirstFrame], HAILUO, P768)
    },
    Model {
        camera: true,
        prices: &[p(P768, 6, 0.19, &MINIMAX_PAYG), p(P768, 10, 0.32, &MINIMAX_PAYG), p(P1080, 6, 0.33, &MINIMAX_PAYG)],
        ..model(Minimax, "MiniMax-Hailuo-2.3-Fast", "MiniMax Hailuo 2.3 Fast", &[FirstFrame], HAILUO, P768)
    },
    Model {
        camera: true,
        prices: &[
            p(P512, 6, 0.10, &MINIMAX_PAYG),
            p(P512, 10, 0.15, &MINIMAX_PAYG),
            p(P768, 6, 0.28, &MINIMAX_PAYG),
            p(P768, 10, 0.56, &MINIMAX_PAYG),
            p(P1080, 6, 0.49, &MINIMAX_PAYG),
        ],
        ..model(
            Minimax,
            "MiniMax-Hailuo-02",
            "MiniMax Hailuo 02",
            &[Text, FirstFrame, FirstLast],
            HAILUO_02_NATIVE,
            P768,
        )
    },
    Model { camera: true, ..model(Minimax, "T2V-01-Director", "MiniMax T2V-01 Director", &[Text], ONLY_720_6, P720) },
    Model {
        camera: true,
        ..model(Minimax, "I2V-01-Director", "MiniMax I2V-01 Director", &[FirstFrame], ONLY_720_6, P720)
    },
    model(Minimax, "I2V-01-live", "MiniMax I2V-01 Live", &[FirstFrame], ONLY_720_6, P720),
    model(Minimax, "T2V-01", "MiniMax T2V-01", &[Text], ONLY_720_6, P720),
    model(Minimax, "I2V-01", "MiniMax I2V-01", &[FirstFrame], ONLY_720_6, P720),
    model(Minimax, "S2V-01", "MiniMax S2V-01 (subject reference)", &[Subject], ONLY_720_6, P720),
    Model {
        prompt_required: true,
        prices: &[p(P720, 6, 0.625, &SEGMIND_PAGES)],
        ..model(Segmind, "minimax-ai", "MiniMax Video-01", &[Text, FirstFrame, Subject], ONLY_720_6, P720)
    },
    Model {
        camera: true,
        prompt_required: true,
        prices: &[p(P720, 6, 0.625, &SEGMIND_PAGES)],
        ..model(Segmind, "minimax-ai-director", "MiniMax Video-01 Director", &[FirstFrame], ONLY_720_6, P720)
    },
    Model {
        camera: true,
        prompt_required: true,
        ..model(
            Segmind,
            "minimax-hailuo-2",
            "MiniMax Hailuo 02",
            &[Text, FirstFrame, FirstLast],
            &[
                Combo { resolution: P768, durations: SIX, only_modes: None },
                Combo { resolution: P1080, durations: SIX, only_modes: None },
            ],
            P768,
        )
    },
    Model {
        camera: true,
        prompt_required: true,
        ..model(
            Segmind,
            "hailuo-02-fast",
            "MiniMax Hailuo 02 Fast",
            &[Text, FirstFrame],
            &[Combo { resolution: P512, durations: SIX_TEN, only_modes: None }],
            P512,
        )
    },
    Model {
        camera: true,
        prompt_required: true,
        prices: &[
            p(P768, 6, 0.70, &SEGMIND_PAGES),
            p(P768, 10, 0.70, &SEGMIND_PAGES),
            p(P1080, 6, 0.70, &SEGMIND_PAGES),
        ],
        ..model(Segmind, "hailuo-2.3", "MiniMax Hailuo 2.3", &[Text, FirstFrame], HAILUO, P768)
    },
    Model {
        camera: true,
        prompt_required: true,
        prices: &[
            p(P768, 6, 0.41, &SEGMIND_PAGES),
            p(P768, 10, 0.41, &SEGMIND_PAGES),
            p(P1080, 6, 0.41, &SEGMIND_PAGES),
        ],
        ..model(Segmind, "hailuo-2.3-fast", "MiniMax Hailuo 2.3 Fast", &[FirstFrame], HAILUO, P768)
    },
    // MiniMax H3 (Hailuo 3.0): its own v2 API on MiniMax; see `h3` for the sources.
    h3::MINIMAX_H3,
    h3::MINIMAX_H3_MAX,
    h3::RUNWARE_H3,
    h3::RUNWARE_H3_FAST,
    h3::RUNWARE_H3_MAX,
    h3::RUNWARE_H3_MAX_TURBO,
];

/// A name that reads well in a shot list, resolved per provider. Where a provider
/// splits one model into a text and an image variant, `image_id` is the one used
/// when the shot has a first frame.
struct Alias {
    name: &'static str,
    per_provider: &'static [(Provider, &'static str, Option<&'static str>)],
}

static ALIASES: &[Alias] = &[
    Alias {
        name: "video-01",
        per_provider: &[
            (Runware, "minimax:1@1", None),
            (Minimax, "T2V-01", Some("I2V-01")),
            (Segmind, "minimax-ai", None),
        ],
    },
    Alias {
        name: "director",
        per_provider: &[
            (Runware, "minimax:2@1", None),
            (Minimax, "T2V-01-Director", Some("I2V-01-Director")),
            (Segmind, "minimax-ai-director", None),
        ],
    },
    Alias { name: "live", per_provider: &[(Runware, "minimax:2@3", None), (Minimax, "I2V-01-live", None)] },
    Alias {
        name: "hailuo-02",
        per_provider: &[
            (Runware, "minimax:3@1", None),
            (Minimax, "MiniMax-Hailuo-02", None),
            (Segmind, "minimax-hailuo-2", None),
        ],
    },
    Alias { name: "hailuo-02-fast", per_provider: &[(Segmind, "hailuo-02-fast", None)] },
    Alias {
        name: "hailuo-2.3",
        per_provider: &[
            (Runware, "minimax:4@1", None),
            (Minimax, "MiniMax-Hailuo-2.3", None),
            (Segmind, "hailuo-2.3", None),
        ],
    },
    Alias {
        name: "hailuo-2.3-fast",
        per_provider: &[
            (Runware, "minimax:4@2", None),
            (Minimax, "MiniMax-Hailuo-2.3-Fast", None),
            (Segmind, "hailuo-2.3-fast", None),
        ],
    },
    Alias { name: "s2v-01", per_provider: &[(Minimax, "S2V-01", None)] },
    Alias { name: "h3", per_provider: &[(Runware, "minimax:h3@0", None), (Minimax, "MiniMax-H3", None)] },
    Alias { name: "h3-max", per_provider: &[(Runware, "minimax:h3@max", None), (Minimax, "MiniMax-H3-Max", None)] },
    Alias { name: "h3-fast", per_provider: &[(Runware, "minimax:h3@fast", None)] },
    Alias { name: "h3-max-turbo", per_provider: &[(Runware, "minimax:h3@max-turbo", None)] },
];

/// Why a model name did not resolve on a provider.
#[derive(Debug, PartialEq)]
pub enum LookupError {
    /// A known alias or id, but not offered by this provider.
    NotOnProvider {
        offered_by: Vec<Provider>,
    },
    Unknown,
}

/// Finds a model by the provider's own id (exact) or an alias (any case).
pub fn lookup(provider: Provider, name: &str, has_first_frame: bool) -> Result<&'static Model, LookupError> {
    if let Some(m) = MODELS.iter().find(|m| m.provider == provider && m.id == name) {
        return Ok(m);
    }
    if let Some(alias) = ALIASES.iter().find(|a| a.name.eq_ignore_ascii_case(name)) {
        return match alias.per_provider.iter().find(|(p, _, _)| *p == provider) {
            Some((_, text_id, image_id)) => {
                let id = if has_first_frame { image_id.unwrap_or(text_id) } else { text_id };
                Ok(by_id(provider, id).expect("every alias names a catalog model"))
            }
            None => {
                Err(LookupError::NotOnProvider { offered_by: alias.per_provider.iter().map(|(p, _, _)| *p).collect() })
            }
        };
    }
    let offered_by: Vec<Provider> = MODELS.iter().filter(|m| m.id == name).map(|m| m.provider).collect();
    if offered_by.is_empty() { Err(LookupError::Unknown) } else { Err(LookupError::NotOnProvider { offered_by }) }
}

/// Which provider a model name written without `provider:` means: `Ok` when it is
/// a provider's own id on exactly one provider (`minimax:3@1` is Runware's);
/// otherwise the providers it could mean (an alias, or an id several providers
/// share), empty when no provider knows the name.
pub fn implied_provider(name: &str) -> Result<Provider, Vec<Provider>> {
    let mut by_id: Vec<Provider> = MODELS.iter().filter(|m| m.id == name).map(|m| m.provider).collect();
    by_id.dedup();
    if let [only] = by_id[..] {
        return Ok(only);
    }
    if !by_id.is_empty() {
        return Err(by_id);
    }
    Err(ALIASES
        .iter()
        .find(|a| a.name.eq_ignore_ascii_case(name))
        .map(|a| a.per_provider.iter().map(|(p, _, _)| *p).collect())
        .unwrap_or_default())
}

fn by_id(provider: Provider, id: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.provider == provider && m.id == id)
}

/// The names a user may write for a provider: its ids, then the aliases it offers.
pub fn names_for(provider: Provider) -> Vec<&'static str> {
    let ids = MODELS.iter().filter(|m| m.provider == provider).map(|m| m.id);
    let aliases = ALIASES.iter().filter(|a| a.per_provider.iter().any(|(p, _, _)| *p == provider)).map(|a| a.name);
    let mut names: Vec<&'static str> = ids.collect();
    for a in aliases {
        if !names.contains(&a) {
            names.push(a);
        }
    }
    names
}

/// The same model under the name `provider` gives it, for a name that belongs to
/// another provider (`MiniMax-Hailuo-2.3` written for segmind → `hailuo-2.3`).
pub fn equivalent(provider: Provider, name: &str) -> Option<&'static str> {
    ALIASES
        .iter()
        .find(|a| {
            a.name.eq_ignore_ascii_case(name) || a.per_provider.iter().any(|(_, t, i)| *t == name || *i == Some(name))
        })
        .and_then(|a| a.per_provider.iter().find(|(p, _, _)| *p == provider))
        .map(|(_, text_id, _)| *text_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_alias_resolves_to_a_catalog_model() {
        for alias in ALIASES {
            for (provider, text_id, image_id) in alias.per_provider {
                assert!(by_id(*provider, text_id).is_some(), "{} {text_id}", alias.name);
                if let Some(id) = image_id {
                    assert!(by_id(*provider, id).is_some(), "{} {id}", alias.name);
                }
            }
        }
    }

    #[test]
    fn director_alias_picks_text_or_image_variant_on_minimax() {
        assert_eq!(lookup(Minimax, "director", false).unwrap().id, "T2V-01-Director");
        assert_eq!(lookup(Minimax, "Director", true).unwrap().id, "I2V-01-Director");
        assert_eq!(lookup(Runware, "director", true).unwrap().id, "minimax:2@1");
    }

    #[test]
    fn ids_of_another_provider_name_where_they_live() {
        assert_eq!(
            lookup(Segmind, "MiniMax-Hailuo-02", false).unwrap_err(),
            LookupError::NotOnProvider { offered_by: vec![Minimax] }
        );
        assert_eq!(
            lookup(Segmind, "live", true).unwrap_err(),
            LookupError::NotOnProvider { offered_by: vec![Runware, Minimax] }
        );
        assert_eq!(lookup(Runware, "sora", false).unwrap_err(), LookupError::Unknown);
        assert_eq!(equivalent(Segmind, "MiniMax-Hailuo-2.3"), Some("hailuo-2.3"));
        assert_eq!(equivalent(Segmind, "live"), None);
    }

    #[test]
    fn every_model_defaults_to_an_allowed_pair_and_prices_only_allowed_pairs() {
        for m in MODELS {
            let mode = m.modes[0];
            let first = if m.supports(FirstFrame) { FirstFrame } else { mode };
            assert!(m.durations(m.default_resolution, first).contains(&m.default_duration), "{}", m.id);
            for price in m.prices {
                assert!(
                    m.combos.iter().any(|c| c.resolution == price.resolution && c.durations.contains(&price.duration)),
                    "{}",
                    m.id
                );
                assert!(price.usd > 0.0);
            }
        }
    }

    #[test]
    fn an_id_on_one_provider_implies_it_and_an_alias_does_not() {
        assert_eq!(implied_provider("minimax:3@1"), Ok(Runware));
        assert_eq!(implied_provider("MiniMax-Hailuo-02"), Ok(Minimax));
        assert_eq!(implied_provider("minimax-hailuo-2"), Ok(Segmind));
        assert_eq!(implied_provider("hailuo-02"), Err(vec![Runware, Minimax, Segmind]));
        assert_eq!(implied_provider("live"), Err(vec![Runware, Minimax]));
        assert_eq!(implied_provider("sora"), Err(vec![]));
    }

    #[test]
    fn minimax_pay_as_you_go_prices_are_in_with_their_source() {
        let price = |id: &str, r, d| {
            let m = by_id(Minimax, id).unwrap();
            m.price_row(r, d).map(|p| (p.usd, p.source.date))
        };
        assert_eq!(price("MiniMax-Hailuo-2.3", P768, 6), Some((0.28, "2026-01")));
        assert_eq!(price("MiniMax-Hailuo-02", P768, 10), Some((0.56, "2026-01")));
        assert_eq!(price("MiniMax-Hailuo-02", P1080, 6), Some((0.49, "2026-01")));
        assert_eq!(price("MiniMax-Hailuo-2.3-Fast", P768, 10), Some((0.32, "2026-01")));
        assert_eq!(price("MiniMax-Hailuo-02", P512, 6), Some((0.10, "2026-01")));
        assert_eq!(price("S2V-01", P720, 6), None, "not published: unknown, never 0");
        assert_eq!(by_id(Runware, "minimax:3@1").unwrap().price(P768, 10), Some(0.56));
        for m in MODELS {
            for p in m.prices {
                assert!(!p.source.page.is_empty() && !p.source.date.is_empty(), "{}", m.id);
            }
        }
    }

    #[test]
    fn the_highest_of_two_published_prices_is_the_list_price() {
        let director = by_id(Runware, "minimax:2@1").unwrap();
        assert_eq!(director.price(P768, 6), Some(0.336));
        assert_eq!(director.read_resolution(P720), P768, "Runware's 720p is its 1366×768");
        assert_eq!(by_id(Minimax, "T2V-01").unwrap().read_resolution(P720), P720);
    }

    #[test]
    fn fast_variants_are_polled_sooner() {
        let fast = lookup(Runware, "minimax:4@2", true).unwrap();
        let full = lookup(Runware, "minimax:4@1", true).unwrap();
        assert!(fast.first_poll_secs(6) < full.first_poll_secs(6));
        assert!(full.first_poll_secs(10) > full.first_poll_secs(6));
        assert!(lookup(Segmind, "hailuo-02-fast", false).unwrap().typical_render_secs < 170);
    }

    #[test]
    fn hailuo_02_on_minimax_offers_512p_only_for_a_first_frame() {
        let m = lookup(Minimax, "hailuo-02", false).unwrap();
        assert_eq!(m.durations(P512, FirstFrame), &[6, 10]);
        assert!(m.durations(P512, FirstLast).is_empty());
        assert!(m.durations(P512, Text).is_empty());
        assert_eq!(m.durations(P1080, Text), &[6]);
    }
}
