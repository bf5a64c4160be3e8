//! Third step of loading: the raw manifest checked against the catalog and turned
//! into validated shots. Defaults are merged here; every problem points at the line
//! where the offending value is written (in the shot or in `defaults`).

use std::collections::HashMap;
use std::path::Path;

mod h3;
mod options;
mod prices;
mod prompt;
mod shot;
mod template;

use super::diag::{Problem, Problems};
use super::frames::ImageChecker;
use super::references::MediaChecker;
use super::schema::{Field, RawManifest};
use super::{Manifest, ProviderSettings};
use crate::catalog::Provider;
use crate::catalog::templates::Host;

pub use prompt::{PROMPT_MAX, PROMPT_MIN};
pub use shot::ID_MAX;

pub fn validate(mut raw: RawManifest, source: &str, dir: &Path, problems: &mut Problems) -> Manifest {
    // Templates are validated against the list of the host the manifest names
    // (`providers.minimax.baseUrl`), else the global one: `plan` reads no environment.
    let minimax_host = raw
        .providers
        .iter()
        .find(|(p, _)| *p == Provider::Minimax)
        .and_then(|(_, s)| s.base_url.as_ref())
        .map_or(Host::Global, |u| Host::of_base_url(&u.value));
    let mut v = Validator {
        source,
        dir,
        problems,
        images: ImageChecker::default(),
        media: MediaChecker::default(),
        minimax_host,
    };
    match &raw.version {
        Some(f) if f.value != 1 => v.problems.push(
            Problem::error(f.loc, "version", format!("version {} is not supported", f.value))
                .help("this shotlist reads `version: 1` manifests"),
        ),
        _ => {}
    }
    let output = raw.output.as_ref().and_then(|f| {
        if f.value.trim().is_empty() {
            v.problems.push(Problem::error(f.loc, "output", "`output` is empty"));
            None
        } else {
            Some(dir.join(&f.value))
        }
    });
    let max_cost_usd = raw.max_cost_usd.as_ref().and_then(|f| {
        if f.value > 0.0 {
            Some(f.value)
        } else {
            v.problems.push(
                Problem::error(f.loc, "budget.maxCostUsd", format!("the budget must be more than 0, not {}", f.value))
                    .help("leave `budget` out for no limit"),
            );
            None
        }
    });
    let providers = raw.providers.iter().map(|(p, s)| (*p, v.provider_settings(*p, s))).collect();
    let mut shots = Vec::new();
    match &mut raw.shots {
        Some(list) if list.value.is_empty() => v.problems.push(
            Problem::error(list.loc, "shots", "the shot list is empty").help("add at least one shot (`- id: ...`)"),
        ),
        Some(list) => {
            let mut seen: HashMap<String, u32> = HashMap::new();
            // Room for exactly the shots (doubling would leave up to a third unused).
            shots.reserve_exact(list.value.len());
            // Each raw shot is dropped once its shot is built.
            for (i, raw_shot) in std::mem::take(&mut list.value).into_iter().enumerate() {
                let mut ctx = shot::ShotCtx::new(i, &raw_shot, &raw.defaults);
                if let Some(shot) = v.shot(&mut ctx, &mut seen) {
                    shots.push(shot);
                }
            }
        }
        None => {}
    }
    let prices = v.prices(&raw.prices);
    Manifest {
        name: raw.name.as_ref().map(|f| f.value.clone()),
        output,
        providers,
        max_cost_usd,
        prices,
        shots,
        path: Default::default(),
        dir: dir.to_path_buf(),
    }
}

/// Checks a manifest, keeping the problems it finds; one per manifest.
struct Validator<'a> {
    source: &'a str,
    dir: &'a Path,
    problems: &'a mut Problems,
    images: ImageChecker,
    media: MediaChecker,
    /// The MiniMax host whose template list applies.
    minimax_host: Host,
}

/// A shot field taken from the shot, or else from `defaults`, with the path it was
/// written under (so a problem names `defaults.resolution` when that is the culprit).
struct Effective<'f, T> {
    field: &'f Field<T>,
    path: FieldPath,
}

/// Where a shot field was written, spelt out only when a problem names it: a
/// 100,000-shot manifest reads about twenty fields a shot, and formatting every
/// path up front was a good part of its validation time.
#[derive(Clone, Debug)]
enum FieldPath {
    /// `shots[i].name`
    Shot(usize, &'static str),
    /// `defaults.name`
    Defaults(&'static str),
    /// Anything else, already spelt out (a list item's path).
    Spelt(String),
}

impl std::fmt::Display for FieldPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldPath::Shot(i, name) => write!(f, "shots[{i}].{name}"),
            FieldPath::Defaults(name) => write!(f, "defaults.{name}"),
            FieldPath::Spelt(path) => f.write_str(path),
        }
    }
}

impl From<&FieldPath> for String {
    fn from(path: &FieldPath) -> String {
        path.to_string()
    }
}

impl From<FieldPath> for String {
    fn from(path: FieldPath) -> String {
        path.to_string()
    }
}

/// The effective value of shot field `name` for shot `i`.
fn pick<'f, T>(
    i: usize,
    name: &'static str,
    shot: &'f Option<Field<T>>,
    defaults: &'f Option<Field<T>>,
) -> Option<Effective<'f, T>> {
    match (shot, defaults) {
        (Some(f), _) => Some(Effective { field: f, path: FieldPath::Shot(i, name) }),
        (None, Some(f)) => Some(Effective { field: f, path: FieldPath::Defaults(name) }),
        (None, None) => None,
    }
}

impl Validator<'_> {
    fn provider_settings(&mut self, p: Provider, raw: &super::schema::RawProvider) -> ProviderSettings {
        let positive = |this: &mut Self, f: &Option<Field<i64>>, key: &str| -> Option<u32> {
            let f = f.as_ref()?;
            match u32::try_from(f.value) {
                Ok(n) if n > 0 => Some(n),
                _ => {
                    this.problems.push(
                        Problem::error(
                            f.loc,
                            format!("providers.{p}.{key}"),
                            format!("`{key}` must be at least 1, not {}", f.value),
                        )
                        .help("leave it out to use the provider's documented limit"),
                    );
                    None
                }
            }
        };
        let requests_per_minute = positive(self, &raw.requests_per_minute, "requestsPerMinute");
        let max_in_flight = positive(self, &raw.max_in_flight, "maxInFlight");
        let base_url = raw.base_url.as_ref().and_then(|f| {
            let lower = f.value.to_ascii_lowercase();
            if lower.starts_with("https://") || lower.starts_with("http://") {
                Some(f.value.trim_end_matches('/').to_owned())
            } else {
                self.problems.push(Problem::error(
                    f.loc,
                    format!("providers.{p}.baseUrl"),
                    format!("`{}` is not an http(s) URL", f.value),
                ));
                None
            }
        });
        ProviderSettings { requests_per_minute, max_in_flight, base_url }
    }
}
