//! Progress for people: on a terminal an indicatif bar, off a terminal the same
//! lines every 10 s. The first line is the count (once), what is billed, the plan's
//! estimate, the budget and the ETA (only once there is data for one); below it one
//! line per provider: jobs in flight, cooldown and its bill. Every line fits
//! [`WIDTH`] columns: parts that do not fit are dropped, never cut in the middle.
//! Notes (halts, unreachable providers, in-doubt jobs) go above the bar.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::report::Money;

/// The columns every progress line fits in.
pub const WIDTH: usize = 80;

/// One provider's lane at one moment.
#[derive(Clone, Debug, Default)]
pub struct LaneView {
    pub name: String,
    pub in_flight: u32,
    pub cooling: bool,
    pub money: Money,
}

/// What the dispatcher knows at one moment.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub clips_done: u64,
    pub clips_total: u64,
    pub failed: u64,
    pub in_doubt: u64,
    /// Billed so far: reported plus list price (all providers).
    pub spent_usd: f64,
    pub estimate_usd: f64,
    /// Clips with no known price: the estimate leaves them out.
    pub unpriced_clips: u64,
    pub budget_usd: Option<f64>,
    /// Time left, when there is data to estimate it from (`None`: not shown).
    pub eta: Option<Duration>,
    pub lanes: Vec<LaneView>,
}

/// Adds `part` to `line` (after `sep`) only if the result fits `width` columns.
fn push_fit(line: &mut String, sep: &str, part: &str, width: usize) {
    let cols = |s: &str| s.chars().count();
    if cols(line) + cols(sep) + cols(part) <= width {
        line.push_str(sep);
        line.push_str(part);
    }
}

/// `45 s`, `2 min 30 s`, `12 min`, `2 h 05 min`: within a few per cent (a whole
/// minute of 90 s to 10 min would be a third off at 90 s).
pub fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=89 => format!("{} s", s.max(1)),
        90..=599 => format!("{} min {:02} s", s / 60, s % 60),
        600..=5399 => format!("{} min", (s + 30) / 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

impl Snapshot {
    /// The summary line, at most `width` columns.
    pub fn line(&self, width: usize) -> String {
        let mut s = format!("{}/{} clips", self.clips_done, self.clips_total);
        push_fit(&mut s, ", ", &format!("${:.2} billed", self.spent_usd + 0.0), width);
        // The ETA is what a night's watcher looks for: the estimate makes room for it,
        // its count of unpriced clips first (a 1000-clip night lost its ETA so).
        let eta = self.eta.map(|eta| format!("eta {}", human(eta)));
        let room = eta.as_ref().map_or(0, |e| 2 + e.chars().count());
        let short = format!("of ~${:.2}", self.estimate_usd);
        let full = match self.unpriced_clips {
            0 => short.clone(),
            n => format!("{short} + {n} unpriced"),
        };
        let cols = s.chars().count();
        if let Some(estimate) = [full, short].into_iter().find(|e| cols + 1 + e.chars().count() + room <= width) {
            push_fit(&mut s, " ", &estimate, width);
        }
        if let Some(eta) = eta {
            push_fit(&mut s, ", ", &eta, width);
        }
        if let Some(b) = self.budget_usd {
            push_fit(&mut s, ", ", &format!("budget ${b:.2}"), width);
        }
        if self.failed > 0 {
            push_fit(&mut s, ", ", &format!("{} failed", self.failed), width);
        }
        if self.in_doubt > 0 {
            push_fit(&mut s, ", ", &format!("{} in doubt", self.in_doubt), width);
        }
        s
    }

    /// One line per provider, each at most `width` columns.
    pub fn details(&self, width: usize, indent: &str) -> Vec<String> {
        self.lanes
            .iter()
            .map(|l| {
                let mut s = format!("{indent}{}: {} in flight", l.name, l.in_flight);
                if l.cooling {
                    push_fit(&mut s, " ", "(cooling down)", width);
                }
                let m = &l.money;
                push_fit(&mut s, ", ", &format!("${:.2} reported", m.reported_usd + 0.0), width);
                if m.list_usd > 0.0 {
                    push_fit(&mut s, ", ", &format!("${:.2} at list price", m.list_usd), width);
                }
                if m.unpriced_clips > 0 {
                    push_fit(&mut s, ", ", &format!("{} with no price", m.unpriced_clips), width);
                }
                s
            })
            .collect()
    }

    /// Every line, as printed off a terminal (`prefix` before the first).
    pub fn lines(&self, prefix: &str) -> Vec<String> {
        let indent = " ".repeat(prefix.chars().count() + 2);
        let mut out = vec![format!("{prefix}{}", self.line(WIDTH - prefix.chars().count()))];
        out.extend(self.details(WIDTH, &indent));
        out
    }
}

/// A plain ETA: the pace of the clips done in this run so far, applied to the clips
/// left. `None` until a clip is done (no data: no number).
pub fn pace_eta(done_this_run: u64, left: u64, elapsed: Duration) -> Option<Duration> {
    if done_this_run == 0 || left == 0 {
        return None;
    }
    Some(elapsed.mul_f64(left as f64 / done_this_run as f64))
}

pub struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
    every: Duration,
    started: Instant,
    /// Clips already done when the run started (a resumed run's pace counts its own).
    done_at_start: Option<u64>,
    /// When each rate-limited note was last shown.
    noted: HashMap<String, Instant>,
}

/// The bar's width: the rest of the line is the summary.
const BAR: usize = 20;

