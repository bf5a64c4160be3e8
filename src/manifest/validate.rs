//! Third step of loading: the raw manifest checked against the catalog and turned
//! into validated shots. Defaults are merged here; every problem points at the line
//! where the offending value is written (in the shot or in `defaults`).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use super::camera;
use super::diag::{Problem, Problems};
use super::frames::{Image, ImageChecker};
use super::schema::{Field, RawManifest, RawShot, closest};
use super::yaml::Loc;
use super::{Manifest, ProviderSettings, Shot};
use crate::catalog::{self, LookupError, Mode, Provider, Resolution};

/// Prompt limits in Unicode scalar values (Runware: min 2, max 2000; MiniMax: max 2000).
pub const PROMPT_MIN: usize = 2;
pub const PROMPT_MAX: usize = 2000;
/// Longest shot id; it names folders and files.
pub const ID_MAX: usize = 100;

pub fn validate(raw: &RawManifest, source: &str, dir: &Path, problems: &mut Problems) -> Manifest {
    let mut v = Validator { source, dir, problems, images: ImageChecker::default() };
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
    match &raw.shots {
        Some(list) if list.value.is_empty() => v.problems.push(
            Problem::error(list.loc, "shots", "the shot list is empty").help("add at least one shot (`- id: ...`)"),
        ),
        Some(list) => {
            let mut seen: HashMap<String, u32> = HashMap::new();
            for (i, raw_shot) in list.value.iter().enumerate() {
                if let Some(shot) = v.shot(i, raw_shot, &raw.defaults, &mut seen) {
                    shots.push(shot);
                }
            }
        }
        None => {}
    }
    Manifest {
        name: raw.name.as_ref().map(|f| f.value.clone()),
        output,
        providers,
        max_cost_usd,
        shots,
        path: Default::default(),
        dir: dir.to_path_buf(),
    }
}

struct Validator<'a> {
    source: &'a str,
    dir: &'a Path,
    problems: &'a mut Problems,
    images: ImageChecker,
}

/// A shot field taken from the shot, or else from `defaults`, with the path it was
/// written under (so a problem names `defaults.resolution` when that is the culprit).
struct Effective<'f, T> {
    field: &'f Field<T>,
    path: String,
}

