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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::journal::Record;
    use crate::run::state::RunState;

    /// The job `k` (two clips at $0.28) after these records.
    fn after(lines: &[&str]) -> (f64, f64) {
        let mut records: Vec<Record> = vec![serde_json::from_str(
            r#"{"t":"job","key":"k","def":{"shot":"a","variants":[1,2],"provider":"runware","model":"minimax:3@1","resolution":"768p","duration":6,"fps":25,"number_results":2,"estimated_cost_usd":0.56,"unit_price_usd":0.28}}"#,
        )
        .unwrap()];
        records.extend(lines.iter().map(|l| serde_json::from_str::<Record>(l).unwrap()));
        let state = RunState::replay(&records);
        let js = &state.jobs["k"];
        (committed_usd(js, false), committed_usd(js, true))
    }

    const INTENT: &str =
        r#"{"t":"intent","key":"k","attempt":1,"task_uuid":"6f1f5c2e-8a7b-4c1d-9e2f-0a1b2c3d4e5f","at":"x"}"#;
    const ACCEPTED: &str = r#"{"t":"accepted","key":"k","attempt":1,"task":{"id":"t1"},"replayed":false,"at":"x"}"#;

    #[test]
    fn a_job_commits_its_worst_case_while_it_may_bill_and_what_it_cost_after() {
        // Defined, not sent: nothing, unless this runner admitted it.
        assert_eq!(after(&[]), (0.0, 0.56));
        // Sent, accepted: both clips at their price.
        assert!((after(&[INTENT]).0 - 0.56).abs() < 1e-9);
        assert!((after(&[INTENT, ACCEPTED]).0 - 0.56).abs() < 1e-9);
        // One clip seen at its reported cost, the other still at its price.
        let clip =
            r#"{"t":"clip","key":"k","variant":1,"clip":{"video_url":"u","remote_id":"r","cost_usd":0.2},"at":"x"}"#;
        assert!((after(&[INTENT, ACCEPTED, clip]).0 - 0.48).abs() < 1e-9);
        // The other failed (not billed): only what was seen.
        let failed = r#"{"t":"failed","key":"k","variant":2,"class":"failed","message":"m","at":"x"}"#;
        assert!((after(&[INTENT, ACCEPTED, clip, failed]).0 - 0.2).abs() < 1e-9);
        // Refused before acceptance, to be sent again: nothing is committed meanwhile.
        let refused = r#"{"t":"not_accepted","key":"k","attempt":1,"class":"rate_limited","message":"429","retryable":true,"at":"x"}"#;
        assert_eq!(after(&[INTENT, refused]).0, 0.0);
    }

    #[test]
    fn fits_allows_float_noise_only() {
        assert!(fits(0.1 + 0.2, 0.7, 1.0));
        assert!(!fits(0.29, 0.72, 1.0));
    }
}