impl Progress {
    pub fn new(total: u64, quiet: bool) -> Progress {
        let tty = std::io::stderr().is_terminal() && !quiet;
        let bar = tty.then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:20.cyan/blue} {msg}")
                    .expect("static template")
                    .progress_chars("█▉▊▋▌▍▎▏ "),
            );
            bar.enable_steady_tick(Duration::from_millis(250));
            bar
        });
        Progress {
            bar,
            last_line: Instant::now(),
            every: Duration::from_secs(10),
            started: Instant::now(),
            done_at_start: None,
            noted: HashMap::new(),
        }
    }

    /// The ETA from this run's pace (see [`pace_eta`]).
    pub fn eta(&mut self, done: u64, total: u64) -> Option<Duration> {
        let at_start = *self.done_at_start.get_or_insert(done);
        pace_eta(done.saturating_sub(at_start), total.saturating_sub(done), self.started.elapsed())
    }

    /// Whether [`Progress::update`] would show anything now: off a terminal a line
    /// goes out every 10 s, so the snapshot (a pass over every job) is not built
    /// five times a second for nothing.
    pub fn wants_update(&self) -> bool {
        // The first snapshot also marks what was done before this run (for the pace).
        self.bar.is_some() || self.done_at_start.is_none() || self.last_line.elapsed() >= self.every
    }

    pub fn update(&mut self, s: &Snapshot) {
        match &self.bar {
            Some(bar) => {
                // Failed clips are settled too: they move the bar.
                bar.set_position(s.clips_done + s.failed);
                let mut msg = s.line(WIDTH - BAR - 1);
                for d in s.details(WIDTH, "  ") {
                    msg.push('\n');
                    msg.push_str(&d);
                }
                bar.set_message(msg);
            }
            None if self.last_line.elapsed() >= self.every => {
                self.last_line = Instant::now();
                let prefix = format!("[{:>5}s] ", self.started.elapsed().as_secs());
                for line in s.lines(&prefix) {
                    eprintln!("{line}");
                }
            }
            None => {}
        }
    }

    /// A line above the bar (or plainly, off a terminal); also in the log.
    pub fn note(&self, msg: &str) {
        tracing::info!("{msg}");
        match &self.bar {
            Some(bar) => bar.println(msg),
            None => eprintln!("{msg}"),
        }
    }

    /// A note shown at most once per `every` for the same `topic`.
    pub fn note_every(&mut self, topic: &str, every: Duration, msg: &str) {
        if self.noted.get(topic).is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.noted.insert(topic.to_owned(), Instant::now());
        self.note(msg);
    }

    pub fn finish(&self, s: &Snapshot) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        // The night is over: nothing is left to estimate.
        let s = Snapshot { eta: None, ..s.clone() };
        for line in s.lines("") {
            eprintln!("{line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> Snapshot {
        let lane = |name: &str, n, cooling| LaneView {
            name: name.into(),
            in_flight: n,
            cooling,
            money: Money { reported_usd: 1234.5, list_usd: 99.99, unpriced_clips: 12 },
        };
        Snapshot {
            clips_done: 12345,
            clips_total: 20000,
            failed: 321,
            in_doubt: 45,
            spent_usd: 12345.67,
            estimate_usd: 23456.78,
            unpriced_clips: 1234,
            budget_usd: Some(50000.0),
            eta: Some(Duration::from_secs(7 * 3600 + 300)),
            lanes: vec![lane("runware", 60, true), lane("minimax", 20, false), lane("segmind", 5, true)],
        }
    }

    #[test]
    fn the_eta_is_shown_to_a_few_per_cent() {
        let at = |s| human(Duration::from_secs(s));
        assert_eq!(
            (at(0), at(89), at(90), at(149), at(600), at(629), at(5400)),
            (
                "1 s".into(),
                "89 s".into(),
                "1 min 30 s".into(),
                "2 min 29 s".into(),
                "10 min".into(),
                "10 min".into(),
                "1 h 30 min".into()
            )
        );
    }

    #[test]
    fn every_line_fits_80_columns_and_the_count_appears_once() {
        let s = busy();
        for prefix in ["", "[12345s] "] {
            for line in s.lines(prefix) {
                assert!(line.chars().count() <= WIDTH, "{} columns: {line}", line.chars().count());
            }
        }
        let bar_line = WIDTH - BAR - 1;
        assert!(s.line(bar_line).chars().count() <= bar_line);
        let all = s.lines("").join("\n");
        assert_eq!(all.matches("12345/20000").count(), 1, "{all}");
        // What matters most stays: the count and the bill.
        assert!(s.line(40).starts_with("12345/20000 clips, $12345.67 billed"), "{}", s.line(40));
    }

    #[test]
    fn no_eta_until_a_clip_is_done() {
        assert_eq!(pace_eta(0, 10, Duration::from_secs(30)), None);
        assert_eq!(pace_eta(2, 8, Duration::from_secs(30)), Some(Duration::from_secs(120)));
        let s = Snapshot { clips_total: 10, estimate_usd: 2.38, unpriced_clips: 5, ..Default::default() };
        assert_eq!(s.line(WIDTH), "0/10 clips, $0.00 billed of ~$2.38 + 5 unpriced");
        assert!(!s.line(WIDTH).contains("eta"));
    }

    #[test]
    fn the_estimate_makes_room_for_the_eta() {
        let s = Snapshot {
            clips_done: 262,
            clips_total: 1000,
            spent_usd: 110.04,
            unpriced_clips: 1000,
            eta: Some(Duration::from_secs(98)),
            ..Default::default()
        };
        // 71 columns: a progress line's width after its `[   30s] `.
        assert_eq!(s.line(71), "262/1000 clips, $110.04 billed of ~$0.00, eta 1 min 38 s");
        assert_eq!(s.line(WIDTH), "262/1000 clips, $110.04 billed of ~$0.00 + 1000 unpriced, eta 1 min 38 s");
    }
}
