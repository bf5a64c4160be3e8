//! One shot checked against the catalog: its id, provider, images (which decide the
//! mode), model, resolution × duration and result count. Defaults are merged here.

use std::collections::HashMap;

use super::{Effective, FieldPath, Validator, pick};
use crate::catalog::{self, LookupError, Mode, Model, Provider, Resolution};
use crate::manifest::Shot;
use crate::manifest::diag::Problem;
use crate::manifest::frames::Image;
use crate::manifest::schema::{RawShot, closest};
use crate::manifest::yaml::Loc;

/// Longest shot id; it names folders and files.
pub const ID_MAX: usize = 100;

/// The shot being checked: its index, its own fields, the defaults, and how
/// messages name it ("shot `s010`", or "shot 3" while it has no valid id).
pub(super) struct ShotCtx<'a> {
    pub i: usize,
    pub raw: &'a RawShot,
    pub defaults: &'a RawShot,
    pub who: String,
}

impl<'a> ShotCtx<'a> {
    pub fn new(i: usize, raw: &'a RawShot, defaults: &'a RawShot) -> Self {
        ShotCtx { i, raw, defaults, who: format!("shot {}", i + 1) }
    }

    /// A problem about a field the shot lacks: it points at the shot itself.
    pub(super) fn missing(&self, name: &str, message: String) -> Problem {
        Problem::error(self.raw.loc, format!("shots[{}].{name}", self.i), message).label("this shot")
    }
}

/// Reads the effective value of a shot field: `field!(ctx, model, "model")`.
macro_rules! field {
    ($ctx:expr, $member:ident, $name:literal) => {
        pick($ctx.i, $name, &$ctx.raw.$member, &$ctx.defaults.$member)
    };
}

/// A shot's images: `None` when absent, `Some(None)` when present but refused.
struct Images {
    first: Option<Option<Image>>,
    last: Option<Option<Image>>,
    subject: Option<Option<Image>>,
}

impl Images {
    fn any_refused(&self) -> bool {
        [&self.first, &self.last, &self.subject].iter().any(|i| matches!(i, Some(None)))
    }
}

