//! The clip options of a shot (`outputFormat`, `outputQuality`, `safety`,
//! `fastPretreatment`, `watermark`) checked against its model, and the two Runware
//! delivery options shotlist refuses (`uploadEndpoint`, `webhookURL`) with the reason.
//! Without a model (no or an unknown provider) only the values themselves are checked.

use super::Validator;
use super::pick;
use super::shot::ShotCtx;
use crate::catalog::output::{self, ClipOptions, OutputFormat, QUALITY_RANGE, SafetyMode};
use crate::catalog::{Mode, Model};
use crate::manifest::diag::Problem;

macro_rules! field {
    ($ctx:expr, $member:ident, $name:literal) => {
        pick($ctx.i, $name, &$ctx.raw.$member, &$ctx.defaults.$member)
    };
}

impl Validator<'_> {
    /// The shot's options, or `None` when one of them is refused (the problem is recorded).
    pub(super) fn clip_options(&mut self, ctx: &ShotCtx<'_>, model: Option<&Model>, mode: Mode) -> Option<ClipOptions> {
        let mut ok = true;
        let mut o = ClipOptions::default();
        let mut refuse = |this: &mut Self, p: Problem| {
            ok = false;
            this.problems.push(p);
        };
        let on = |m: &Model| format!("{} on {}", m.id, m.provider);
        if let Some(e) = field!(ctx, output_format, "outputFormat") {
            match OutputFormat::parse(&e.field.value) {
                None => refuse(
                    self,
                    Problem::error(e.field.loc, &e.path, format!("unknown outputFormat `{}`", e.field.value))
                        .label("not a format")
                        .help("outputFormat: mp4, webm or mov (Runware)"),
                ),
                Some(f) => match model {
                    Some(m) if !output::output_formats(m).contains(&f) => {
                        let offered: Vec<&str> = output::output_formats(m).iter().map(|f| f.name()).collect();
                        refuse(
                            self,
                            Problem::error(
                                e.field.loc,
                                &e.path,
                                format!("{}: {} delivers {} only, not {f}", ctx.who, on(m), offered.join(", ")),
                            )
                            .help("webm and mov are Runware options; use provider runware, or leave outputFormat out"),
                        )
                    }
                    _ => o.output_format = f,
                },
            }
        }
        if let Some(e) = field!(ctx, output_quality, "outputQuality") {
            if !QUALITY_RANGE.contains(&e.field.value) {
                refuse(
                    self,
                    Problem::error(
                        e.field.loc,
                        &e.path,
                        format!("outputQuality must be 20 to 99, not {}", e.field.value),
                    )
                    .help("higher keeps more detail in a bigger file; Runware's default is 95"),
                );
            } else if let Some(m) = model.filter(|m| !output::takes_quality_and_safety(m)) {
                refuse(self, not_here(&e.field.loc, &e.path, ctx, "outputQuality", m));
            } else {
                o.output_quality = Some(e.field.value as u8);
            }
        }
        if let Some(e) = field!(ctx, safety, "safety") {
            let s = &e.field.value;
            let check = s.check_content.as_ref().map(|f| f.value);
            let mode_path = format!("{}.mode", e.path);
            let wanted = match (&s.mode, check) {
                (Some(m), _) if m.value.trim().eq_ignore_ascii_case("none") => None,
                (Some(m), _) => match SafetyMode::parse(&m.value) {
                    Some(mode) if check != Some(false) => Some(mode),
                    Some(_) => {
                        refuse(
                            self,
                            Problem::error(m.loc, &mode_path, "`safety.mode` is set but `checkContent` is false")
                                .help("set `checkContent: true` to check the clips, or leave `safety` out"),
                        );
                        None
                    }
                    None => {
                        refuse(
                            self,
                            Problem::error(m.loc, &mode_path, format!("unknown safety mode `{}`", m.value))
                                .label("not a mode")
                                .help("safety.mode: fast (key frames) or full (every frame); leave `safety` out for no check"),
                        );
                        None
                    }
                },
                // Runware: "When enabled, defaults to fast mode".
                (None, Some(true)) => Some(SafetyMode::Fast),
                (None, _) => None,
            };
            if let (Some(mode), Some(m)) = (wanted, model) {
                if output::takes_quality_and_safety(m) {
                    o.safety = Some(mode);
                } else {
                    refuse(self, not_here(&e.field.loc, &e.path, ctx, "safety", m));
                }
            } else {
                o.safety = wanted;
            }
        }
        if let Some(e) = field!(ctx, fast_pretreatment, "fastPretreatment").filter(|e| e.field.value) {
            match model {
                Some(m) if !output::takes_fast_pretreatment(m, mode) => refuse(
                    self,
                    Problem::error(
                        e.field.loc,
                        &e.path,
                        format!("{}: {} does not take fastPretreatment for {}", ctx.who, on(m), mode.describe()),
                    )
                    .help("MiniMax takes it on MiniMax-Hailuo-2.3 and MiniMax-Hailuo-02 (and MiniMax-Hailuo-2.3-Fast with a first frame)"),
                ),
                _ => {
                    o.fast_pretreatment = true;
                    let optimizer = field!(ctx, prompt_optimizer, "promptOptimizer").is_some_and(|p| p.field.value);
                    if !optimizer {
                        self.problems.push(
                            Problem::warning(e.field.loc, &e.path, "fastPretreatment only shortens the prompt optimizer, which this shot leaves off")
                                .help("add `promptOptimizer: true`, or leave fastPretreatment out"),
                        );
                    }
                }
            }
        }
        if let Some(e) = field!(ctx, watermark, "watermark").filter(|e| e.field.value) {
            match model {
                Some(m) if !output::takes_watermark(m) => {
                    refuse(self, not_here(&e.field.loc, &e.path, ctx, "watermark", m));
                }
                _ => o.watermark = true,
            }
        }
        if let Some(e) = field!(ctx, upload_endpoint, "uploadEndpoint") {
            refuse(
                self,
                Problem::error(e.field.loc, &e.path, "uploadEndpoint is not supported")
                    .label("not supported")
                    .help("Runware would PUT each clip to a server you run (one pre-signed URL per clip), and shotlist could not check or hash what arrives there; leave it out: every clip is downloaded into the out folder and hashed"),
            );
        }
        if let Some(e) = field!(ctx, webhook_url, "webhookURL") {
            refuse(
                self,
                Problem::error(e.field.loc, &e.path, "webhookURL is not supported")
                    .label("not supported")
                    .help("Runware would POST results to a public server you run; shotlist polls instead, which needs no server and misses nothing while it is down; leave it out"),
            );
        }
        ok.then_some(o)
    }
}

fn not_here(
    loc: &crate::manifest::yaml::Loc,
    path: &super::FieldPath,
    ctx: &ShotCtx<'_>,
    option: &str,
    m: &Model,
) -> Problem {
    let owner = match option {
        "watermark" => "MiniMax's",
        _ => "Runware's",
    };
    Problem::error(
        *loc,
        path,
        format!("{}: {option} is {owner} option; {} on {} does not take it", ctx.who, m.id, m.provider),
    )
    .help(format!("leave {option} out for {}", m.provider))
}
