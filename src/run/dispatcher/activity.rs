//! What this run is doing with each job right now (`Activity`, not journaled), and
//! the per-provider tally derived from it: what is in flight, being sent, polled or
//! downloaded is read off the tally, which only `set_activity` and `set_downloading`
//! change, never a counter bumped at the call sites.

use super::*;

/// What this run is doing with a job (its journaled phase says where it stands).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) enum Activity {
    /// Nothing of this run's in the air: not sent (yet), or settled, or nothing
    /// more to poll (what is left are downloads).
    #[default]
    Idle,
    /// A submit worker is waiting in the lane for its turn (pace, cooldown); no
    /// intent written yet.
    Queued,
    /// The intent is written and the submit request is in the air.
    Sending,
    /// Accepted: results awaited, no poll of it in the air.
    Awaiting,
    /// Carried by a poll request in the air.
    Polled,
}

impl Activity {
    /// Something of this job is in the air (a submit, or a poll carrying it).
    pub(super) fn busy(self) -> bool {
        matches!(self, Activity::Queued | Activity::Sending | Activity::Polled)
    }

    /// Accepted and not finished: its results are still to be polled for.
    pub(super) fn polling(self) -> bool {
        matches!(self, Activity::Awaiting | Activity::Polled)
    }

    /// Admitted for a submit (queued in the lane or sent): it may be billed.
    pub(super) fn submitting(self) -> bool {
        matches!(self, Activity::Queued | Activity::Sending)
    }
}

/// One provider's jobs by activity, and its requests in the air. Kept by
/// [`Dispatcher::set_activity`], [`Dispatcher::set_downloading`] and the poll
/// request pair alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Tally {
    /// Jobs whose submit waits in the lane for its turn ([`Activity::Queued`]).
    pub queued: u32,
    /// Jobs whose submit request is in the air ([`Activity::Sending`]).
    pub sending: u32,
    /// Accepted jobs awaiting results, no poll in the air ([`Activity::Awaiting`]).
    pub awaiting: u32,
    /// Jobs carried by a poll request in the air ([`Activity::Polled`]).
    pub polled: u32,
    /// Clip downloads in the air.
    pub downloads: u32,
    /// Poll requests in the air (one carries one or more jobs).
    pub poll_requests: u32,
}

impl Tally {
    /// What the lane's `max_in_flight` cap counts: every job this run is sending
    /// (a submit still queued in the lane included) or waiting on.
    pub(super) fn in_flight(&self) -> u32 {
        self.queued + self.sending + self.awaiting + self.polled
    }

    /// Anything of this provider's in the air: a submit, a poll, a download.
    pub(super) fn busy(&self) -> bool {
        self.queued + self.sending + self.polled + self.downloads + self.poll_requests > 0
    }

    fn count(&mut self, a: Activity) -> Option<&mut u32> {
        match a {
            Activity::Idle => None,
            Activity::Queued => Some(&mut self.queued),
            Activity::Sending => Some(&mut self.sending),
            Activity::Awaiting => Some(&mut self.awaiting),
            Activity::Polled => Some(&mut self.polled),
        }
    }
}

impl Dispatcher<'_> {
    /// The one way a job's activity changes: the provider's tally follows.
    pub(super) fn set_activity(&mut self, id: JobId, new: Activity) {
        let p = self.job(id).provider;
        let old = std::mem::replace(&mut self.live_mut(id).activity, new);
        if old == new {
            return;
        }
        let tally = self.tallies.entry(p).or_default();
        if let Some(n) = tally.count(old) {
            *n -= 1;
        }
        if let Some(n) = tally.count(new) {
            *n += 1;
        }
    }

    pub(super) fn activity(&self, id: JobId) -> Activity {
        self.live(id).activity
    }

    /// Marks a download of the job's `variant` as in the air (or no longer); says
    /// whether that changed anything.
    pub(super) fn set_downloading(&mut self, id: JobId, variant: u32, on: bool) -> bool {
        let p = self.job(id).provider;
        let l = self.live_mut(id);
        let at = l.downloading.iter().position(|v| *v == variant);
        let changed = match (on, at) {
            (true, None) => {
                l.downloading.push(variant);
                true
            }
            (false, Some(i)) => {
                l.downloading.swap_remove(i);
                if l.downloading.is_empty() {
                    // Freed, not kept: a night's 100,000 jobs each download once.
                    l.downloading = Vec::new();
                }
                true
            }
            _ => false,
        };
        if changed {
            let n = &mut self.tallies.entry(p).or_default().downloads;
            if on { *n += 1 } else { *n -= 1 }
        }
        changed
    }

    /// A poll request went out (`true`) or was answered (`false`).
    pub(super) fn set_poll_request(&mut self, p: Provider, sent: bool) {
        let n = &mut self.tallies.entry(p).or_default().poll_requests;
        if sent {
            *n += 1;
        } else {
            *n = n.saturating_sub(1);
        }
    }

    /// The provider's tally.
    pub(super) fn tally(&self, p: Provider) -> Tally {
        self.tallies.get(&p).copied().unwrap_or_default()
    }

    /// The job tallies counted afresh from every job's activity and downloads
    /// (poll requests are not per job: taken as they stand). A check for debug
    /// builds and tests: it walks the whole plan.
    #[cfg(debug_assertions)]
    pub(super) fn recounted(&self) -> HashMap<Provider, Tally> {
        let mut out: HashMap<Provider, Tally> = HashMap::new();
        for id in self.ctx.plan.ids() {
            let (p, l) = (self.job(id).provider, self.live(id));
            let t = out.entry(p).or_default();
            if let Some(n) = t.count(l.activity) {
                *n += 1;
            }
            t.downloads += l.downloading.len() as u32;
        }
        for (p, t) in &self.tallies {
            out.entry(*p).or_default().poll_requests = t.poll_requests;
        }
        out.retain(|_, t| *t != Tally::default());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_flight_counts_every_job_sent_or_waited_on_and_busy_what_is_in_the_air() {
        let mut t = Tally::default();
        for (a, n) in [(Activity::Queued, 1), (Activity::Sending, 2), (Activity::Awaiting, 3), (Activity::Polled, 4)] {
            *t.count(a).unwrap() += n;
        }
        assert!(t.count(Activity::Idle).is_none());
        assert_eq!((t.in_flight(), t.queued + t.sending), (10, 3));
        assert!(t.busy());
        let waiting = Tally { awaiting: 5, ..Tally::default() };
        assert_eq!(waiting.in_flight(), 5);
        assert!(!waiting.busy(), "jobs between polls hold nothing in the air");
        assert!(Tally { downloads: 1, ..Tally::default() }.busy());
        assert!(Activity::Polled.busy() && Activity::Polled.polling() && !Activity::Polled.submitting());
        assert!(!Activity::Awaiting.busy() && Activity::Awaiting.polling());
        assert!(Activity::Queued.submitting() && !Activity::Idle.busy());
    }
}
