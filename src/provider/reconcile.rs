//! Reconciling a submit whose answer was lost: given what was sent, when, and the
//! tasks the provider lists for the account, decide whether exactly one of them is
//! ours. Pure: no I/O, so every rule is unit-tested.
//!
//! The rules (README "How a run behaves"): a listed task matches when its model,
//! duration and resolution are the submit's (and its ratio and prompt, when the
//! listing carries them), it was created inside the submit's time window, and no
//! other job already owns it. Exactly one match: accepted, with that task id.
//! None, once the listing has caught up (the window ended long enough ago for the
//! task to be listed): proven not accepted. Several: still in doubt.

use crate::catalog::Resolution;

/// How long after a submit its task is certainly in the listing (an allowance for
/// a listing that lags; nothing documents one) [inference].
pub const CATCH_UP_SECS: f64 = 60.0;
/// Allowance either side of the submit for the difference between our clock and
/// the provider's (`created_at` is the provider's) [inference].
pub const CLOCK_SLACK_SECS: i64 = 60;

/// What was sent, as a listed task would show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Sent<'a> {
    pub model: &'a str,
    pub duration: u32,
    pub resolution: Resolution,
    pub ratio: Option<&'a str>,
    pub prompt: Option<&'a str>,
}

/// One task the provider listed.
#[derive(Clone, Debug, PartialEq)]
pub struct Listed {
    pub id: String,
    pub model: String,
    pub duration: Option<u32>,
    pub resolution: Option<Resolution>,
    pub ratio: Option<String>,
    /// Only if the listing carries it (MiniMax's v2 task object does not).
    pub prompt: Option<String>,
    /// Unix seconds, the provider's clock.
    pub created_at: i64,
    /// Whether the task ended `cancelled` (not a task we may adopt).
    pub cancelled: bool,
}

/// When the submit may have been accepted, and what cannot be it.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// Unix seconds: the intent was written at `from`; the request's deadline ended at `to`.
    pub from: i64,
    pub to: i64,
    /// Task ids other jobs already hold.
    pub exclude: Vec<String>,
    /// How long the listing may lag, seconds (scaled with the run's clock).
    pub catch_up_secs: f64,
    /// Allowance for the provider's clock either side ([`CLOCK_SLACK_SECS`], scaled).
    pub slack_secs: i64,
}

/// The verdict on a submit whose answer was lost.
#[derive(Clone, Debug, PartialEq)]
pub enum Reconciled {
    /// Exactly one listed task is this submit.
    Matched(String),
    /// The listing has caught up and holds no such task: it was never accepted.
    NoneAfterCatchUp,
    /// No match yet, but the listing may still lag: ask again after `wait_secs`.
    NotCaughtUp { wait_secs: f64 },
    /// More than one listed task could be it: it stays in doubt.
    Several(Vec<String>),
    /// This protocol cannot list tasks.
    CannotLookUp,
}

fn matches(sent: &Sent<'_>, window: &Window, t: &Listed) -> bool {
    let same_text = |a: Option<&str>, b: Option<&str>| match (a, b) {
        (Some(a), Some(b)) => a.trim() == b.trim(),
        _ => true, // not in the listing: cannot tell them apart by it
    };
    t.model == sent.model
        && !t.cancelled
        && t.duration.is_none_or(|d| d == sent.duration)
        && t.resolution.is_none_or(|r| r == sent.resolution)
        && same_text(sent.ratio, t.ratio.as_deref().filter(|r| *r != "adaptive" || sent.ratio.is_some()))
        && same_text(sent.prompt, t.prompt.as_deref())
        && (window.from - window.slack_secs..=window.to + window.slack_secs).contains(&t.created_at)
        && !window.exclude.contains(&t.id)
}