fn pick<'f, T>(
    i: usize,
    name: &str,
    shot: &'f Option<Field<T>>,
    defaults: &'f Option<Field<T>>,
) -> Option<Effective<'f, T>> {
    match (shot, defaults) {
        (Some(f), _) => Some(Effective { field: f, path: format!("shots[{i}].{name}") }),
        (None, Some(f)) => Some(Effective { field: f, path: format!("defaults.{name}") }),
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
                        Problem::error(f.loc, format!("providers.{p}.{key}"), format!("`{key}` must be at least 1, not {}", f.value))
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

    fn shot(&mut self, i: usize, s: &RawShot, d: &RawShot, seen: &mut HashMap<String, u32>) -> Option<Shot> {
        let id = self.shot_id(i, s, seen);
        let who = id.as_deref().map_or_else(|| format!("shot {}", i + 1), |id| format!("shot `{id}`"));

        let provider = match pick(i, "provider", &s.provider, &d.provider) {
            None => {
                self.problems.push(
                    Problem::error(s.loc, format!("shots[{i}].provider"), format!("{who} has no provider"))
                        .label("this shot")
                        .help("set `provider: runware` (or minimax, segmind) on the shot or in `defaults`"),
                );
                None
            }
            Some(e) => match Provider::parse(&e.field.value) {
                Some(p) => Some(p),
                None => {
                    let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
                    let mut p = Problem::error(e.field.loc, &e.path, format!("unknown provider `{}`", e.field.value))
                        .label("not a provider");
                    p = match closest(&e.field.value, &names) {
                        Some(best) => p.help(format!("did you mean `{best}`? providers: runware, minimax, segmind")),
                        None => p.help("providers: runware, minimax, segmind"),
                    };
                    self.problems.push(p);
                    None
                }
            },
        };

        // Images first: the mode they make decides the model variant and what is allowed.
        let first = self.image(i, "frames.first", &s.first_frame, &d.first_frame);
        let last = self.image(i, "frames.last", &s.last_frame, &d.last_frame);
        let subject = self.image(i, "subject", &s.subject, &d.subject);
        let has_first = pick(i, "frames.first", &s.first_frame, &d.first_frame).is_some();
        let has_last = pick(i, "frames.last", &s.last_frame, &d.last_frame);
        let has_subject = pick(i, "subject", &s.subject, &d.subject);
        let mode = match (has_first, &has_last, &has_subject) {
            (_, _, Some(sub)) if has_first || has_last.is_some() => {
                self.problems.push(
                    Problem::error(sub.field.loc, &sub.path, format!("{who} has both a subject reference and frames"))
                        .help("a subject reference (S2V-01) cannot be combined with first or last frames"),
                );
                None
            }
            (_, _, Some(_)) => Some(Mode::Subject),
            (false, Some(l), None) => {
                self.problems.push(
                    Problem::error(l.field.loc, &l.path, format!("{who} has a last frame but no first frame"))
                        .help("add `frames.first`; only first-and-last-frame generation is supported"),
                );
                None
            }
            (true, Some(_), None) => Some(Mode::FirstLast),
            (true, None, None) => Some(Mode::FirstFrame),
            (false, None, None) => Some(Mode::Text),
        };

        let model = match (provider, pick(i, "model", &s.model, &d.model)) {
            (_, None) => {
                self.problems.push(
                    Problem::error(s.loc, format!("shots[{i}].model"), format!("{who} has no model"))
                        .label("this shot")
                        .help("set `model:` on the shot or in `defaults` (e.g. hailuo-2.3, director, minimax:3@1)"),
                );
                None
            }
            (None, Some(_)) => None,
            (Some(p), Some(e)) => self.model(p, &e, has_first),
        };

        let resolution = pick(i, "resolution", &s.resolution, &d.resolution).and_then(|e| {
            let r = Resolution::parse(&e.field.value);
            if r.is_none() {
                self.problems.push(
                    Problem::error(e.field.loc, &e.path, format!("unknown resolution `{}`", e.field.value))
                        .help("resolutions: 512p, 720p, 768p, 1080p"),
                );
            }
            r.map(|r| (r, e))
        });
        let duration = pick(i, "duration", &s.duration, &d.duration).and_then(|e| match u32::try_from(e.field.value) {
            Ok(n) if n > 0 => Some((n, e)),
            _ => {
                self.problems.push(
                    Problem::error(e.field.loc, &e.path, format!("duration must be a positive number of seconds, not {}", e.field.value)),
                );
                None
            }
        });
        let number_results = pick(i, "numberResults", &s.number_results, &d.number_results);
        let camera = pick(i, "camera", &s.camera, &d.camera);
        let prompt = pick(i, "prompt", &s.prompt, &d.prompt);
        let prompt_optimizer = pick(i, "promptOptimizer", &s.prompt_optimizer, &d.prompt_optimizer)
            .is_some_and(|e| e.field.value);

        let camera_moves = self.camera_field(camera.as_ref());

        // Everything below needs the model and mode; without them the shot is already in error.
        let (Some(id), Some(provider), Some(model), Some(mode)) = (id, provider, model, mode) else {
            return None;
        };
        let model_loc = pick(i, "model", &s.model, &d.model).map(|e| e.field.loc).unwrap_or(s.loc);
        let mut ok = true;
        if !model.supports(mode) {
            ok = false;
            let (loc, path) = match mode {
                Mode::FirstLast => has_last.as_ref().map(|e| (e.field.loc, e.path.clone())),
                Mode::Subject => has_subject.as_ref().map(|e| (e.field.loc, e.path.clone())),
                _ => None,
            }
            .unwrap_or((model_loc, format!("shots[{i}].model")));
            let modes: Vec<&str> = model.modes.iter().map(|m| m.describe()).collect();
            let help = match mode {
                Mode::Text if model.supports(Mode::Subject) => format!("{} needs a subject reference (`subject:`)", model.id),
                Mode::Text => format!("{} needs a first frame (`frames.first`); it offers: {}", model.id, modes.join(", ")),
                Mode::FirstLast => "only Hailuo 02 (minimax:3@1, MiniMax-Hailuo-02, minimax-hailuo-2) takes a last frame".to_owned(),
                Mode::Subject => "a subject reference needs S2V-01 on minimax (alias s2v-01) or minimax-ai on segmind".to_owned(),
                Mode::FirstFrame => format!("{} offers: {}", model.id, modes.join(", ")),
            };
            self.problems.push(
                Problem::error(loc, path, format!("{who}: {} ({}) does not support {}", model.id, model.name, mode.describe()))
                    .help(help),
            );
        }

        let resolution_value = resolution.as_ref().map_or(model.default_resolution, |(r, _)| *r);
        let duration_value = duration.as_ref().map_or(model.default_duration, |(n, _)| *n);
        if ok {
            let allowed = model.durations(resolution_value, mode);
            if allowed.is_empty() {
                ok = false;
                let offered: Vec<&str> = model.resolutions(mode).iter().map(|r| r.name()).collect();
                let (loc, path) = resolution.as_ref().map_or((model_loc, format!("shots[{i}].resolution")), |(_, e)| (e.field.loc, e.path.clone()));
                self.problems.push(
                    Problem::error(loc, path, format!("{who}: {} does not offer {resolution_value} for {}", model.id, mode.describe()))
                        .help(format!("{} offers {} here", model.id, offered.join(", "))),
                );
            } else if !allowed.contains(&duration_value) {
                ok = false;
                let (loc, path) = match (&duration, &resolution) {
                    (Some((_, e)), _) => (e.field.loc, e.path.clone()),
                    (None, Some((_, e))) => (e.field.loc, e.path.clone()),
                    (None, None) => (model_loc, format!("shots[{i}].duration")),
                };
                let list: Vec<String> = allowed.iter().map(|d| format!("{d} s")).collect();
                self.problems.push(
                    Problem::error(loc, path, format!("{who}: {} does not offer {duration_value} s at {resolution_value}", model.id))
                        .help(format!("at {resolution_value} it offers {}", list.join(" or "))),
                );
            }
        }

        let number_results_value = match number_results {
            None => 1,
            Some(e) => match u32::try_from(e.field.value) {
                Ok(n) if (1..=model.max_results).contains(&n) => n,
                _ => {
                    ok = false;
                    self.problems.push(
                        Problem::error(e.field.loc, &e.path, format!("numberResults must be 1 to {} for {}, not {}", model.max_results, model.id, e.field.value))
                            .help("each result is a separately billed clip"),
                    );
                    1
                }
            },
        };

        if !camera_moves.is_empty() && !model.camera {
            ok = false;
            let e = camera.as_ref().expect("moves come from the camera field");
            self.problems.push(
                Problem::error(e.field.loc, &e.path, format!("{who}: {} does not take camera commands", model.id))
                    .help("camera moves work on Hailuo and Director models; describe the motion in the prompt instead"),
            );
        }

        let final_prompt = self.prompt(&who, i, s, prompt.as_ref(), &camera_moves, model, mode, &mut ok);
        ok &= !self.problems_for_images(&[&first, &last, &subject]);
        if !ok {
            return None;
        }
        Some(Shot {
            id,
            line: s.loc.line,
            provider,
            model,
            mode,
            prompt: final_prompt,
            camera: camera_moves,
            resolution: resolution_value,
            duration: duration_value,
            number_results: number_results_value,
            prompt_optimizer,
            first_frame: first.flatten(),
            last_frame: last.flatten(),
            subject: subject.flatten(),
        })
    }

    /// True when any image failed its check (the problem is already recorded).
    fn problems_for_images(&self, images: &[&Option<Option<Image>>]) -> bool {
        images.iter().any(|i| matches!(i, Some(None)))
    }

    fn shot_id(&mut self, i: usize, s: &RawShot, seen: &mut HashMap<String, u32>) -> Option<String> {
        let path = format!("shots[{i}].id");
        let Some(f) = &s.id else {
            self.problems.push(
                Problem::error(s.loc, path, format!("shot {} has no `id`", i + 1))
                    .label("this shot")
                    .help("give every shot a unique id such as `s010-subway`; it names the clip files"),
            );
            return None;
        };
        let id = f.value.as_str();
        let bad = |msg: String| Problem::error(f.loc, &path, msg).label("not a valid id");
        let valid_chars = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        let problem = if id.is_empty() {
            Some(bad("the shot id is empty".into()))
        } else if id == "." || id == ".." || !valid_chars || id.starts_with('.') {
            Some(bad(format!("shot id `{id}` could name a file outside its folder or is not portable"))
                .help("use letters, digits, `.`, `_` and `-` only, not starting with `.` (the id names files)"))
        } else if id.len() > ID_MAX {
            Some(bad(format!("shot id is {} characters long; at most {ID_MAX}", id.len())))
        } else {
            None
        };
        if let Some(p) = problem {
            self.problems.push(p);
            return None;
        }
        if let Some(first_line) = seen.get(id) {
            self.problems.push(
                Problem::error(f.loc, path, format!("shot id `{id}` is used twice"))
                    .label("second use")
                    .help(format!("first used on line {first_line}; ids must be unique because they name the files")),
            );
            return None;
        }
        seen.insert(id.to_owned(), f.loc.line);
        Some(id.to_owned())
    }

    /// `None` when the field is absent, `Some(None)` when the image was refused.
    fn image(&mut self, i: usize, name: &str, s: &Option<Field<String>>, d: &Option<Field<String>>) -> Option<Option<Image>> {
        let e = pick(i, name, s, d)?;
        Some(match self.images.check(&e.field.value, self.dir) {
            Ok(img) => Some(img),
            Err(problem) => {
                let mut p = Problem::error(e.field.loc, &e.path, problem.message).label("this image");
                if let Some(h) = problem.help {
                    p = p.help(h);
                }
                self.problems.push(p);
                None
            }
        })
    }

    fn model(&mut self, p: Provider, e: &Effective<'_, String>, has_first: bool) -> Option<&'static catalog::Model> {
        let name = e.field.value.trim();
        match catalog::lookup(p, name, has_first) {
            Ok(m) => Some(m),
            Err(LookupError::NotOnProvider { offered_by }) => {
                let on: Vec<&str> = offered_by.iter().map(|p| p.name()).collect();
                let help = match catalog::equivalent(p, name) {
                    Some(same) => format!("it is offered by {}; on {p} the same model is `{same}`", on.join(", ")),
                    None => format!("it is offered by {}; on {p} use one of: {}", on.join(", "), catalog::names_for(p).join(", ")),
                };
                self.problems.push(
                    Problem::error(e.field.loc, &e.path, format!("model `{name}` is not offered by {p}"))
                        .label(format!("not on {p}"))
                        .help(help),
                );
                None
            }
            Err(LookupError::Unknown) => {
                let names = catalog::names_for(p);
                let mut problem = Problem::error(e.field.loc, &e.path, format!("unknown model `{name}` on {p}")).label("unknown model");
                problem = match closest(name, &names) {
                    Some(best) => problem.help(format!("did you mean `{best}`? models on {p}: {}", names.join(", "))),
                    None => problem.help(format!("models on {p}: {}", names.join(", "))),
                };
                self.problems.push(problem);
                None
            }
        }
    }

    fn camera_field(&mut self, camera: Option<&Effective<'_, Vec<Field<String>>>>) -> Vec<&'static str> {
        let Some(e) = camera else { return Vec::new() };
        let mut moves = Vec::new();
        let english: Vec<&str> = camera::MOVES.iter().map(|(en, _)| *en).collect();
        for (j, m) in e.field.value.iter().enumerate() {
            match camera::canonical(&m.value) {
                Some(c) => moves.push(c),
                None => {
                    let mut p = Problem::error(m.loc, format!("{}[{j}]", e.path), format!("unknown camera move `{}`", m.value))
                        .label("not a camera move");
                    p = match closest(&m.value, &english) {
                        Some(best) => p.help(format!("did you mean `{best}`? moves: {}", english.join(", "))),
                        None => p.help(format!("moves: {}", english.join(", "))),
                    };
                    self.problems.push(p);
                }
            }
        }
        if e.field.value.len() > camera::MAX_COMBINED {
            self.problems.push(
                Problem::error(e.field.loc, &e.path, format!("{} camera moves combined; at most {}", e.field.value.len(), camera::MAX_COMBINED))
                    .help("`camera:` moves happen together; for moves one after another, write them as [..] in the prompt"),
            );
        }
        moves
    }

    #[allow(clippy::too_many_arguments)]
    fn prompt(
        &mut self,
        who: &str,
        i: usize,
        s: &RawShot,
        prompt: Option<&Effective<'_, String>>,
        camera_moves: &[&'static str],
        model: &catalog::Model,
        mode: Mode,
        ok: &mut bool,
    ) -> Option<String> {
        let Some(e) = prompt else {
            if mode == Mode::Text || model.prompt_required {
                *ok = false;
                let why = if mode == Mode::Text { "a text-only shot" } else { "every shot on this model" };
                self.problems.push(
                    Problem::error(s.loc, format!("shots[{i}].prompt"), format!("{who} has no prompt"))
                        .label("this shot")
                        .help(format!("{} needs a prompt for {why}", model.id)),
                );
                return None;
            }
            return (!camera_moves.is_empty()).then(|| camera::as_prompt_suffix(camera_moves));
        };
        let text = e.field.value.trim();
        let full = if camera_moves.is_empty() {
            text.to_owned()
        } else {
            format!("{text} {}", camera::as_prompt_suffix(camera_moves))
        };
        let chars = full.chars().count();
        if chars < PROMPT_MIN || chars > PROMPT_MAX {
            *ok = false;
            let extra = if camera_moves.is_empty() { "" } else { " (with the camera moves added)" };
            self.problems.push(
                Problem::error(e.field.loc, &e.path, format!("{who}: the prompt is {chars} character{}{extra}; it must be {PROMPT_MIN} to {PROMPT_MAX}", if chars == 1 { "" } else { "s" }))
                    .label("this prompt"),
            );
        }
        for group in camera::bracket_groups(text) {
            let unknown = group.unknown_parts();
            let loc = self.sub_loc(e.field.loc, group.text);
            if unknown.is_empty() && group.parts.len() > camera::MAX_COMBINED {
                *ok = false;
                self.problems.push(
                    Problem::error(loc, &e.path, format!("{} camera moves combined in {}; at most {}", group.parts.len(), group.text, camera::MAX_COMBINED))
                        .label("too many moves at once")
                        .help("split them into groups that follow one another: `[Pan left, Zoom in], then [Tilt up]`"),
                );
            } else if !unknown.is_empty() {
                self.problems.push(
                    Problem::warning(loc, &e.path, format!("`{}` in {} is not a documented camera move", unknown.join("`, `"), group.text))
                        .label("free text in brackets")
                        .help("the model may still follow it; documented moves are more reliable (e.g. [Pan left], [Zoom in])"),
                );
            } else if !model.camera {
                self.problems.push(
                    Problem::warning(loc, &e.path, format!("{} does not follow camera commands; {} may be read as plain text", model.id, group.text))
                        .label("camera command"),
                );
            }
        }
        Some(full)
    }

    /// The location of `needle` inside a scalar's source text, for labels that point
    /// into a long prompt; the scalar's own location when it cannot be found (escapes).
    fn sub_loc(&self, scalar: Loc, needle: &str) -> Loc {
        let raw = self.source.get(scalar.offset..scalar.offset + scalar.len).unwrap_or_default();
        let Some(at) = raw.find(needle) else { return scalar };
        let before = &raw[..at];
        let newlines = before.matches('\n').count() as u32;
        let column = match before.rfind('\n') {
            Some(nl) => before[nl + 1..].chars().count() as u32 + 1,
            None => scalar.column + before.chars().count() as u32,
        };
        Loc { line: scalar.line + newlines, column, offset: scalar.offset + at, len: needle.len() }
    }
}

/// Settings for providers, keyed for stable output.
pub type ProviderMap = BTreeMap<Provider, ProviderSettings>;
