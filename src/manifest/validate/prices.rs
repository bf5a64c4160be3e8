//! `prices:` checked against the catalog: each entry names a provider, a model it
//! offers (alias or id), optionally a resolution and duration the model offers, and
//! a price above 0. A model alias that splits into a text and an image variant
//! (MiniMax `video-01`, `director`) prices both.

use super::Validator;
use crate::catalog::{self, LookupError, Provider, Resolution};
use crate::manifest::ManifestPrice;
use crate::manifest::diag::Problem;
use crate::manifest::schema::RawPrice;

impl Validator<'_> {
    pub(super) fn prices(&mut self, raw: &[RawPrice]) -> Vec<ManifestPrice> {
        let mut out: Vec<ManifestPrice> = Vec::new();
        for entry in raw {
            let before = out.len();
            self.price(entry, &mut out);
            // The same clip priced twice: which one wins would be a guess.
            let (done, new) = out.split_at(before);
            if let Some(dup) = new.iter().find(|n| done.iter().any(|d| same_clip(d, n))) {
                let line = done.iter().find(|d| same_clip(d, dup)).map_or(0, |d| d.line);
                self.problems.push(
                    Problem::error(entry.loc, &entry.path, format!("{} is priced twice", dup.model.id))
                        .label("second price")
                        .help(format!("line {line} already prices it; keep one entry")),
                );
                out.truncate(before);
            }
        }
        out
    }

    fn price(&mut self, e: &RawPrice, out: &mut Vec<ManifestPrice>) {
        let missing = |this: &mut Self, key: &str, help: &str| {
            if e.keys.iter().any(|k| k == key) {
                return; // Written with a wrong type: that problem is already told.
            }
            this.problems.push(
                Problem::error(e.loc, format!("{}.{key}", e.path), format!("a price needs `{key}`"))
                    .label("this price")
                    .help(help.to_owned()),
            );
        };
        let provider = match &e.provider {
            None => {
                missing(self, "provider", "add `provider: runware`, `minimax` or `segmind`");
                None
            }
            Some(f) => {
                let p = Provider::parse(f.value.trim());
                if p.is_none() {
                    self.problems.push(
                        Problem::error(
                            f.loc,
                            format!("{}.provider", e.path),
                            format!("unknown provider `{}`", f.value),
                        )
                        .help("providers: runware, minimax, segmind"),
                    );
                }
                p
            }
        };
        let usd = match &e.usd {
            None => {
                missing(self, "usd", "add the price of one clip in US dollars, e.g. `usd: 0.43`");
                None
            }
            Some(f) if f.value > 0.0 && f.value.is_finite() => Some(f.value),
            Some(f) => {
                self.problems.push(
                    Problem::error(
                        f.loc,
                        format!("{}.usd", e.path),
                        format!("a price must be more than 0, not {}", f.value),
                    )
                    .help("leave the entry out when the price is not known"),
                );
                None
            }
        };
        let resolution = e.resolution.as_ref().and_then(|f| {
            let r = Resolution::parse(f.value.trim());
            if r.is_none() {
                self.problems.push(
                    Problem::error(
                        f.loc,
                        format!("{}.resolution", e.path),
                        format!("unknown resolution `{}`", f.value),
                    )
                    .help("resolutions: 512p, 720p, 768p, 1080p"),
                );
            }
            r.map(|r| (r, f))
        });
        let duration = e.duration.as_ref().and_then(|f| match u32::try_from(f.value) {
            Ok(n) if n > 0 => Some((n, f)),
            _ => {
                self.problems.push(Problem::error(
                    f.loc,
                    format!("{}.duration", e.path),
                    format!("a duration is a whole number of seconds, not {}", f.value),
                ));
                None
            }
        });
        let Some(p) = provider else { return };
        let Some(mf) = &e.model else {
            missing(self, "model", "add the model, as an alias (s2v-01) or the provider's id (S2V-01)");
            return;
        };
        let name = mf.value.trim();
        let models = match (catalog::lookup(p, name, false), catalog::lookup(p, name, true)) {
            (Ok(a), Ok(b)) if a.id != b.id => vec![a, b],
            (Ok(a), _) | (_, Ok(a)) => vec![a],
            (Err(err), Err(_)) => {
                let names = catalog::names_for(p).join(", ");
                let (message, label, help) = match err {
                    LookupError::NotOnProvider { offered_by } => {
                        let on: Vec<&str> = offered_by.iter().map(|p| p.name()).collect();
                        let help = match catalog::equivalent(p, name) {
                            Some(same) => {
                                format!("it is offered by {}; on {p} the same model is `{same}`", on.join(", "))
                            }
                            None => format!("it is offered by {}; models on {p}: {names}", on.join(", ")),
                        };
                        (format!("model `{name}` is not offered by {p}"), format!("not on {p}"), help)
                    }
                    LookupError::Unknown => (
                        format!("unknown model `{name}` on {p}"),
                        "unknown model".to_owned(),
                        format!("models on {p}: {names}"),
                    ),
                };
                self.problems
                    .push(Problem::error(mf.loc, format!("{}.model", e.path), message).label(label).help(help));
                return;
            }
        };
        let mut ok = true;
        for model in &models {
            let res = resolution.map(|(r, f)| (model.read_resolution(r), f));
            if let Some((r, f)) = res
                && !model.combos.iter().any(|c| c.resolution == r)
            {
                let offered: Vec<&str> = model.combos.iter().map(|c| c.resolution.name()).collect();
                self.problems.push(
                    Problem::error(f.loc, format!("{}.resolution", e.path), format!("{} has no {r}", model.id))
                        .help(format!("{} offers {}", model.id, offered.join(", "))),
                );
                ok = false;
                break;
            }
            if let Some((d, f)) = duration {
                let offered = model.combos.iter().filter(|c| res.is_none_or(|(r, _)| r == c.resolution));
                if !offered.clone().any(|c| c.durations.contains(&d)) {
                    let mut ds: Vec<u32> = offered.flat_map(|c| c.durations.iter().copied()).collect();
                    ds.sort_unstable();
                    ds.dedup();
                    let ds: Vec<String> = ds.iter().map(|d| format!("{d} s")).collect();
                    self.problems.push(
                        Problem::error(
                            f.loc,
                            format!("{}.duration", e.path),
                            format!("{} makes no {d} s clip", model.id),
                        )
                        .help(format!("durations: {}", ds.join(", "))),
                    );
                    ok = false;
                    break;
                }
            }
        }
        let Some(usd) = usd else { return };
        if !ok || e.resolution.is_some() && resolution.is_none() || e.duration.is_some() && duration.is_none() {
            return;
        }
        for model in models {
            out.push(ManifestPrice {
                provider: p,
                model,
                resolution: resolution.map(|(r, _)| model.read_resolution(r)),
                duration: duration.map(|(d, _)| d),
                usd,
                line: e.loc.line,
            });
        }
    }
}

fn same_clip(a: &ManifestPrice, b: &ManifestPrice) -> bool {
    a.provider == b.provider && a.model.id == b.model.id && a.resolution == b.resolution && a.duration == b.duration
}