/// Decides, at `now` (unix seconds), what the listed tasks say of the submit.
pub fn reconcile(sent: &Sent<'_>, window: &Window, listed: &[Listed], now: f64) -> Reconciled {
    let found: Vec<String> = listed.iter().filter(|t| matches(sent, window, t)).map(|t| t.id.clone()).collect();
    match found.len() {
        1 => Reconciled::Matched(found.into_iter().next().expect("one")),
        0 => {
            let caught_up_at = (window.to + window.slack_secs) as f64 + window.catch_up_secs;
            if now >= caught_up_at {
                Reconciled::NoneAfterCatchUp
            } else {
                Reconciled::NotCaughtUp { wait_secs: caught_up_at - now }
            }
        }
        _ => Reconciled::Several(found),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SENT: Sent<'static> =
        Sent { model: "MiniMax-H3", duration: 6, resolution: Resolution::P768, ratio: Some("16:9"), prompt: None };

    fn window() -> Window {
        Window { from: 1_000_000, to: 1_000_030, exclude: vec![], catch_up_secs: 60.0, slack_secs: CLOCK_SLACK_SECS }
    }

    fn task(id: &str, created_at: i64) -> Listed {
        Listed {
            id: id.into(),
            model: "MiniMax-H3".into(),
            duration: Some(6),
            resolution: Some(Resolution::P768),
            ratio: Some("16:9".into()),
            prompt: None,
            created_at,
            cancelled: false,
        }
    }

    #[test]
    fn exactly_one_task_in_the_window_is_ours() {
        let listed = [task("a", 1_000_010), task("old", 900_000)];
        assert_eq!(reconcile(&SENT, &window(), &listed, 1_000_040.0), Reconciled::Matched("a".into()));
    }

    #[test]
    fn other_parameters_or_another_jobs_task_do_not_match() {
        let mut other_duration = task("d", 1_000_010);
        other_duration.duration = Some(10);
        let mut other_res = task("r", 1_000_010);
        other_res.resolution = Some(Resolution::P1440);
        let mut other_model = task("m", 1_000_010);
        other_model.model = "MiniMax-H3-Max".into();
        let mut other_ratio = task("q", 1_000_010);
        other_ratio.ratio = Some("9:16".into());
        let mut cancelled = task("c", 1_000_010);
        cancelled.cancelled = true;
        let taken = task("taken", 1_000_011);
        let w = Window { exclude: vec!["taken".into()], ..window() };
        let listed = [other_duration, other_res, other_model, other_ratio, cancelled, taken];
        assert_eq!(reconcile(&SENT, &w, &listed, 2_000_000.0), Reconciled::NoneAfterCatchUp);
    }

    #[test]
    fn none_is_proof_only_once_the_listing_has_caught_up() {
        let w = window();
        match reconcile(&SENT, &w, &[], 1_000_100.0) {
            Reconciled::NotCaughtUp { wait_secs } => assert!((wait_secs - 50.0).abs() < 1e-9, "{wait_secs}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(reconcile(&SENT, &w, &[], 1_000_150.0), Reconciled::NoneAfterCatchUp);
    }

    #[test]
    fn two_candidates_stay_in_doubt() {
        let listed = [task("a", 1_000_001), task("b", 1_000_029)];
        assert_eq!(
            reconcile(&SENT, &window(), &listed, 1_000_040.0),
            Reconciled::Several(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn a_prompt_in_the_listing_tells_candidates_apart() {
        let sent = Sent { prompt: Some("a red kite"), ..SENT };
        let mut a = task("a", 1_000_001);
        a.prompt = Some("a red kite".into());
        let mut b = task("b", 1_000_002);
        b.prompt = Some("a blue kite".into());
        assert_eq!(reconcile(&sent, &window(), &[a, b], 1_000_040.0), Reconciled::Matched("a".into()));
    }

    #[test]
    fn the_clock_slack_admits_a_task_stamped_just_outside_the_window() {
        let listed = [task("early", 1_000_000 - CLOCK_SLACK_SECS), task("far", 1_000_000 - CLOCK_SLACK_SECS - 1)];
        assert_eq!(reconcile(&SENT, &window(), &listed, 1_000_040.0), Reconciled::Matched("early".into()));
    }
}
