//! What a job may be billed at most: the one rule by which the dispatcher keeps a
//! run under its budget and a shared store keeps a whole campaign (every runner's
//! jobs) under it.

use super::state::{JobState, Phase};

/// What the job may be billed, at most: the cost reported for each clip seen, else
/// its price; and while the job may still bill (being sent, accepted, in doubt, or
/// `in_air`: admitted by this runner, its intent not written yet) its price for each
/// clip not seen yet nor failed. A job with no known price counts nothing (a budget
/// never admits one).
pub fn committed_usd(js: &JobState, in_air: bool) -> f64 {
    let Some(def) = &js.def else { return 0.0 };
    let unit =
        def.unit_price_usd.or_else(|| def.estimated_cost_usd.map(|usd| usd / f64::from(def.number_results.max(1))));
    let mut total = 0.0;
    let mut open = 0u32;
    for v in &def.variants {
        match js.clips.get(v) {
            Some(c) if c.clip.is_some() => {
                let clip = c.clip.as_ref().expect("checked");
                total += clip.cost_usd.or(clip.list_cost_usd).or(unit).unwrap_or(0.0);
            }
            Some(c) if c.failed.is_some() => {}
            _ => open += 1,
        }
    }
    if in_air || matches!(js.phase, Phase::Submitting { .. } | Phase::Running | Phase::InDoubt { .. }) {
        total += unit.unwrap_or(0.0) * f64::from(open);
    }
    total
}

/// Whether `more` fits in `budget` on top of `committed` (a hair of float noise allowed).
pub fn fits(committed: f64, more: f64, budget: f64) -> bool {
    committed + more <= budget + 1e-9
}
