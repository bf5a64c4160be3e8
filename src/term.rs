//! The terminal and the log: whether to draw in colour (`--color`, `NO_COLOR`, a
//! terminal on stderr), and where shotlist's own events go (`-v` on stderr,
//! `SHOTLIST_LOG=FILE` to a file without colour codes). Set once at start.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// `--color`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// Colour on a terminal, unless `NO_COLOR` is set.
    #[default]
    Auto,
    Always,
    Never,
}

static COLOR: OnceLock<ColorChoice> = OnceLock::new();

/// Records the `--color` choice (the first call wins).
pub fn set_color(choice: ColorChoice) {
    let _ = COLOR.set(choice);
}

/// Whether messages on stderr are drawn in colour.
pub fn use_color() -> bool {
    match COLOR.get().copied().unwrap_or_default() {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal(),
    }
}

/// Only shotlist's own events: the HTTP stack (hyper, reqwest, rustls, h2) logs
/// every pooled connection at debug, which drowns what a user needs.
fn own_events(level: &str) -> tracing_subscriber::EnvFilter {
    tracing_subscriber::EnvFilter::new(format!("shotlist={level}"))
}

/// Starts the log: `-v` shows shotlist's info events on stderr (`-vv` debug,
/// `-vvv` trace); `SHOTLIST_LOG=FILE` appends its debug events to FILE, without
/// colour codes. A file that cannot be opened is said once and otherwise ignored.
pub fn init_log(verbose: u8) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let log = std::env::var_os("SHOTLIST_LOG").filter(|v| !v.is_empty());
    // Before it named a file, SHOTLIST_LOG took a level (`debug`): that still works,
    // on stderr, rather than writing a file called `debug`.
    const LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];
    let legacy =
        log.as_ref().and_then(|v| v.to_str()).and_then(|v| LEVELS.iter().position(|l| v.eq_ignore_ascii_case(l)));
    let log = if legacy.is_some() { None } else { log };
    let verbose = verbose.max(legacy.map_or(0, |i| i.saturating_sub(1) as u8));
    let stderr_layer = (verbose > 0).then(|| {
        let level = match verbose {
            1 => "info",
            2 => "debug",
            _ => "trace",
        };
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(use_color())
            .with_target(false)
            .with_filter(own_events(level))
    });
    let file_layer = log.and_then(|path| match std::fs::OpenOptions::new().create(true).append(true).open(&path) {
        Ok(file) => Some(
            tracing_subscriber::fmt::layer()
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .with_filter(own_events("debug")),
        ),
        Err(e) => {
            eprintln!("shotlist: SHOTLIST_LOG: cannot open {}: {e}; no log is written", path.to_string_lossy());
            None
        }
    });
    if stderr_layer.is_some() || file_layer.is_some() {
        let _ = tracing_subscriber::registry().with(stderr_layer).with(file_layer).try_init();
    }
}
