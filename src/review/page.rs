//! The review page: one self-contained HTML file (inline CSS and JS, no network,
//! relative links to the clips), so it works from `file://` and after the out folder
//! is copied to a share. maud escapes every piece of text (prompts are user text).

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::posters::Posters;
use super::{Campaign, Take, TakeStatus};
use crate::selects::Verdict;

/// The static file, or the page `--serve` serves (marking enabled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Static,
    Live,
}

const STYLE: &str = r#"
:root { color-scheme: light dark; --ok: #2a7; --bad: #c33; --wait: #888; --sel: #e8b400; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0 1.5em 3em; }
header { position: sticky; top: 0; background: Canvas; padding: .6em 0; border-bottom: 1px solid #8884; z-index: 1; }
h1 { font-size: 1.3em; margin: 0 0 .2em; }
.totals span { margin-right: 1.2em; }
.hint { color: #888; margin: .2em 0 0; }
section.shot { margin-top: 1.5em; }
h2 { font-size: 1.1em; margin: 0; font-family: ui-monospace, monospace; }
.prompt { white-space: pre-wrap; margin: .2em 0 .6em; max-width: 70em; }
.contact { max-width: 100%; max-height: 90px; display: block; margin-bottom: .6em; }
.takes { display: flex; flex-wrap: wrap; gap: 1em; }
.take { width: 340px; border: 2px solid #8884; border-radius: 6px; padding: .5em; outline: none; }
.take:focus { box-shadow: 0 0 0 3px #48f8; }
.take.mark-select { border-color: var(--sel); }
.take.mark-reject { opacity: .55; }
.take video, .placeholder { width: 100%; aspect-ratio: 16/9; background: #000; border-radius: 4px; }
.placeholder { display: flex; align-items: center; justify-content: center; color: #ccc; background: #333; }
dl { display: grid; grid-template-columns: auto 1fr; gap: 0 .8em; margin: .4em 0; }
dt { color: #888; } dd { margin: 0; overflow-wrap: anywhere; }
.status-done .st { color: var(--ok); } .status-failed .st, .status-in_doubt .st { color: var(--bad); }
.status-pending .st, .status-running .st { color: var(--wait); }
.err { color: var(--bad); white-space: pre-wrap; }
.marks { display: flex; gap: .4em; align-items: center; flex-wrap: wrap; }
.marks textarea { width: 100%; min-height: 2.2em; }
.verdict { font-weight: 600; }
.saved { color: #888; font-size: .9em; }
"#;

/// The page's script. Static: keyboard navigation only. Live: marks are POSTed to
/// the server, and shown only once it says they are on disk.
const SCRIPT: &str = r#"
(function () {
  var live = document.body.dataset.mode === 'live';
  var takes = Array.prototype.slice.call(document.querySelectorAll('.take'));
  function focused() { return document.activeElement && document.activeElement.closest ? document.activeElement.closest('.take') : null; }
  function move(d) {
    var cur = focused(); var i = cur ? takes.indexOf(cur) : -1;
    var next = takes[Math.max(0, Math.min(takes.length - 1, i + d))];
    if (next) { next.focus(); next.scrollIntoView({block: 'nearest'}); }
  }
  function show(take, mark, note, msg) {
    take.classList.remove('mark-select', 'mark-reject');
    if (mark) take.classList.add('mark-' + mark);
    take.dataset.mark = mark || '';
    take.querySelector('.verdict').textContent = mark === 'select' ? 'SELECT' : mark === 'reject' ? 'rejected' : '';
    if (note !== undefined) take.querySelector('textarea').value = note;
    take.querySelector('.saved').textContent = msg || '';
    var total = document.getElementById('total-selected');
    if (total) total.textContent = document.querySelectorAll('.take.mark-select').length + ' selected';
  }
  function send(take, mark) {
    if (!live) return;
    var note = take.querySelector('textarea').value;
    var body = JSON.stringify({job: take.dataset.job, variant: Number(take.dataset.variant),
                               shot: take.dataset.shot, mark: mark || null, note: note});
    take.querySelector('.saved').textContent = 'saving...';
    fetch('api/mark', {method: 'POST', headers: {'Content-Type': 'application/json'}, body: body})
      .then(function (r) { if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function (m) { show(take, m.mark, m.note, 'saved'); take.dataset.savedNote = m.note; })
      .catch(function (e) { take.querySelector('.saved').textContent = 'NOT saved: ' + e.message; });
  }
  takes.forEach(function (take) {
    take.querySelectorAll('button[data-act]').forEach(function (b) {
      b.disabled = !live;
      b.addEventListener('click', function () {
        var act = b.dataset.act; send(take, take.dataset.mark === act ? null : act);
      });
    });
    var ta = take.querySelector('textarea');
    ta.disabled = !live;
    ta.addEventListener('change', function () { send(take, take.dataset.mark || null); });
  });
  document.addEventListener('keydown', function (e) {
    if (e.target.tagName === 'TEXTAREA') { if (e.key === 'Escape') e.target.closest('.take').focus(); return; }
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    var take = focused();
    switch (e.key) {
      case 'j': case 'ArrowRight': move(1); break;
      case 'k': case 'ArrowLeft': move(-1); break;
      case 's': if (take) send(take, take.dataset.mark === 'select' ? null : 'select'); break;
      case 'x': if (take) send(take, take.dataset.mark === 'reject' ? null : 'reject'); break;
      case 'u': if (take) send(take, null); break;
      case 'n': if (take && live) { e.preventDefault(); take.querySelector('textarea').focus(); } break;
      default: return;
    }
  });
  document.body.dataset.videos = String(document.querySelectorAll('video').length);
  document.body.dataset.ready = 'yes';
})();
"#;

/// The whole page.
pub fn render(c: &Campaign, posters: &Posters, mode: Mode) -> String {
    let takes: Vec<&Take> = c.takes().collect();
    let count = |s: TakeStatus| takes.iter().filter(|t| t.status == s).count();
    let spent: f64 = takes.iter().filter_map(|t| t.row.cost_usd).sum();
    let unreported_estimate: f64 = takes
        .iter()
        .filter(|t| t.status == TakeStatus::Done && t.row.cost_usd.is_none())
        .filter_map(|t| t.row.estimated_cost_usd)
        .sum();
    let selected = takes.iter().filter(|t| c.selects.is_selected(&t.row.job_key, t.row.variant)).count();
    let mode_name = if mode == Mode::Live { "live" } else { "static" };
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "Review: " (c.manifest_name) }
                style { (PreEscaped(STYLE)) }
            }
            body data-mode=(mode_name) {
                header {
                    h1 { "Review: " (c.manifest_name) }
                    p.totals {
                        span #total-clips { (takes.len()) " clips" }
                        span #total-done { (count(TakeStatus::Done)) " done" }
                        span #total-failed { (count(TakeStatus::Failed)) " failed" }
                        @if count(TakeStatus::InDoubt) > 0 { span #total-in-doubt { (count(TakeStatus::InDoubt)) " in doubt" } }
                        @if count(TakeStatus::Pending) + count(TakeStatus::Running) > 0 {
                            span #total-pending { (count(TakeStatus::Pending) + count(TakeStatus::Running)) " pending" }
                        }
                        span #total-spend {
                            "spent " (usd(spent)) " (reported, else at its price)"
                            @if unreported_estimate > 0.0 { " (+ " (usd(unreported_estimate)) " estimated, not reported)" }
                        }
                        span #total-selected { (selected) " selected" }
                    }
                    p.hint {
                        @if mode == Mode::Live {
                            "Keys: j / k (or arrows) move between takes, s select, x reject, u clear, n note (Esc leaves it). Marks are saved to selects.yaml."
                        } @else {
                            "Read-only page. To mark selects: shotlist review MANIFEST --serve (marks go to selects.yaml)."
                        }
                    }
                }
                main {
                    @for shot in &c.shots {
                        section.shot id={ "shot-" (shot.id) } {
                            h2 { (shot.id) }
                            p.prompt { (shot.prompt) }
                            @if let Some(sheet) = posters.contact_sheet.get(&shot.id) {
                                img.contact src=(sheet) alt={ "contact sheet of " (shot.id) } loading="lazy";
                            }
                            div.takes {
                                @for take in &shot.takes { (take_card(c, posters, take)) }
                            }
                        }
                    }
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

fn take_card(c: &Campaign, posters: &Posters, t: &Take) -> Markup {
    let r = &t.row;
    let mark = c.selects.get(&r.job_key, r.variant);
    let verdict = mark.and_then(|m| m.mark);
    let mark_class = match verdict {
        Some(Verdict::Select) => "mark-select",
        Some(Verdict::Reject) => "mark-reject",
        None => "",
    };
    let mark_name = match verdict {
        Some(Verdict::Select) => "select",
        Some(Verdict::Reject) => "reject",
        None => "",
    };
    let status_class = match t.status {
        TakeStatus::Done => "status-done",
        TakeStatus::Failed => "status-failed",
        TakeStatus::InDoubt => "status-in_doubt",
        TakeStatus::Running => "status-running",
        TakeStatus::Pending => "status-pending",
    };
    let size = match (r.width, r.height) {
        (Some(w), Some(h)) => format!("{} ({w}x{h})", t.resolution),
        _ => t.resolution.to_owned(),
    };
    // `cost_usd` is what a delivered take is billed; `cost_source` says whence.
    let (cost, source) = match (r.cost_usd, r.cost_source, r.estimated_cost_usd) {
        (Some(c), Some(crate::run::report::CostSource::Reported), _) => (usd(c), "reported by the provider"),
        (Some(c), Some(crate::run::report::CostSource::Manifest), _) => (usd(c), "the manifest's price"),
        (Some(c), _, _) => (usd(c), "list price"),
        (None, _, Some(e)) => (usd(e), "estimate (price table)"),
        (None, _, None) => ("unknown".into(), "no known price"),
    };
    html! {
        article.take.(status_class).(mark_class) tabindex="0" id={ "take-" (r.job_key) "-" (r.variant) }
            data-job=(r.job_key) data-variant=(r.variant) data-shot=(r.shot_id) data-mark=(mark_name) data-status=(r.status) {
            @if t.status == TakeStatus::Done && t.file_exists {
                video preload="metadata" controls src=(r.file) poster=[posters.poster.get(&r.file)] {}
            } @else if t.status == TakeStatus::Done {
                div.placeholder { "file missing: " (r.file) }
            } @else {
                div.placeholder { (t.status.label()) }
            }
            dl {
                dt { "take" } dd { (r.shot_id) " #" (r.variant) }
                dt { "status" } dd.st { (t.status.label()) }
                dt { "provider" } dd { (r.provider) }
                dt { "model" } dd { (r.model) }
                dt { "resolution" } dd { (size) }
                dt { "duration" } dd { @if let Some(d) = r.duration_s { (d) " s" } @else { "unknown" } }
                dt { "seed" } dd { @if let Some(s) = r.seed { (s) } @else { "not reported" } }
                dt { "cost" } dd { (cost) " (" (source) ")" }
                @if !r.error.is_empty() { dt { "error" } dd.err { (r.error) } }
            }
            div.marks {
                button type="button" data-act="select" { "Select (s)" }
                button type="button" data-act="reject" { "Reject (x)" }
                span.verdict { @match verdict { Some(Verdict::Select) => "SELECT", Some(Verdict::Reject) => "rejected", None => "" } }
                span.saved {}
                textarea.note placeholder="note (n)" aria-label="note" { (mark.map(|m| m.note.as_str()).unwrap_or("")) }
            }
        }
    }
}

fn usd(v: f64) -> String {
    format!("${v:.2}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::report::Row;
    use crate::selects::{Mark, Selects};

    fn campaign(prompt: &str, error: &str) -> Campaign {
        let row = |v: u32, status: &str| Row {
            shot_id: "s010".into(),
            variant: v,
            provider: "runware".into(),
            model: "minimax:3@1".into(),
            job_key: "k".into(),
            status: status.into(),
            file: format!("s010/s010_{v}.mp4"),
            error: error.into(),
            ..Row::default()
        };
        let take = |v, status: &str, st| Take {
            row: row(v, status),
            status: st,
            file_exists: true,
            fps: 24,
            resolution: "768p",
        };
        let mut selects = Selects::default();
        selects.set(Mark {
            job: "k".into(),
            variant: 1,
            shot: "s010".into(),
            mark: Some(Verdict::Select),
            note: "<b>keep</b>".into(),
            at: String::new(),
        });
        Campaign {
            out: ".".into(),
            manifest_name: "m.yaml".into(),
            shots: vec![super::super::ShotTakes {
                id: "s010".into(),
                prompt: prompt.into(),
                takes: vec![take(1, "done", TakeStatus::Done), take(2, "pending", TakeStatus::Pending)],
            }],
            selects,
        }
    }

    #[test]
    fn user_text_is_escaped() {
        let html = render(
            &campaign("<script>alert(1)</script> & \"q\"", "<img onerror=x>"),
            &Posters::default(),
            Mode::Static,
        );
        assert!(!html.contains("<script>alert"), "prompt not escaped");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"));
        assert!(!html.contains("<img onerror"));
        assert!(html.contains("&lt;b&gt;keep&lt;/b&gt;"), "note escaped");
    }

    #[test]
    fn a_done_take_plays_a_pending_one_says_so() {
        let html = render(&campaign("p", ""), &Posters::default(), Mode::Static);
        assert_eq!(html.matches("<video").count(), 1);
        assert!(html.contains(r#"src="s010/s010_1.mp4""#), "relative link");
        assert!(html.contains(r#"<div class="placeholder">pending</div>"#));
        assert!(html.contains("mark-select"));
        assert!(!html.contains("http://") && !html.contains("https://"), "no network");
    }
}
