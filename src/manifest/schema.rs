//! Second step of loading: the node tree read into the manifest's raw shape (keys,
//! types), with every unknown key and wrong type collected as a problem instead of
//! stopping at the first. Values keep their location for the checks that follow.

use super::diag::{Problem, Problems};
use super::yaml::{Loc, Node, NodeKind};
use crate::catalog::Provider;

/// A value and where it was written.
#[derive(Clone, Debug)]
pub struct Field<T> {
    pub value: T,
    pub loc: Loc,
}

/// Shot fields as written, in a shot or in `defaults`.
#[derive(Clone, Debug, Default)]
pub struct RawShot {
    pub loc: Loc,
    pub id: Option<Field<String>>,
    pub prompt: Option<Field<String>>,
    pub provider: Option<Field<String>>,
    pub model: Option<Field<String>>,
    pub resolution: Option<Field<String>>,
    pub duration: Option<Field<i64>>,
    pub number_results: Option<Field<i64>>,
    pub prompt_optimizer: Option<Field<bool>>,
    pub camera: Option<Field<Vec<Field<String>>>>,
    pub first_frame: Option<Field<String>>,
    pub last_frame: Option<Field<String>>,
    pub subject: Option<Field<String>>,
    /// H3: `ratio`.
    pub ratio: Option<Field<String>>,
    /// H3: `references: { images, videos, audio }`.
    pub references: Option<Field<RawReferences>>,
    pub output_format: Option<Field<String>>,
    pub output_quality: Option<Field<i64>>,
    pub safety: Option<Field<RawSafety>>,
    pub fast_pretreatment: Option<Field<bool>>,
    pub watermark: Option<Field<bool>>,
    pub template: Option<Field<String>>,
    pub media: Option<Field<Vec<Field<String>>>>,
    pub text: Option<Field<Vec<Field<String>>>>,
    /// Read only to be refused with the reason (see `validate::options`).
    pub upload_endpoint: Option<Field<String>>,
    pub webhook_url: Option<Field<String>>,
}

/// `references:` as written: lists of paths or URLs per kind.
#[derive(Clone, Debug, Default)]
pub struct RawReferences {
    pub images: Option<Field<Vec<Field<String>>>>,
    pub videos: Option<Field<Vec<Field<String>>>>,
    pub audio: Option<Field<Vec<Field<String>>>>,
}

/// `safety:` as written.
#[derive(Clone, Debug, Default)]
pub struct RawSafety {
    pub check_content: Option<Field<bool>>,
    pub mode: Option<Field<String>>,
}

/// A `providers:` entry as written.
#[derive(Clone, Debug, Default)]
pub struct RawProvider {
    pub requests_per_minute: Option<Field<i64>>,
    pub max_in_flight: Option<Field<i64>>,
    pub base_url: Option<Field<String>>,
}

/// A `prices:` entry as written.
#[derive(Clone, Debug, Default)]
pub struct RawPrice {
    pub loc: Loc,
    /// The entry's path, `prices[2]`.
    pub path: String,
    pub provider: Option<Field<String>>,
    pub model: Option<Field<String>>,
    pub resolution: Option<Field<String>>,
    pub duration: Option<Field<i64>>,
    pub usd: Option<Field<f64>>,
    /// The keys written (a key with a wrong value is a type error, not a missing key).
    pub keys: Vec<String>,
}

/// The whole manifest as written.
#[derive(Clone, Debug, Default)]
pub struct RawManifest {
    pub version: Option<Field<i64>>,
    pub name: Option<Field<String>>,
    pub output: Option<Field<String>>,
    pub defaults: RawShot,
    pub providers: Vec<(Provider, RawProvider)>,
    pub max_cost_usd: Option<Field<f64>>,
    pub prices: Vec<RawPrice>,
    /// `None` when the manifest has no `shots` key (or it is not a list).
    pub shots: Option<Field<Vec<RawShot>>>,
}

const TOP_KEYS: &[&str] = &["version", "name", "output", "defaults", "providers", "budget", "prices", "shots"];
const PRICE_KEYS: &[&str] = &["provider", "model", "resolution", "duration", "usd"];
const SHOT_KEYS: &[&str] = &[
    "id",
    "prompt",
    "provider",
    "model",
    "resolution",
    "duration",
    "numberResults",
    "promptOptimizer",
    "camera",
    "frames",
    "subject",
    "ratio",
    "references",
    "outputFormat",
    "outputQuality",
    "safety",
    "fastPretreatment",
    "watermark",
    "template",
    "media",
    "text",
    "uploadEndpoint",
    "webhookURL",
];
const REFERENCE_KEYS: &[&str] = &["images", "videos", "audio"];
const SAFETY_KEYS: &[&str] = &["checkContent", "mode"];
const FRAME_KEYS: &[&str] = &["first", "last"];
const PROVIDER_KEYS: &[&str] = &["requestsPerMinute", "maxInFlight", "baseUrl"];
const BUDGET_KEYS: &[&str] = &["maxCostUsd"];

