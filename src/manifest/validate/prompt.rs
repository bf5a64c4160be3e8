//! The prompt and camera moves of a shot: length, `camera:` moves, and the `[...]`
//! groups written inside the prompt (English or Chinese).

use super::shot::ShotCtx;
use super::{Effective, Validator};
use crate::catalog::{Mode, Model};
use crate::manifest::camera;
use crate::manifest::diag::Problem;
use crate::manifest::schema::{Field, closest};
use crate::manifest::yaml::Loc;

/// Prompt limits in Unicode scalar values (Runware: min 2, max 2000; MiniMax: max 2000).
pub const PROMPT_MIN: usize = 2;
pub const PROMPT_MAX: usize = 2000;

impl Validator<'_> {
    pub(super) fn camera_field(&mut self, camera: Option<&Effective<'_, Vec<Field<String>>>>) -> Vec<&'static str> {
        let Some(e) = camera else { return Vec::new() };
        let mut moves = Vec::new();
        let english: Vec<&str> = camera::MOVES.iter().map(|(en, _)| *en).collect();
        for (j, m) in e.field.value.iter().enumerate() {
            match camera::canonical(&m.value) {
                Some(c) => moves.push(c),
                None => {
                    let mut p =
                        Problem::error(m.loc, format!("{}[{j}]", e.path), format!("unknown camera move `{}`", m.value))
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
                Problem::error(
                    e.field.loc,
                    &e.path,
                    format!("{} camera moves combined; at most {}", e.field.value.len(), camera::MAX_COMBINED),
                )
                .help("`camera:` moves happen together; for moves one after another, write them as [..] in the prompt"),
            );
        }
        moves
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn prompt(
        &mut self,
        ctx: &ShotCtx<'_>,
        prompt: Option<&Effective<'_, String>>,
        camera_moves: &[&'static str],
        model: Option<&Model>,
        mode: Mode,
        ok: &mut bool,
    ) -> Option<String> {
        let Some(e) = prompt else {
            // Without a model (no or an unknown provider) only what holds for every model is checked.
            let model = model?;
            if mode == Mode::Text || model.prompt_required {
                *ok = false;
                let why = if mode == Mode::Text { "a text-only shot" } else { "every shot on this model" };
                self.problems.push(
                    ctx.missing("prompt", format!("{} has no prompt", ctx.who))
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
        // H3 (the v2 API) takes longer prompts.
        let max = model.and_then(|m| m.h3).map_or(PROMPT_MAX, |s| s.prompt_max);
        if !(PROMPT_MIN..=max).contains(&chars) {
            *ok = false;
            let extra = if camera_moves.is_empty() { "" } else { " (with the camera moves added)" };
            self.problems.push(
                Problem::error(
                    e.field.loc,
                    &e.path,
                    format!(
                        "{}: the prompt is {chars} character{}{extra}; it must be {PROMPT_MIN} to {max}",
                        ctx.who,
                        if chars == 1 { "" } else { "s" }
                    ),
                )
                .label("this prompt"),
            );
        }
        // `[...]` camera commands are a v1 convention; H3 prompts are free prose.
        let groups = if model.is_some_and(|m| m.h3.is_some()) { Vec::new() } else { camera::bracket_groups(text) };
        for group in groups {
            let unknown = group.unknown_parts();
            let loc = self.sub_loc(e.field.loc, group.text);
            if unknown.is_empty() && group.parts.len() > camera::MAX_COMBINED {
                *ok = false;
                self.problems.push(
                    Problem::error(
                        loc,
                        &e.path,
                        format!(
                            "{} camera moves combined in {}; at most {}",
                            group.parts.len(),
                            group.text,
                            camera::MAX_COMBINED
                        ),
                    )
                    .label("too many moves at once")
                    .help("split them into groups that follow one another: `[Pan left, Zoom in], then [Tilt up]`"),
                );
            } else if !unknown.is_empty() {
                self.problems.push(
                    Problem::warning(loc, &e.path, format!("`{}` in {} is not a documented camera move", unknown.join("`, `"), group.text))
                        .label("free text in brackets")
                        .help("the model may still follow it; documented moves are more reliable (e.g. [Pan left], [Zoom in])"),
                );
            } else if let Some(model) = model.filter(|m| !m.camera) {
                self.problems.push(
                    Problem::warning(
                        loc,
                        &e.path,
                        format!(
                            "{} does not follow camera commands; {} may be read as plain text",
                            model.id, group.text
                        ),
                    )
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
