//! The H3 rules of a shot: `references` (files checked, counts per kind, frames or
//! references but not both, audio never alone, 15 s of video at most) and `ratio`
//! (required for text-to-video, not `adaptive` there; with frames the clip follows
//! the first frame).

use super::shot::ShotCtx;
use super::{Validator, pick};
use crate::catalog::{Mode, Model, Ratio, h3};
use crate::manifest::diag::Problem;
use crate::manifest::references::{MediaKind, References};
use crate::manifest::yaml::Loc;

/// A shot's references as checked: what passed, whether any file was refused,
/// and where each kind's list is written.
pub(super) struct Checked {
    pub refs: References,
    pub refused: bool,
    /// Where `references` is written (the shot's, or the defaults').
    pub at: Option<(Loc, String)>,
    lists: Vec<(MediaKind, Loc, String)>,
}

impl Checked {
    fn list_at(&self, kind: MediaKind) -> Option<(Loc, String)> {
        self.lists.iter().find(|(k, _, _)| *k == kind).map(|(_, l, p)| (*l, p.clone()))
    }
}

impl Validator<'_> {
    pub(super) fn references(&mut self, ctx: &ShotCtx<'_>) -> Checked {
        let mut out = Checked { refs: References::default(), refused: false, at: None, lists: Vec::new() };
        let Some(e) = pick(ctx.i, "references", &ctx.raw.references, &ctx.defaults.references) else { return out };
        out.at = Some((e.field.loc, e.path.to_string()));
        let raw = &e.field.value;
        for (kind, list) in
            [(MediaKind::Image, &raw.images), (MediaKind::Video, &raw.videos), (MediaKind::Audio, &raw.audio)]
        {
            let Some(list) = list else { continue };
            let path = format!("{}.{}", e.path, kind.key());
            out.lists.push((kind, list.loc, path.clone()));
            for (j, item) in list.value.iter().enumerate() {
                match self.media.check(kind, &item.value, self.dir) {
                    Ok(m) => match kind {
                        MediaKind::Image => out.refs.images.push(m),
                        MediaKind::Video => out.refs.videos.push(m),
                        MediaKind::Audio => out.refs.audio.push(m),
                    },
                    Err(message) => {
                        out.refused = true;
                        self.problems
                            .push(Problem::error(item.loc, format!("{path}[{j}]"), message).label("this reference"));
                    }
                }
            }
        }
        out
    }

    /// The mode once references are counted: frames and references never together.
    pub(super) fn mode_with_references(
        &mut self,
        ctx: &ShotCtx<'_>,
        mode: Option<Mode>,
        refs: &Checked,
    ) -> Option<Mode> {
        let written = refs.at.as_ref().filter(|_| refs.refs.count() > 0 || refs.refused);
        let Some((loc, path)) = written else { return mode };
        match mode? {
            Mode::Text => Some(Mode::Reference),
            other => {
                let what = if other == Mode::Subject { "a subject reference" } else { "frames" };
                self.problems.push(
                    Problem::error(*loc, path, format!("{} has both {what} and references", ctx.who))
                        .label("references")
                        .help("H3 takes first/last frames or references, not both: keep one of them"),
                );
                None
            }
        }
    }

    /// The H3 rules for a shot whose model and mode are known; `Err(())` when a
    /// problem was reported. The ratio returned is the one to send.
    pub(super) fn h3_rules(
        &mut self,
        ctx: &ShotCtx<'_>,
        model: &Model,
        mode: Mode,
        refs: &Checked,
    ) -> Result<Option<Ratio>, ()> {
        let own = ctx.raw.ratio.is_some();
        let ratio = pick(ctx.i, "ratio", &ctx.raw.ratio, &ctx.defaults.ratio);
        let parsed = match &ratio {
            None => None,
            Some(e) => match Ratio::parse(&e.field.value) {
                Some(r) => Some((r, e)),
                None => {
                    let names: Vec<&str> = Ratio::ALL.iter().map(|r| r.name()).collect();
                    self.problems.push(
                        Problem::error(e.field.loc, &e.path, format!("unknown ratio `{}`", e.field.value))
                            .help(format!("ratios: {}", names.join(", "))),
                    );
                    return Err(());
                }
            },
        };
        let Some(spec) = model.h3 else {
            // A ratio in `defaults` is for the H3 shots; written on this shot, it is a mistake.
            if let (true, Some((_, e))) = (own, &parsed) {
                self.problems.push(
                    Problem::error(e.field.loc, &e.path, format!("{}: {} takes no `ratio`", ctx.who, model.id))
                        .help("`ratio` is for MiniMax H3 models (h3, h3-max); other models make 16:9"),
                );
                return Err(());
            }
            return Ok(None);
        };
        let mut ok = true;
        let ratio = match (mode, parsed) {
            (Mode::Text, None) => {
                self.problems.push(
                    ctx.missing("ratio", format!("{} has no ratio", ctx.who)).help(format!(
                        "{} needs `ratio:` for text-to-video: 16:9, 9:16, 1:1, 4:3, 3:4 or 21:9",
                        model.id
                    )),
                );
                return Err(());
            }
            (Mode::Text, Some((Ratio::Adaptive, e))) => {
                self.problems.push(
                    Problem::error(e.field.loc, &e.path, format!("{}: `adaptive` needs a frame to adapt to", ctx.who))
                        .help("text-to-video needs a fixed ratio: 16:9, 9:16, 1:1, 4:3, 3:4 or 21:9"),
                );
                return Err(());
            }
            (Mode::FirstFrame | Mode::FirstLast, Some((r, e))) if r != Ratio::Adaptive && own => {
                self.problems.push(
                    Problem::error(
                        e.field.loc,
                        &e.path,
                        format!("{}: with frames the clip takes the first frame's ratio", ctx.who),
                    )
                    .help("leave `ratio` out (or write `adaptive`) on shots with frames"),
                );
                return Err(());
            }
            (Mode::FirstFrame | Mode::FirstLast, _) => None,
            (_, r) => r.map(|(r, _)| r),
        };
        if mode == Mode::Reference {
            ok &= self.reference_counts(ctx, model, spec, refs);
        }
        if ok { Ok(ratio) } else { Err(()) }
    }

    fn reference_counts(&mut self, ctx: &ShotCtx<'_>, model: &Model, spec: &h3::H3Spec, refs: &Checked) -> bool {
        let mut ok = true;
        let limits = &spec.references;
        let shot_at = || refs.at.clone().unwrap_or((ctx.raw.loc, format!("shots[{}].references", ctx.i)));
        for (kind, n, max) in [
            (MediaKind::Image, refs.refs.images.len(), limits.images),
            (MediaKind::Video, refs.refs.videos.len(), limits.videos),
            (MediaKind::Audio, refs.refs.audio.len(), limits.audio),
        ] {
            if n as u32 <= max {
                continue;
            }
            ok = false;
            let (loc, path) = refs.list_at(kind).unwrap_or_else(shot_at);
            let message = if max == 0 {
                format!("{}: {} takes no reference {}", ctx.who, model.id, kind.key())
            } else {
                format!("{}: {n} reference {}; {} takes at most {max}", ctx.who, kind.key(), model.id)
            };
            let help = match (kind, model.provider) {
                (MediaKind::Image, _) => "keep the images that matter most for the subject and style".to_owned(),
                (_, crate::catalog::Provider::Runware) => {
                    "on Runware only reference images are sent; use provider minimax for videos and audio".to_owned()
                }
                _ => format!(
                    "{} takes {} images, {} videos, {} audio clips",
                    model.id, limits.images, limits.videos, limits.audio
                ),
            };
            self.problems.push(Problem::error(loc, path, message).help(help));
        }
        if ok && refs.refs.count() as u32 > limits.files {
            ok = false;
            let (loc, path) = shot_at();
            self.problems.push(Problem::error(
                loc,
                path,
                format!("{}: {} reference files; a request takes at most {}", ctx.who, refs.refs.count(), limits.files),
            ));
        }
        if !refs.refs.audio.is_empty() && refs.refs.images.is_empty() && refs.refs.videos.is_empty() {
            ok = false;
            let (loc, path) = refs.list_at(MediaKind::Audio).unwrap_or_else(shot_at);
            self.problems.push(
                Problem::error(loc, path, format!("{}: reference audio cannot be the only reference", ctx.who))
                    .help("add a reference image or video beside the audio"),
            );
        }
        let total: f64 = refs.refs.videos.iter().filter_map(|m| m.secs()).sum();
        if total > h3::VIDEO_TOTAL_SECS {
            ok = false;
            let (loc, path) = refs.list_at(MediaKind::Video).unwrap_or_else(shot_at);
            self.problems.push(Problem::error(
                loc,
                path,
                format!(
                    "{}: the reference videos last {total:.1} s together; at most {} s",
                    ctx.who,
                    h3::VIDEO_TOTAL_SECS
                ),
            ));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use crate::manifest::{Mode, load_str};

    fn load(yaml: &str) -> Result<crate::manifest::Loaded, Box<crate::manifest::Invalid>> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/manifests/invalid");
        load_str(yaml.to_owned(), "m.yaml".into(), &root)
    }

    #[test]
    fn an_h3_night_loads_with_ratio_references_and_free_prose_brackets() {
        let loaded = load(
            "version: 1\ndefaults: { provider: minimax, model: h3, ratio: \"16:9\" }\nshots:\n\
             - id: t\n  prompt: \"[Shot 1] a kite rises; the camera pushes in slowly\"\n\
             - id: f\n  prompt: a kite lands\n  frames: { first: ../frames/ok-first.png, last: ../frames/ok-last.png }\n\
             - id: r\n  prompt: the same kite over a city\n  references: { images: [../frames/ok-first.png] }\n",
        )
        .unwrap();
        let shots = &loaded.manifest.shots;
        assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
        assert_eq!(shots[0].mode, Mode::Text);
        assert_eq!(shots[0].ratio.map(|r| r.name()), Some("16:9"));
        // A ratio from `defaults` does not apply to a shot with frames.
        assert_eq!((shots[1].mode, shots[1].ratio), (Mode::FirstLast, None));
        assert_eq!(shots[2].mode, Mode::Reference);
        assert_eq!(shots[2].references.images.len(), 1);
    }

    #[test]
    fn ratio_on_a_v1_shot_audio_alone_and_references_on_h3_max_are_refused() {
        let bad = load(
            "version: 1\ndefaults: { provider: minimax }\nshots:\n\
             - id: a\n  model: hailuo-02\n  ratio: \"9:16\"\n  prompt: a quiet lake\n\
             - id: b\n  model: h3-max\n  prompt: a quiet lake\n  references: { images: [../frames/ok-first.png] }\n",
        )
        .unwrap_err();
        let text = bad.render(false);
        assert!(text.contains("takes no `ratio`"), "{text}");
        assert!(text.contains("does not support references"), "{text}");
    }
}