/// Reads the tree into a [`RawManifest`], adding a problem for everything that does
/// not fit the shape. What fits is kept, so later checks can still run on it.
pub fn read(root: &Node, source: &str, problems: &mut Problems) -> RawManifest {
    let mut r = Reader { source, problems };
    let mut m = RawManifest::default();
    if matches!(root.kind, NodeKind::Null) {
        r.problems.push(
            Problem::error(root.loc, "(manifest)", "the manifest is empty")
                .help("start with `version: 1` and a `shots:` list"),
        );
        return m;
    }
    let Some(entries) = r.mapping(root, &At::Root(""), TOP_KEYS) else { return m };
    for (key, value) in entries {
        match key {
            "version" => m.version = r.int(value, &At::Root("version")),
            "name" => m.name = r.string(value, &At::Root("name")),
            "output" => m.output = r.string(value, &At::Root("output")),
            "defaults" => {
                let mut keys = SHOT_KEYS.to_vec();
                keys.retain(|k| *k != "id");
                if let Some(d) = r.shot(value, &At::Root("defaults"), &keys) {
                    m.defaults = d;
                }
            }
            "providers" => m.providers = r.providers(value),
            "budget" => {
                if let Some(fields) = r.mapping(value, &At::Root("budget"), BUDGET_KEYS) {
                    for (_, v) in fields {
                        m.max_cost_usd = r.number(v, &At::Root("budget.maxCostUsd"));
                    }
                }
            }
            "shots" => m.shots = r.shots(value),
            "prices" => m.prices = r.prices(value),
            _ => {}
        }
    }
    if m.version.is_none() && !entries_have(root, "version") {
        r.problems.push(
            Problem::error(root.loc, "version", "the manifest has no `version`")
                .label("the manifest starts here")
                .help("add `version: 1` as the first line"),
        );
    }
    if m.shots.is_none() && !entries_have(root, "shots") {
        r.problems.push(
            Problem::error(root.loc, "shots", "the manifest has no `shots` list")
                .label("the manifest starts here")
                .help("add `shots:` with at least one shot (`- id: ...`)"),
        );
    }
    m
}

fn entries_have(node: &Node, key: &str) -> bool {
    match &node.kind {
        NodeKind::Map(entries) => entries.iter().any(|(k, _)| matches!(&k.kind, NodeKind::Str(s) if s == key)),
        _ => false,
    }
}

struct Reader<'a> {
    source: &'a str,
    problems: &'a mut Problems,
}

impl<'a> Reader<'a> {
    fn wrong_type(&mut self, node: &Node, field: &At<'_>, expected: &str) {
        let found = node.kind.describe();
        self.problems.push(
            Problem::error(node.loc, field.to_string(), format!("expected {expected}, found {found}"))
                .label(format!("expected {expected}")),
        );
    }

