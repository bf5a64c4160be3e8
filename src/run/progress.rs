//! Progress for people: on a terminal an indicatif bar (clips done of total, spend
//! against estimate and budget, per provider the jobs in flight and any cooldown,
//! ETA); off a terminal a one-line summary at intervals. Notes (halts, in-doubt
//! jobs) go above the bar.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What the dispatcher knows at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub clips_done: u64,
    pub clips_total: u64,
    pub failed: u64,
    pub in_doubt: u64,
    pub spent_usd: f64,
    pub estimate_usd: f64,
    /// Clips with no known price: the estimate leaves them out.
    pub unpriced_clips: u64,
    pub budget_usd: Option<f64>,
    /// Per provider: name, jobs in flight, cooling down.
    pub lanes: Vec<(String, u32, bool)>,
    /// Until the last clip (`run::eta`), None when nothing is left.
    pub eta: Option<Duration>,
}

impl Snapshot {
    fn line(&self) -> String {
        let lanes: Vec<String> = self
            .lanes
            .iter()
            .map(|(p, n, cool)| format!("{p} {n} in flight{}", if *cool { " (cooling down)" } else { "" }))
            .collect();
        let budget = self.budget_usd.map(|b| format!(" / budget ${b:.2}")).unwrap_or_default();
        let unpriced = match self.unpriced_clips {
            0 => String::new(),
            n => format!(" + {n} clip{} with no known price", if n == 1 { "" } else { "s" }),
        };
        let mut s = format!(
            "{}/{} clips, ${:.2} spent of ~${:.2}{unpriced}{budget}",
            self.clips_done, self.clips_total, self.spent_usd, self.estimate_usd
        );
        if self.failed > 0 {
            s.push_str(&format!(", {} failed", self.failed));
        }
        if self.in_doubt > 0 {
            s.push_str(&format!(", {} in doubt", self.in_doubt));
        }
        if !lanes.is_empty() {
            s.push_str(&format!("; {}", lanes.join(", ")));
        }
        if let Some(eta) = self.eta {
            s.push_str(&format!("; ETA {}", crate::run::eta::show(eta)));
        }
        s
    }
}

pub struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
    every: Duration,
    started: Instant,
}

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal() && !quiet;
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} clips settled  {wide_msg}")
                    .expect("static template")
                    .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress { bar, last_line: Instant::now(), every: Duration::from_secs(10), started: Instant::now() }
    }

    pub fn update(&mut self, s: &Snapshot) {
        match &self.bar {
            Some(bar) => {
                // Failed clips are settled too: they move the bar.
                bar.set_position(s.clips_done + s.failed);
                bar.set_message(s.line());
            }
            None if self.last_line.elapsed() >= self.every => {
                self.last_line = Instant::now();
                eprintln!("[{:>5}s] {}", self.started.elapsed().as_secs(), s.line());
            }
            None => {}
        }
    }

    /// A line above the bar (or plainly, off a terminal).
    pub fn note(&self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    pub fn finish(&self, s: &Snapshot) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        eprintln!("{}", s.line());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_estimate_says_how_many_clips_it_leaves_out() {
        let s =
            Snapshot { clips_total: 10, spent_usd: 3.92, estimate_usd: 2.38, unpriced_clips: 5, ..Default::default() };
        assert_eq!(s.line(), "0/10 clips, $3.92 spent of ~$2.38 + 5 clips with no known price");
        let priced = Snapshot { clips_total: 1, estimate_usd: 0.28, ..Default::default() };
        assert_eq!(priced.line(), "0/1 clips, $0.00 spent of ~$0.28");
    }
}
