//! The manifest: YAML text in, validated shots out, or every problem at once.
//!
//! Loading runs in three steps, each in its own module: `yaml` parses the text into
//! located nodes, `schema` reads them into the manifest's raw shape, and `validate`
//! checks that against the model catalog and the files on disk. Nothing here touches
//! the network.

pub mod camera;
pub mod diag;
pub mod frames;
pub mod references;
pub mod schema;
pub mod validate;
pub mod yaml;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use diag::{Level, Problem};
pub use frames::Image;
pub use references::{Media, MediaKind, References};

use crate::catalog::output::ClipOptions;
use crate::catalog::{Mode, Model, Provider, Ratio, Resolution};

/// A validated manifest.
#[derive(Debug)]
pub struct Manifest {
    /// The manifest file as given on the command line.
    pub path: PathBuf,
    /// The folder relative paths in the manifest are resolved against.
    pub dir: PathBuf,
    pub name: Option<String>,
    /// `output:` resolved against `dir`.
    pub output: Option<PathBuf>,
    pub providers: BTreeMap<Provider, ProviderSettings>,
    pub max_cost_usd: Option<f64>,
    /// `prices:`: the manifest's own prices, over the catalog's.
    pub prices: Vec<ManifestPrice>,
    pub shots: Vec<Shot>,
}

/// One `prices:` entry: the price of one clip of a model, at one resolution and
/// duration (or at any, when left out).
#[derive(Clone, Debug)]
pub struct ManifestPrice {
    pub provider: Provider,
    pub model: &'static Model,
    pub resolution: Option<Resolution>,
    pub duration: Option<u32>,
    pub usd: f64,
    pub line: u32,
}

/// Limits and address a manifest sets for a provider (the environment wins over these).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProviderSettings {
    pub requests_per_minute: Option<u32>,
    pub max_in_flight: Option<u32>,
    pub base_url: Option<String>,
}

/// One validated shot, defaults merged in.
#[derive(Clone, Debug)]
pub struct Shot {
    pub id: String,
    /// Line of the shot in the manifest, for messages.
    pub line: u32,
    pub provider: Provider,
    pub model: &'static Model,
    pub mode: Mode,
    /// The prompt as sent: trimmed, with `camera:` moves appended as one group.
    pub prompt: Option<String>,
    pub camera: Vec<&'static str>,
    pub resolution: Resolution,
    pub duration: u32,
    pub number_results: u32,
    pub prompt_optimizer: bool,
    pub first_frame: Option<Image>,
    pub last_frame: Option<Image>,
    pub subject: Option<Image>,
    /// H3: the clip's aspect ratio (`None`: not sent; the provider's default).
    pub ratio: Option<Ratio>,
    /// H3: reference images, videos and audio (never together with frames).
    pub references: References,
    /// Output container, quality, safety check, MiniMax pretreatment and watermark.
    pub options: ClipOptions,
    /// A MiniMax video template shot (`mode` is `Template`, `model` the template stand-in).
    pub template: Option<TemplateShot>,
}

/// A template and the inputs a shot fills it with, checked against its slots.
#[derive(Clone, Debug)]
pub struct TemplateShot {
    pub template: &'static crate::catalog::templates::Template,
    pub media: Vec<Image>,
    pub text: Vec<String>,
}

/// A manifest that loaded, with the warnings it raised.
#[derive(Debug)]
pub struct Loaded {
    pub manifest: Manifest,
    pub warnings: Vec<Problem>,
    pub source: String,
    pub file_name: String,
}

/// A manifest that did not load: every problem found (errors and warnings).
#[derive(Debug)]
pub struct Invalid {
    pub problems: Vec<Problem>,
    pub source: String,
    pub file_name: String,
}

impl Invalid {
    /// The problems drawn for a terminal, then one closing line.
    pub fn render(&self, color: bool) -> String {
        let mut out = diag::render(&self.problems, &self.file_name, &self.source, color);
        let errors = self.problems.iter().filter(|p| p.level == Level::Error).count();
        let plural = if errors == 1 { "" } else { "s" };
        out.push_str(&format!("{}: {errors} error{plural}; nothing was submitted\n", self.file_name));
        out
    }
}

/// Reads and validates the manifest at `path`. The file name in messages is `path`
/// as given, so that it matches what the user typed.
pub fn load(path: &Path) -> Result<Loaded, Box<Invalid>> {
    let file_name = path.display().to_string();
    let source = match std::fs::read(path) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                let at = e.utf8_error().valid_up_to();
                return Err(Box::new(Invalid {
                    problems: vec![Problem::error(
                        Default::default(),
                        "(file)",
                        format!("the manifest is not UTF-8 text (invalid byte at offset {at})"),
                    )],
                    source: String::new(),
                    file_name,
                }));
            }
        },
        Err(e) => {
            return Err(Box::new(Invalid {
                problems: vec![Problem::error(Default::default(), "(file)", format!("cannot read the manifest: {e}"))],
                source: String::new(),
                file_name,
            }));
        }
    };
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
    load_str(source, file_name, &dir).map(|mut loaded| {
        loaded.manifest.path = path.to_path_buf();
        loaded
    })
}

/// Validates manifest text; relative paths are resolved against `dir`.
pub fn load_str(source: String, file_name: String, dir: &Path) -> Result<Loaded, Box<Invalid>> {
    let mut problems = diag::Problems::default();
    let manifest = match yaml::parse(&source) {
        Ok(root) => {
            let raw = schema::read(&root, &source, &mut problems);
            // The node tree is the largest thing a big manifest makes: gone before
            // the shots are built (peak memory is that of one step, not of three).
            drop(root);
            validate::validate(raw, &source, dir, &mut problems)
        }
        Err(e) => {
            problems.push(yaml_problem(&e, &source));
            return Err(Box::new(Invalid { problems: problems.list, source, file_name }));
        }
    };
    // Shown in file order, whatever order the checks found them in.
    problems.list.sort_by_key(|p| (p.line, p.column));
    if problems.has_errors() {
        return Err(Box::new(Invalid { problems: problems.list, source, file_name }));
    }
    Ok(Loaded { manifest, warnings: problems.list, source, file_name })
}

/// A YAML syntax error as a problem at its place.
fn yaml_problem(e: &serde_saphyr::Error, source: &str) -> Problem {
    use serde_saphyr::MessageFormatter;
    let mut message = serde_saphyr::UserMessageFormatter.format_message(e.without_snippet()).into_owned();
    if yaml::is_budget(e) {
        // Name the rule: a resource limit is not a syntax slip.
        message = format!(
            "{message}: aliases that expand to more nodes than the file has bytes, and nesting deeper than {} levels, are refused",
            yaml::MAX_DEPTH
        );
    }
    let loc = e
        .location()
        .map(|l| {
            let (line, column) = (l.line() as u32, l.column() as u32);
            let offset = offset_of(source, line, column);
            yaml::Loc { line, column, offset, len: 1 }
        })
        .unwrap_or_default();
    Problem::error(loc, "(yaml)", format!("the manifest is not valid YAML: {message}")).label("here")
}

/// Byte offset of a 1-based line and column (in characters).
fn offset_of(source: &str, line: u32, column: u32) -> usize {
    let line_start: usize = source.split_inclusive('\n').take(line.saturating_sub(1) as usize).map(str::len).sum();
    let rest = source.get(line_start..).unwrap_or_default();
    let within: usize = rest.chars().take(column.saturating_sub(1) as usize).map(char::len_utf8).sum();
    (line_start + within).min(source.len().saturating_sub(1))
}