    /// The entries of a mapping whose keys are all in `known`; unknown keys are
    /// problems (with the closest known key as a hint) and are left out.
    fn mapping<'n>(&mut self, node: &'n Node, path: &At<'_>, known: &[&str]) -> Option<Vec<(&'n str, &'n Node)>> {
        let NodeKind::Map(entries) = &node.kind else {
            let path = path.to_string();
            let what = if path.is_empty() { "the manifest" } else { &path };
            let field = if path.is_empty() { "(manifest)" } else { &path };
            self.problems.push(
                Problem::error(
                    node.loc,
                    field,
                    format!("expected a mapping of keys for {what}, found {}", node.kind.describe()),
                )
                .label("expected `key: value` lines"),
            );
            return None;
        };
        let mut out = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            let key = match &k.kind {
                NodeKind::Str(s) => s.as_str(),
                _ => {
                    let field = if path.is_root() { "(key)".to_owned() } else { format!("{path}.(key)") };
                    self.problems.push(Problem::error(k.loc, field, "a key must be a word").label("not a key name"));
                    continue;
                }
            };
            if !known.contains(&key) {
                let field = At::Key(path, key).to_string();
                let mut p = Problem::error(k.loc, &field, format!("unknown key `{key}`")).label("unknown key");
                p = match closest(key, known) {
                    Some(best) => p.help(format!("did you mean `{best}`?")),
                    None => p.help(format!("known keys here: {}", known.join(", "))),
                };
                self.problems.push(p);
                continue;
            }
            out.push((key, v));
        }
        Some(out)
    }

    fn string(&mut self, node: &Node, field: &At<'_>) -> Option<Field<String>> {
        let value = match &node.kind {
            NodeKind::Str(s) => s.clone(),
            // A number or a boolean where text is expected is taken as written
            // (`id: 2024` names a shot "2024"), not as YAML reformatted it.
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => self.raw_text(node),
            _ => {
                self.wrong_type(node, field, "a string");
                return None;
            }
        };
        Some(Field { value, loc: node.loc })
    }

    fn raw_text(&self, node: &Node) -> String {
        let end = node.loc.offset + node.loc.len;
        self.source.get(node.loc.offset..end).unwrap_or_default().trim().to_owned()
    }

    fn int(&mut self, node: &Node, field: &At<'_>) -> Option<Field<i64>> {
        match node.kind {
            NodeKind::Int(i) => Some(Field { value: i, loc: node.loc }),
            NodeKind::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(Field { value: f as i64, loc: node.loc }),
            _ => {
                self.wrong_type(node, field, "a whole number");
                None
            }
        }
    }

    fn number(&mut self, node: &Node, field: &At<'_>) -> Option<Field<f64>> {
        match node.kind {
            NodeKind::Int(i) => Some(Field { value: i as f64, loc: node.loc }),
            NodeKind::Float(f) if f.is_finite() => Some(Field { value: f, loc: node.loc }),
            _ => {
                self.wrong_type(node, field, "a number");
                None
            }
        }
    }

    fn boolean(&mut self, node: &Node, field: &At<'_>) -> Option<Field<bool>> {
        match node.kind {
            NodeKind::Bool(b) => Some(Field { value: b, loc: node.loc }),
            _ => {
                self.wrong_type(node, field, "true or false");
                None
            }
        }
    }

    fn string_list(&mut self, node: &Node, field: &At<'_>) -> Option<Field<Vec<Field<String>>>> {
        self.list(node, field, "a list such as [Pan left, Zoom in]")
    }

    fn list(&mut self, node: &Node, field: &At<'_>, expected: &str) -> Option<Field<Vec<Field<String>>>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(node, field, expected);
            return None;
        };
        let mut values = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(s) = self.string(item, &At::Item(field, i)) {
                values.push(s);
            }
        }
        Some(Field { value: values, loc: node.loc })
    }

    fn shot(&mut self, node: &Node, path: &At<'_>, known: &[&str]) -> Option<RawShot> {
        let entries = self.mapping(node, path, known)?;
        let mut s = RawShot { loc: node.loc, ..RawShot::default() };
        for (key, v) in entries {
            let f = At::Key(path, key);
            match key {
                "id" => s.id = self.string(v, &f),
                "prompt" => s.prompt = self.string(v, &f),
                "provider" => s.provider = self.string(v, &f),
                "model" => s.model = self.string(v, &f),
                "resolution" => s.resolution = self.string(v, &f),
                "duration" => s.duration = self.int(v, &f),
                "numberResults" => s.number_results = self.int(v, &f),
                "promptOptimizer" => s.prompt_optimizer = self.boolean(v, &f),
                "camera" => s.camera = self.string_list(v, &f),
                "subject" => s.subject = self.string(v, &f),
                "ratio" => s.ratio = self.string(v, &f),
                "references" => s.references = self.references(v, &f),
                "outputFormat" => s.output_format = self.string(v, &f),
                "outputQuality" => s.output_quality = self.int(v, &f),
                "fastPretreatment" => s.fast_pretreatment = self.boolean(v, &f),
                "watermark" => s.watermark = self.boolean(v, &f),
                "template" => s.template = self.string(v, &f),
                "media" => s.media = self.list(v, &f, "a list of images such as [frames/a.png]"),
                "text" => s.text = self.list(v, &f, "a list of strings such as [\"Lion\"]"),
                "uploadEndpoint" => s.upload_endpoint = self.string(v, &f),
                "webhookURL" => s.webhook_url = self.string(v, &f),
                "safety" => {
                    if let Some(entries) = self.mapping(v, &f, SAFETY_KEYS) {
                        let mut safety = RawSafety::default();
                        for (sk, sv) in entries {
                            let sf = At::Key(&f, sk);
                            if sk == "checkContent" {
                                safety.check_content = self.boolean(sv, &sf);
                            } else {
                                safety.mode = self.string(sv, &sf);
                            }
                        }
                        s.safety = Some(Field { value: safety, loc: v.loc });
                    }
                }
                "frames" => {
                    for (fk, fv) in self.mapping(v, &f, FRAME_KEYS).unwrap_or_default() {
                        let value = self.string(fv, &At::Key(&f, fk));
                        if fk == "first" {
                            s.first_frame = value;
                        } else {
                            s.last_frame = value;
                        }
                    }
                }
                _ => {}
            }
        }
        Some(s)
    }

    fn references(&mut self, node: &Node, path: &At<'_>) -> Option<Field<RawReferences>> {
        let entries = self.mapping(node, path, REFERENCE_KEYS)?;
        let mut r = RawReferences::default();
        for (key, v) in entries {
            let f = At::Key(path, key);
            let list = if matches!(v.kind, NodeKind::Seq(_)) {
                self.string_list(v, &f)
            } else {
                self.wrong_type(v, &f, "a list of files or https URLs");
                None
            };
            match key {
                "images" => r.images = list,
                "videos" => r.videos = list,
                _ => r.audio = list,
            }
        }
        Some(Field { value: r, loc: node.loc })
    }

    fn shots(&mut self, node: &Node) -> Option<Field<Vec<RawShot>>> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(node, &At::Root("shots"), "a list of shots");
            return None;
        };
        // Room for every shot up front: a raw shot is over a kilobyte, and growing
        // the list by doubling copied (and faulted in) the 100,000-shot list twice over.
        let mut shots = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(shot) = self.shot(item, &At::Item(&At::Root("shots"), i), SHOT_KEYS) {
                shots.push(shot);
            }
        }
        Some(Field { value: shots, loc: node.loc })
    }

    fn prices(&mut self, node: &Node) -> Vec<RawPrice> {
        let NodeKind::Seq(items) = &node.kind else {
            self.wrong_type(
                node,
                &At::Root("prices"),
                "a list such as [{ provider: minimax, model: S2V-01, usd: 0.43 }]",
            );
            return Vec::new();
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let path = format!("prices[{i}]");
            let Some(entries) = self.mapping(item, &At::Root(&path), PRICE_KEYS) else { continue };
            let mut p = RawPrice { loc: item.loc, path: path.clone(), ..RawPrice::default() };
            for (k, v) in entries {
                let at = At::Root(&path);
                let f = At::Key(&at, k);
                p.keys.push(k.to_owned());
                match k {
                    "provider" => p.provider = self.string(v, &f),
                    "model" => p.model = self.string(v, &f),
                    "resolution" => p.resolution = self.string(v, &f),
                    "duration" => p.duration = self.int(v, &f),
                    _ => p.usd = self.number(v, &f),
                }
            }
            out.push(p);
        }
        out
    }

    fn providers(&mut self, node: &Node) -> Vec<(Provider, RawProvider)> {
        let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
        let mut out = Vec::new();
        for (key, v) in self.mapping(node, &At::Root("providers"), &names).unwrap_or_default() {
            let provider = Provider::parse(key).expect("mapping() keeps only known keys");
            let path = format!("providers.{key}");
            let mut settings = RawProvider::default();
            let at = At::Root(&path);
            for (k, fv) in self.mapping(v, &at, PROVIDER_KEYS).unwrap_or_default() {
                let f = At::Key(&at, k);
                match k {
                    "requestsPerMinute" => settings.requests_per_minute = self.int(fv, &f),
                    "maxInFlight" => settings.max_in_flight = self.int(fv, &f),
                    _ => settings.base_url = self.string(fv, &f),
                }
            }
            out.push((provider, settings));
        }
        out
    }
}

