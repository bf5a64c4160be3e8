//! MiniMax video templates ("Video Agent", `/v1/video_template_generation`): the
//! templates each MiniMax host offers, with the inputs each one takes. The global
//! host (`api.minimax.io`) and the China host (`api.minimaxi.com`) publish
//! different lists with different IDs, so a template is always looked up on the
//! host the manifest is validated for.
//!
//! Sources (stored copies):
//! - global list: platform.minimax.io/docs/faq/video-agent-templates (mirror
//!   `petehsu/LLM-Docs` `data/docs/MiniMax/English/faq/video-agent-templates.md`,
//!   crawl 2026-01-31), as summarised in `field-notes-2026-12.md` §1.1 (2026-12);
//! - China list: the seed page "MiniMax Video Generation API Documentation"
//!   (`seeds/004_f9438f0d8d35e38a.txt`, base URL api.minimaxi.com), which agrees with
//!   the mirror's `MiniMax/简体中文/faq/video-agent-templates.md` (11 templates);
//! - protocol: platform.minimax.io/docs/api-reference/video-agent-create and
//!   video-agent-query (field notes §1.1): `task_id` and `base_resp` in HTTP 200,
//!   status Preparing / Processing / Success / Fail, a direct `video_url` valid 9 h.
//!
//! The lists mark each input kind as present or not ("M", "T", "M + T"); how many
//! of each a template takes is not published, so one of each kind is assumed. The
//! E-commerce Display Ad row marks media "/" and text "Required" while its
//! description asks for a product photo: the table is taken as written (text only).
//! Prices are on MiniMax's *historical* pricing page only, so they are not used:
//! a template clip has no known price unless the manifest prices it.

use std::fmt;

use super::{Mode, Model, Provider, Resolution};

/// A MiniMax API host, which decides the template list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Host {
    /// `api.minimax.io` (platform.minimax.io keys).
    Global,
    /// `api.minimaxi.com` (platform.minimaxi.com keys; also reached as minimax.cn).
    China,
}

impl Host {
    /// The host a MiniMax base URL names: the China hosts by name, anything else
    /// (the global host, a simulator, a proxy) global.
    pub fn of_base_url(url: &str) -> Host {
        let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or_default();
        let host = host.to_ascii_lowercase();
        if ["minimaxi.com", "minimax.cn", "minimaxi.chat"]
            .iter()
            .any(|d| host == *d || host.ends_with(&format!(".{d}")))
        {
            Host::China
        } else {
            Host::Global
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Host::Global => "api.minimax.io",
            Host::China => "api.minimaxi.com",
        }
    }

    pub fn other(self) -> Host {
        match self {
            Host::Global => Host::China,
            Host::China => Host::Global,
        }
    }