impl Validator<'_> {
    pub(super) fn shot(&mut self, ctx: &mut ShotCtx<'_>, seen: &mut HashMap<String, u32>) -> Option<Shot> {
        let id = self.shot_id(ctx, seen);
        if let Some(id) = &id {
            ctx.who = format!("shot `{id}`");
        }
        let ctx = &*ctx;
        if ctx.raw.template.is_some() || ctx.defaults.template.is_some() {
            return self.template_shot(ctx, id);
        }
        let provider = self.provider(ctx);
        // Images first: the mode they make decides the model variant and what is allowed.
        let images = Images {
            first: self.image(field!(ctx, first_frame, "frames.first")),
            last: self.image(field!(ctx, last_frame, "frames.last")),
            subject: self.image(field!(ctx, subject, "subject")),
        };
        let references = self.references(ctx);
        let mode = self.mode(ctx);
        let mode = self.mode_with_references(ctx, mode, &references);
        let model = match (provider, field!(ctx, model, "model")) {
            (_, None) => {
                self.problems.push(
                    ctx.missing("model", format!("{} has no model", ctx.who))
                        .help("set `model:` on the shot or in `defaults` (e.g. hailuo-2.3, director, minimax:3@1)"),
                );
                None
            }
            (None, Some(_)) => None,
            (Some(p), Some(e)) => self.model(p, &e, images.first.is_some()),
        };
        let camera = field!(ctx, camera, "camera");
        let camera_moves = self.camera_field(camera.as_ref());
        let Some(model) = model else {
            // No model (no provider, or an unknown one): the shot is in error already, but
            // what holds for every model is still checked, so one run shows every mistake.
            self.resolution(ctx);
            self.duration(ctx);
            self.number_results(ctx, None);
            let mut ok = false;
            let mode = mode.unwrap_or(Mode::Text);
            self.clip_options(ctx, None, mode);
            self.prompt(ctx, field!(ctx, prompt, "prompt").as_ref(), &camera_moves, None, mode, &mut ok);
            return None;
        };
        let resolution = self.resolution(ctx);
        let duration = self.duration(ctx);

        // Everything below needs the model and mode; without them the shot is already in error.
        let (Some(id), Some(provider), Some(mode)) = (id, provider, mode) else {
            return None;
        };
        let mut ok = self.mode_supported(ctx, model, mode);
        let resolution = resolution.map(|(r, e)| (model.read_resolution(r), e));
        let resolution_value = resolution.as_ref().map_or(model.default_resolution, |(r, _)| *r);
        let duration_value = duration.as_ref().map_or(model.default_duration, |(n, _)| *n);
        if ok {
            ok = self.combo_offered(ctx, model, mode, resolution.as_ref(), duration.as_ref());
        }
        let number_results = match self.number_results(ctx, Some(model)) {
            Some(n) => n,
            None => {
                ok = false;
                1
            }
        };
        if !camera_moves.is_empty() && !model.camera {
            ok = false;
            let e = camera.as_ref().expect("moves come from the camera field");
            self.problems.push(
                Problem::error(
                    e.field.loc,
                    &e.path,
                    format!("{}: {} does not take camera commands", ctx.who, model.id),
                )
                .help("camera moves work on Hailuo and Director models; describe the motion in the prompt instead"),
            );
        }
        let prompt =
            self.prompt(ctx, field!(ctx, prompt, "prompt").as_ref(), &camera_moves, Some(model), mode, &mut ok);
        let options = self.clip_options(ctx, Some(model), mode);
        let ratio = if ok { self.h3_rules(ctx, model, mode, &references) } else { Ok(None) };
        if !ok || images.any_refused() || references.refused {
            return None;
        }
        let Ok(ratio) = ratio else { return None };
        let options = options?;
        Some(Shot {
            id,
            line: ctx.raw.loc.line,
            provider,
            model,
            mode,
            prompt,
            camera: camera_moves,
            resolution: resolution_value,
            duration: duration_value,
            number_results,
            prompt_optimizer: field!(ctx, prompt_optimizer, "promptOptimizer").is_some_and(|e| e.field.value),
            first_frame: images.first.flatten(),
            last_frame: images.last.flatten(),
            subject: images.subject.flatten(),
            ratio,
            references: references.refs,
            options,
            template: None,
        })
    }

    fn shot_id(&mut self, ctx: &ShotCtx<'_>, seen: &mut HashMap<String, u32>) -> Option<String> {
        let path = format!("shots[{}].id", ctx.i);
        let Some(f) = &ctx.raw.id else {
            self.problems.push(
                ctx.missing("id", format!("{} has no `id`", ctx.who))
                    .help("give every shot a unique id such as `s010-subway`; it names the clip files"),
            );
            return None;
        };
        let id = f.value.as_str();
        let bad = |msg: String| Problem::error(f.loc, &path, msg).label("not a valid id");
        let valid_chars = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        let problem = if id.is_empty() {
            Some(bad("the shot id is empty".into()))
        } else if !valid_chars || id.starts_with('.') {
            // `.`, `..` and anything with a separator could name a path outside the out folder.
            Some(
                bad(format!("shot id `{id}` could name a file outside its folder or is not portable"))
                    .help("use letters, digits, `.`, `_` and `-` only, not starting with `.` (the id names files)"),
            )
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

    fn provider(&mut self, ctx: &ShotCtx<'_>) -> Option<Provider> {
        let Some(e) = field!(ctx, provider, "provider") else {
            return self.implied_provider(ctx);
        };
        let provider = Provider::parse(&e.field.value);
        if provider.is_none() {
            let names: Vec<&str> = Provider::ALL.iter().map(|p| p.name()).collect();
            let hint = match closest(&e.field.value, &names) {
                Some(best) => format!("did you mean `{best}`? providers: runware, minimax, segmind"),
                None => "providers: runware, minimax, segmind".to_owned(),
            };
            self.problems.push(
                Problem::error(e.field.loc, &e.path, format!("unknown provider `{}`", e.field.value))
                    .label("not a provider")
                    .help(hint),
            );
        }
        provider
    }

    /// The provider a shot without `provider:` means: the one provider whose own id
    /// its model is. An alias, or an id several providers share, needs `provider:`.
    fn implied_provider(&mut self, ctx: &ShotCtx<'_>) -> Option<Provider> {
        let model = field!(ctx, model, "model");
        let name = model.as_ref().map(|e| e.field.value.trim());
        let choices = match name.map(catalog::implied_provider) {
            Some(Ok(p)) => return Some(p),
            Some(Err(choices)) => choices,
            None => Vec::new(),
        };
        let list = |ps: &[Provider]| ps.iter().map(|p| format!("`provider: {p}`")).collect::<Vec<_>>().join(", ");
        let help = match (name, choices.len()) {
            (Some(n), 0) => format!("no provider knows the model `{n}`; set `provider: runware` (or minimax, segmind)"),
            (Some(n), 1) => format!("`{n}` is an alias, offered by {} only; set {}", choices[0], list(&choices)),
            (Some(n), _) => format!("`{n}` is offered by several providers; set one of {}", list(&choices)),
            (None, _) => "set `provider: runware` (or minimax, segmind) on the shot or in `defaults`".to_owned(),
        };
        self.problems.push(ctx.missing("provider", format!("{} has no provider", ctx.who)).help(help));
        None
    }

    pub(super) fn image(&mut self, e: Option<Effective<'_, String>>) -> Option<Option<Image>> {
        let e = e?;
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

    /// The mode the shot's images make, or `None` (with a problem) for a combination
    /// no model takes.
    fn mode(&mut self, ctx: &ShotCtx<'_>) -> Option<Mode> {
        let first = field!(ctx, first_frame, "frames.first");
        let last = field!(ctx, last_frame, "frames.last");
        let subject = field!(ctx, subject, "subject");
        match (first.is_some(), last, subject) {
            (has_first, last, Some(sub)) if has_first || last.is_some() => {
                self.problems.push(
                    Problem::error(
                        sub.field.loc,
                        &sub.path,
                        format!("{} has both a subject reference and frames", ctx.who),
                    )
                    .help("a subject reference (S2V-01) cannot be combined with first or last frames"),
                );
                None
            }
            (_, _, Some(_)) => Some(Mode::Subject),
            (false, Some(l), None) => {
                self.problems.push(
                    Problem::error(l.field.loc, &l.path, format!("{} has a last frame but no first frame", ctx.who))
                        .help("add `frames.first`; only first-and-last-frame generation is supported"),
                );
                None
            }
            (true, Some(_), None) => Some(Mode::FirstLast),
            (true, None, None) => Some(Mode::FirstFrame),
            (false, None, None) => Some(Mode::Text),
        }
    }

    fn model(&mut self, p: Provider, e: &Effective<'_, String>, has_first: bool) -> Option<&'static Model> {
        let name = e.field.value.trim();
        let problem = match catalog::lookup(p, name, has_first) {
            Ok(m) => return Some(m),
            Err(LookupError::NotOnProvider { offered_by }) => {
                let on: Vec<&str> = offered_by.iter().map(|p| p.name()).collect();
                let help = match catalog::equivalent(p, name) {
                    Some(same) => format!("it is offered by {}; on {p} the same model is `{same}`", on.join(", ")),
                    None => format!(
                        "it is offered by {}; on {p} use one of: {}",
                        on.join(", "),
                        catalog::names_for(p).join(", ")
                    ),
                };
                Problem::error(e.field.loc, &e.path, format!("model `{name}` is not offered by {p}"))
                    .label(format!("not on {p}"))
                    .help(help)
            }
            Err(LookupError::Unknown) => {
                let names = catalog::names_for(p);
                let help = match closest(name, &names) {
                    Some(best) => format!("did you mean `{best}`? models on {p}: {}", names.join(", ")),
                    None => format!("models on {p}: {}", names.join(", ")),
                };
                Problem::error(e.field.loc, &e.path, format!("unknown model `{name}` on {p}"))
                    .label("unknown model")
                    .help(help)
            }
        };
        self.problems.push(problem);
        None
    }

    fn resolution<'c>(&mut self, ctx: &'c ShotCtx<'_>) -> Option<(Resolution, Effective<'c, String>)> {
        let e = field!(ctx, resolution, "resolution")?;
        let r = Resolution::parse(&e.field.value);
        if r.is_none() {
            self.problems.push(
                Problem::error(e.field.loc, &e.path, format!("unknown resolution `{}`", e.field.value))
                    .help("resolutions: 480p, 512p, 720p, 768p, 1080p, 1440p (2k)"),
            );
        }
        r.map(|r| (r, e))
    }

    fn duration<'c>(&mut self, ctx: &'c ShotCtx<'_>) -> Option<(u32, Effective<'c, i64>)> {
        let e = field!(ctx, duration, "duration")?;
        match u32::try_from(e.field.value) {
            Ok(n) if n > 0 => Some((n, e)),
            _ => {
                self.problems.push(Problem::error(
                    e.field.loc,
                    &e.path,
                    format!("duration must be a positive number of seconds, not {}", e.field.value),
                ));
                None
            }
        }
    }

    /// Whether the model takes the shot's mode; the problem points at what brought
    /// the mode in (the last frame, the subject) or else at the model.
    fn mode_supported(&mut self, ctx: &ShotCtx<'_>, model: &Model, mode: Mode) -> bool {
        if model.supports(mode) {
            return true;
        }
        let culprit = match mode {
            Mode::FirstLast => field!(ctx, last_frame, "frames.last"),
            Mode::Subject => field!(ctx, subject, "subject"),
            _ => None,
        };
        let (loc, path) = match culprit {
            Some(e) => (e.field.loc, e.path.to_string()),
            None => (model_loc(ctx), format!("shots[{}].model", ctx.i)),
        };
        let modes: Vec<&str> = model.modes.iter().map(|m| m.describe()).collect();
        let help = match mode {
            Mode::Text if model.supports(Mode::Subject) => {
                format!("{} needs a subject reference (`subject:`)", model.id)
            }
            Mode::Text => format!("{} needs a first frame (`frames.first`); it offers: {}", model.id, modes.join(", ")),
            Mode::FirstLast => {
                "only Hailuo 02 (minimax:3@1, MiniMax-Hailuo-02, minimax-hailuo-2) takes a last frame".to_owned()
            }
            Mode::Subject => {
                "a subject reference needs S2V-01 on minimax (alias s2v-01) or minimax-ai on segmind".to_owned()
            }
            Mode::FirstFrame => format!("{} offers: {}", model.id, modes.join(", ")),
            Mode::Reference => "references need MiniMax H3: `h3` on minimax (images, videos, audio) or on runware \
                                (images)"
                .to_owned(),
            Mode::Template => "a video template is written as `template:`, without a model".to_owned(),
        };
        self.problems.push(
            Problem::error(
                loc,
                path,
                format!("{}: {} ({}) does not support {}", ctx.who, model.id, model.name, mode.describe()),
            )
            .help(help),
        );
        false
    }

    /// Whether the model offers the resolution in this mode, and the duration at it.
    fn combo_offered(
        &mut self,
        ctx: &ShotCtx<'_>,
        model: &Model,
        mode: Mode,
        resolution: Option<&(Resolution, Effective<'_, String>)>,
        duration: Option<&(u32, Effective<'_, i64>)>,
    ) -> bool {
        let res = resolution.map_or(model.default_resolution, |(r, _)| *r);
        let res = crate::catalog::h3::resolution_label(model, res);
        let secs = duration.map_or(model.default_duration, |(n, _)| *n);
        let allowed = model.durations(res.resolution, mode);
        let at = |e: Option<(Loc, &FieldPath)>, name: &str| {
            e.map_or((model_loc(ctx), format!("shots[{}].{name}", ctx.i)), |(l, p)| (l, p.to_string()))
        };
        let res_at = resolution.map(|(_, e)| (e.field.loc, &e.path));
        let problem = if allowed.is_empty() {
            let offered: Vec<&str> = model.resolutions(mode).iter().map(|r| r.name()).collect();
            let (loc, path) = at(res_at, "resolution");
            Problem::error(loc, path, format!("{}: {} does not offer {res} for {}", ctx.who, model.id, mode.describe()))
                .help(format!("{} offers {} here", model.id, offered.join(", ")))
        } else if !allowed.contains(&secs) {
            let (loc, path) = at(duration.map(|(_, e)| (e.field.loc, &e.path)).or(res_at), "duration");
            let list: Vec<String> = allowed.iter().map(|d| format!("{d} s")).collect();
            // A run of whole seconds (H3: 4 to 15) reads better as a range.
            let contiguous = allowed.len() > 3 && allowed.windows(2).all(|w| w[1] == w[0] + 1);
            let offered = match (contiguous, allowed.first(), allowed.last()) {
                (true, Some(a), Some(b)) => format!("{a} to {b} s"),
                _ => list.join(" or "),
            };
            Problem::error(loc, path, format!("{}: {} does not offer {secs} s at {res}", ctx.who, model.id))
                .help(format!("at {res} it offers {offered}"))
        } else {
            return true;
        };
        self.problems.push(problem);
        false
    }

    /// The result count; without a model only "at least 1" is checked.
    pub(super) fn number_results(&mut self, ctx: &ShotCtx<'_>, model: Option<&Model>) -> Option<u32> {
        let Some(e) = field!(ctx, number_results, "numberResults") else { return Some(1) };
        let Some(model) = model else {
            if e.field.value >= 1 {
                return u32::try_from(e.field.value).ok();
            }
            self.problems.push(
                Problem::error(
                    e.field.loc,
                    &e.path,
                    format!("numberResults must be at least 1, not {}", e.field.value),
                )
                .help("each result is a separately billed clip"),
            );
            return None;
        };
        match u32::try_from(e.field.value) {
            Ok(n) if (1..=model.max_results).contains(&n) => Some(n),
            _ => {
                self.problems.push(
                    Problem::error(
                        e.field.loc,
                        &e.path,
                        format!(
                            "numberResults must be 1 to {} for {}, not {}",
                            model.max_results, model.id, e.field.value
                        ),
                    )
                    .help("each result is a separately billed clip"),
                );
                None
            }
        }
    }
}

/// Where the shot's model is written, or the shot itself.
fn model_loc(ctx: &ShotCtx<'_>) -> Loc {
    pick(ctx.i, "model", &ctx.raw.model, &ctx.defaults.model).map_or(ctx.raw.loc, |e| e.field.loc)
}
