//! Before resuming: a MiniMax v2 (H3) submit the last run left unanswered (an
//! intent with no answer, or an answer lost after sending) is looked up in the
//! account's task list instead of being left in doubt. One match: accepted with
//! that task id. None once the listing has caught up: proven not accepted, so it
//! is sent again. Several, or no answer from the list: it stays in doubt.

use super::*;
use crate::provider::{Reconciled, RemoteTask, Window, reconcile};

impl Dispatcher<'_> {
    pub(super) async fn reconcile_lost_submits(&mut self) -> std::io::Result<()> {
        if self.ctx.resubmit_in_doubt {
            return Ok(()); // The user asked to send them again.
        }
        let ctx = self.ctx;
        let ids = ctx.plan.ids().filter(|id| {
            let j = ctx.job(*id);
            j.provider == Provider::Minimax && j.model.api == crate::catalog::Api::V2
        });
        for id in ids {
            let key = &ctx.job(id).key;
            let Some(js) = self.js(id) else { continue };
            if js.task.is_some() || !matches!(js.phase, Phase::Submitting { .. } | Phase::InDoubt { .. }) {
                continue;
            }
            let Some(from) = js.submitted_at.as_deref().and_then(|t| t.parse::<jiff::Timestamp>().ok()) else {
                continue;
            };
            let attempt = js.attempts;
            let job = self.job(id);
            let Ok(request) = SubmitRequest::for_job(job, &self.ctx.shots[job.shot_index], uuid::Uuid::nil()) else {
                continue; // A frame can no longer be read: the submit path reports it.
            };
            let from = from.as_second();
            // In a time-scaled rehearsal the window shrinks with the clock (whole seconds,
            // as `created_at` is); a real run uses the full request deadline and slack.
            let scale = self.ctx.timing.time_scale;
            let scaled = |secs: f64| (secs * scale).ceil() as i64;
            let window = Window {
                from,
                to: from + scaled(crate::provider::REQUEST_TIMEOUT.as_secs_f64()),
                slack_secs: scaled(reconcile::CLOCK_SLACK_SECS as f64),
                // Another job's task can never be this one.
                exclude: self.state.jobs.values().filter_map(|j| j.task.as_ref().map(|t| t.id.clone())).collect(),
                catch_up_secs: reconcile::CATCH_UP_SECS * self.ctx.timing.time_scale,
            };
            let client = self.ctx.clients[&Provider::Minimax].clone();
            let mut verdict = client.find_submitted(&request, &window).await;
            if let Ok(Reconciled::NotCaughtUp { wait_secs }) = verdict {
                // Bounded: one wait for the listing to catch up, then one more look.
                tokio::time::sleep(Duration::from_secs_f64(wait_secs.clamp(0.0, 120.0))).await;
                verdict = client.find_submitted(&request, &window).await;
            }
            let shot = &job.shot_id;
            match verdict {
                Ok(Reconciled::Matched(id)) => {
                    let task = RemoteTask {
                        id,
                        status_url: None,
                        response_url: None,
                        api: job.model.api,
                        kind: Default::default(),
                    };
                    self.note(&format!("{shot}: the lost submit was found as MiniMax task {}; collecting it", task.id));
                    self.append(Record::Accepted {
                        key: key.clone(),
                        attempt,
                        task,
                        replayed: true,
                        at: journal::now(),
                    })?;
                }
                Ok(Reconciled::NoneAfterCatchUp) => {
                    let message = "no such task in MiniMax's task list for the submit's time window: it was never \
                                   accepted, so it is sent again";
                    self.note(&format!("{shot}: {message}"));
                    self.not_accepted(id, attempt, FailClass::Transient, message, true)?;
                }
                Ok(Reconciled::Several(ids)) => {
                    self.note(&format!(
                        "{shot}: {} listed tasks could be the lost submit ({}); it stays in doubt",
                        ids.len(),
                        ids.join(", ")
                    ));
                }
                Ok(_) => {}
                Err(e) => self.note(&format!("{shot}: could not look the lost submit up ({e}); it stays in doubt")),
            }
        }
        Ok(())
    }
}