    /// Whether a base URL names a real MiniMax host (not a simulator or a proxy).
    pub fn is_minimax_host(url: &str) -> bool {
        let lower = url.to_ascii_lowercase();
        ["minimax.io", "minimaxi.com", "minimax.cn", "minimaxi.chat"].iter().any(|d| lower.contains(d))
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One template on one host.
#[derive(Debug, PartialEq)]
pub struct Template {
    pub host: Host,
    pub id: &'static str,
    pub name: &'static str,
    /// Images the template takes (`media_inputs`).
    pub media: usize,
    /// Strings the template takes (`text_inputs`).
    pub text: usize,
}

impl Template {
    /// "1 image and 1 text input", for messages.
    pub fn describe_inputs(&self) -> String {
        let part = |n: usize, one: &str, many: &str| match n {
            0 => None,
            1 => Some(format!("1 {one}")),
            n => Some(format!("{n} {many}")),
        };
        let parts: Vec<String> = [
            part(self.media, "image (`media`)", "images (`media`)"),
            part(self.text, "text input (`text`)", "text inputs (`text`)"),
        ]
        .into_iter()
        .flatten()
        .collect();
        parts.join(" and ")
    }
}

const fn t(host: Host, id: &'static str, name: &'static str, media: usize, text: usize) -> Template {
    Template { host, id, name, media, text }
}

use Host::{China, Global};

/// Every template, global list first (the published order).
pub static TEMPLATES: &[Template] = &[
    t(Global, "392747428568649728", "Diving", 1, 0),
    t(Global, "393769180141805569", "Run for Life", 1, 1),
    t(Global, "397087679467597833", "Transformers", 1, 0),
    t(Global, "393881433990066176", "Still rings routine", 1, 0),
    t(Global, "393498001241890824", "Weightlifting", 1, 0),
    t(Global, "393488336655310850", "Climbing", 1, 0),
    t(Global, "394514820878671878", "Anime Life Sim", 0, 1),
    t(Global, "393879757702918151", "McDonald's Delivery Pet", 1, 0),
    t(Global, "397017167949312007", "Pet Pilot", 1, 0),
    t(Global, "394176968202485769", "Miniature Set Ad", 1, 0),
    t(Global, "393876118804459526", "Male Model Try-On Ad", 1, 0),
    t(Global, "393866076583718914", "Female Model Try-On Ad", 1, 0),
    t(Global, "394875727173492739", "Art Fonts", 0, 1),
    t(Global, "394220989629177861", "Drinkfall", 1, 0),
    t(Global, "393853165953970178", "E-commerce Display Ad", 0, 1),
    t(Global, "401431836934868999", "3D character product presentation", 1, 1),
    t(China, "392753057216684038", "Diving", 1, 0),
    t(China, "393881433990066176", "Rings", 1, 0),
    t(China, "393769180141805569", "Survival", 1, 1),
    t(China, "394246956137422856", "Labubu", 1, 0),
    t(China, "393879757702918151", "McDonald's Delivery", 1, 0),
    t(China, "393766210733957121", "Tibetan Portrait", 1, 0),
    t(China, "393866076583718914", "Female Model Ads", 1, 0),
    t(China, "393876118804459526", "Male Model Ads", 1, 0),
    t(China, "393857704283172856", "Winter Romance", 1, 0),
    t(China, "398574688191234048", "Four Seasons", 1, 0),
    t(China, "394125185182695432", "Helpless Moments", 0, 1),
];

/// What a template job is planned and polled as: MiniMax's, no published price, no
/// known resolution or duration (the template decides; the report leaves them
/// empty), a render timed like a Hailuo clip's until one is seen.
pub static MODEL: Model = Model {
    provider: Provider::Minimax,
    id: "video-template",
    name: "MiniMax video template",
    modes: &[Mode::Template],
    combos: &[],
    default_resolution: Resolution::P720,
    default_duration: 0,
    fps: 0,
    max_results: 4,
    camera: false,
    prompt_required: false,
    prices: &[],
    key_resolution: None,
    typical_render_secs: 170,
    api: crate::catalog::Api::V1,
    h3: None,
};

/// How long a template's `video_url` is valid (video-agent-query: "valid for 9 hours").
pub const URL_VALID_SECS: u64 = 9 * 3600;

fn norm(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A template on `host` by id or by name (any case, spaces and punctuation ignored).
pub fn lookup(host: Host, name_or_id: &str) -> Option<&'static Template> {
    let want = norm(name_or_id);
    TEMPLATES.iter().filter(|t| t.host == host).find(|t| t.id == name_or_id.trim() || norm(t.name) == want)
}

/// A template by id on any host (the simulator serves both lists).
pub fn by_id(id: &str) -> Option<&'static Template> {
    TEMPLATES.iter().find(|t| t.id == id)
}

/// The names on a host, for messages.
pub fn names(host: Host) -> Vec<&'static str> {
    TEMPLATES.iter().filter(|t| t.host == host).map(|t| t.name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_told_apart_by_their_base_url() {
        assert_eq!(Host::of_base_url("https://api.minimax.io"), Global);
        assert_eq!(Host::of_base_url("https://api.minimaxi.com/"), China);
        assert_eq!(Host::of_base_url("https://api.minimax.cn"), China);
        assert_eq!(Host::of_base_url("http://127.0.0.1:4000"), Global);
        assert!(!Host::is_minimax_host("http://127.0.0.1:4000"));
    }

    #[test]
    fn the_lists_differ_per_host_ids_included() {
        assert_eq!(TEMPLATES.iter().filter(|t| t.host == Global).count(), 16);
        assert_eq!(TEMPLATES.iter().filter(|t| t.host == China).count(), 11);
        assert_eq!(lookup(Global, "diving").unwrap().id, "392747428568649728");
        assert_eq!(lookup(China, "Diving").unwrap().id, "392753057216684038");
        assert_eq!(lookup(Global, "392753057216684038"), None, "the China Diving id is not global");
        assert!(lookup(Global, "Labubu").is_none() && lookup(China, "labubu").is_some());
        assert_eq!(
            lookup(Global, "run-for-life").unwrap().describe_inputs(),
            "1 image (`media`) and 1 text input (`text`)"
        );
        for t in TEMPLATES {
            assert!(t.media + t.text >= 1, "{}", t.name);
            assert_eq!(lookup(t.host, t.id), Some(t));
        }
    }
}
