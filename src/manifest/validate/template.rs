//! A MiniMax video template shot: the template looked up on the manifest's MiniMax
//! host, its `media:` images and `text:` inputs checked against the template's
//! slots, and everything a template decides by itself (model, prompt, frames,
//! camera, resolution, duration, clip options) refused when the shot sets it.
//! The `defaults` of those fields do not apply to a template shot.

use super::shot::ShotCtx;
use super::{Effective, FieldPath, Validator, pick};
use crate::catalog::templates::{self, MODEL};
use crate::catalog::{Mode, Provider};
use crate::manifest::diag::Problem;
use crate::manifest::schema::{Field, closest};
use crate::manifest::validate::PROMPT_MAX;
use crate::manifest::{Shot, TemplateShot};

impl Validator<'_> {
    pub(super) fn template_shot(&mut self, ctx: &ShotCtx<'_>, id: Option<String>) -> Option<Shot> {
        let mut ok = true;
        let e = pick(ctx.i, "template", &ctx.raw.template, &ctx.defaults.template).expect("a template shot");
        if let Some(p) = pick(ctx.i, "provider", &ctx.raw.provider, &ctx.defaults.provider)
            .filter(|p| Provider::parse(&p.field.value) != Some(Provider::Minimax))
        {
            ok = false;
            self.problems.push(
                Problem::error(
                    p.field.loc,
                    &p.path,
                    format!("{}: video templates are MiniMax's, not {}", ctx.who, p.field.value),
                )
                .help("leave `provider:` out on a template shot (or write `provider: minimax`)"),
            );
        }
        let r = ctx.raw;
        let own = [
            ("model", r.model.as_ref().map(|f| f.loc)),
            ("prompt", r.prompt.as_ref().map(|f| f.loc)),
            ("frames.first", r.first_frame.as_ref().map(|f| f.loc)),
            ("frames.last", r.last_frame.as_ref().map(|f| f.loc)),
            ("subject", r.subject.as_ref().map(|f| f.loc)),
            ("camera", r.camera.as_ref().map(|f| f.loc)),
            ("resolution", r.resolution.as_ref().map(|f| f.loc)),
            ("duration", r.duration.as_ref().map(|f| f.loc)),
            ("promptOptimizer", r.prompt_optimizer.as_ref().map(|f| f.loc)),
            ("outputFormat", r.output_format.as_ref().map(|f| f.loc)),
            ("outputQuality", r.output_quality.as_ref().map(|f| f.loc)),
            ("safety", r.safety.as_ref().map(|f| f.loc)),
            ("fastPretreatment", r.fast_pretreatment.as_ref().map(|f| f.loc)),
            ("watermark", r.watermark.as_ref().map(|f| f.loc)),
            ("uploadEndpoint", r.upload_endpoint.as_ref().map(|f| f.loc)),
            ("webhookURL", r.webhook_url.as_ref().map(|f| f.loc)),
        ];
        for (name, loc) in own {
            if let Some(loc) = loc {
                ok = false;
                self.problems.push(
                    Problem::error(
                        loc,
                        format!("shots[{}].{name}", ctx.i),
                        format!("{}: a template shot has no `{name}`", ctx.who),
                    )
                    .label("not for a template")
                    .help("the template decides the video; it takes only `media:` images and `text:` inputs"),
                );
            }
        }
        let host = self.minimax_host;
        let template = match templates::lookup(host, &e.field.value) {
            Some(t) => Some(t),
            None => {
                ok = false;
                let v = e.field.value.trim();
                let (message, help) = match templates::lookup(host.other(), v) {
                    Some(t) => (
                        match v == t.name {
                            true => format!("template `{v}` is on {}, not on {host}", host.other()),
                            false => format!("template `{v}` ({}) is on {}, not on {host}", t.name, host.other()),
                        },
                        format!(
                            "MiniMax's hosts have different templates and IDs; this manifest is checked for {host} (`providers.minimax.baseUrl`); templates there: {}",
                            templates::names(host).join(", ")
                        ),
                    ),
                    None => {
                        let names = templates::names(host);
                        let hint = closest(v, &names).map(|b| format!("did you mean `{b}`? ")).unwrap_or_default();
                        (
                            format!("unknown template `{v}` on {host}"),
                            format!("{hint}templates on {host}: {}", names.join(", ")),
                        )
                    }
                };
                self.problems
                    .push(Problem::error(e.field.loc, &e.path, message).label("not a template here").help(help));
                None
            }
        };
        let media_field = pick(ctx.i, "media", &ctx.raw.media, &ctx.defaults.media);
        let text_field = pick(ctx.i, "text", &ctx.raw.text, &ctx.defaults.text);
        let mut media = Vec::new();
        if let Some(m) = &media_field {
            for (j, item) in m.field.value.iter().enumerate() {
                match self.image(Some(Effective { field: item, path: FieldPath::Spelt(format!("{}[{j}]", m.path)) })) {
                    Some(Some(img)) => media.push(img),
                    _ => ok = false,
                }
            }
        }
        let mut text = Vec::new();
        if let Some(t) = &text_field {
            for (j, item) in t.field.value.iter().enumerate() {
                let value = item.value.trim();
                let n = value.chars().count();
                if n == 0 || n > PROMPT_MAX {
                    ok = false;
                    self.problems.push(Problem::error(
                        item.loc,
                        format!("{}[{j}]", t.path),
                        format!("a text input must be 1 to {PROMPT_MAX} characters, not {n}"),
                    ));
                } else {
                    text.push(value.to_owned());
                }
            }
        }
        if let Some(t) = template {
            ok &= self.slots(ctx, t, "media", "images", media_field.as_ref(), t.media);
            ok &= self.slots(ctx, t, "text", "text inputs", text_field.as_ref(), t.text);
        }
        let number_results = self.number_results(ctx, Some(&MODEL));
        let (Some(id), Some(template), Some(number_results), true) = (id, template, number_results, ok) else {
            return None;
        };
        Some(Shot {
            id,
            line: ctx.raw.loc.line,
            provider: Provider::Minimax,
            model: &MODEL,
            mode: Mode::Template,
            prompt: None,
            camera: Vec::new(),
            resolution: MODEL.default_resolution,
            duration: MODEL.default_duration,
            number_results,
            prompt_optimizer: false,
            first_frame: None,
            last_frame: None,
            subject: None,
            ratio: None,
            references: Default::default(),
            options: Default::default(),
            template: Some(TemplateShot { template, media, text }),
        })
    }

    /// Whether a shot fills a template's slots of one kind exactly.
    fn slots(
        &mut self,
        ctx: &ShotCtx<'_>,
        t: &templates::Template,
        name: &str,
        what: &str,
        given: Option<&Effective<'_, Vec<Field<String>>>>,
        wanted: usize,
    ) -> bool {
        let n = given.map_or(0, |g| g.field.value.len());
        if n == wanted {
            return true;
        }
        let what = if n == 1 { what.trim_end_matches('s') } else { what };
        let message =
            format!("{}: template `{}` takes {}; this shot gives {n} {what}", ctx.who, t.name, t.describe_inputs());
        let p = match given {
            Some(g) => Problem::error(g.field.loc, &g.path, message),
            None => ctx.missing(name, message),
        };
        let help = if wanted == 0 {
            format!("leave `{name}:` out for {}", t.name)
        } else {
            format!("write `{name}: [...]` with {wanted} item{}", if wanted == 1 { "" } else { "s" })
        };
        self.problems.push(p.help(help));
        false
    }
}