/// A field's path (`shots[3].frames.first`), spelt out only when a problem names
/// it: most fields of a big manifest are fine, and formatting every path up front
/// cost more than reading the values.
#[derive(Clone, Copy)]
enum At<'p> {
    /// A path written out already; `""` is the manifest itself.
    Root(&'p str),
    /// `parent.key` (just `key` under the manifest itself).
    Key(&'p At<'p>, &'p str),
    /// `parent[i]`
    Item(&'p At<'p>, usize),
}

impl At<'_> {
    fn is_root(&self) -> bool {
        matches!(self, At::Root(""))
    }
}

impl std::fmt::Display for At<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            At::Root(path) => f.write_str(path),
            At::Key(parent, key) if parent.is_root() => f.write_str(key),
            At::Key(parent, key) => write!(f, "{parent}.{key}"),
            At::Item(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

/// The known word closest to a mistyped one, if any is close enough to be a hint.
pub fn closest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-', ' '], "");
    let w = norm(word);
    known
        .iter()
        .map(|k| (k, strsim::normalized_damerau_levenshtein(&w, &norm(k))))
        .filter(|(_, score)| *score >= 0.6)
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(k, _)| *k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_finds_typos_and_case_changes_but_not_strangers() {
        assert_eq!(closest("promt", SHOT_KEYS), Some("prompt"));
        assert_eq!(closest("number_results", SHOT_KEYS), Some("numberResults"));
        assert_eq!(closest("colour", SHOT_KEYS), None);
    }
}
