//! The command line (DESIGN "Command line"): parse arguments, then run the pipeline
//! for the chosen command and turn its outcome into a documented exit code.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit;
use crate::manifest::{self, Loaded};
use crate::plan::Plan;
use crate::plan_view;

#[derive(Parser, Debug)]
#[command(name = "shotlist", version, about = "Render a shot list of AI videos overnight on MiniMax models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate a manifest and show its jobs and estimated cost. Never touches the network.
    Plan {
        /// The manifest (YAML).
        manifest: PathBuf,
        /// Print the plan (or the problems) as JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Render the manifest: submit, poll, download; resumable (same command again).
    Run(crate::run::RunArgs),
    /// Show how a render stands (read-only; safe while a run is active).
    Status(crate::run::status::StatusArgs),
    /// Rewrite report.csv from the state journal.
    Report(crate::run::status::StatusArgs),
    /// Write review.html (every take of every shot); --serve: mark selects in a local page.
    Review(crate::review::ReviewArgs),
    /// Export the selects (else each shot's first done take) as an OTIO timeline or a CMX 3600 EDL.
    Export(crate::export::ExportArgs),
    /// Run the local provider simulator (Runware, MiniMax and Segmind at their real paths).
    Sim(SimArgs),
}

/// Knobs of `shotlist sim`; a scenario file sets the rest (see `sim::SimConfig`).
#[derive(clap::Args, Debug)]
pub struct SimArgs {
    /// Address to listen on (loopback by default).
    #[arg(long, default_value = "127.0.0.1:8931")]
    pub listen: std::net::SocketAddr,
    /// A scenario file (YAML); the flags below override it.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Seed of every random draw (same seed, same scenario: same answers).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Real seconds per simulated second (0.01: a 2-minute render takes 1.2 s).
    #[arg(long)]
    pub time_scale: Option<f64>,
    /// A fault rate for every provider, e.g. `--fault http5xx=0.1` (repeatable).
    #[arg(long, value_name = "KIND=RATE")]
    pub fault: Vec<String>,
    /// Submits per minute a provider accepts, e.g. `--rpm minimax=5` (repeatable).
    #[arg(long, value_name = "PROVIDER=N")]
    pub rpm: Vec<String>,
    /// Tasks a provider renders at once, e.g. `--concurrency runware=8` (repeatable).
    #[arg(long, value_name = "PROVIDER=N")]
    pub concurrency: Vec<String>,
    /// Accepted jobs after which a provider answers "insufficient credits" (repeatable).
    #[arg(long, value_name = "PROVIDER=N")]
    pub credits_after: Vec<String>,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    // Diagnostics for developers: SHOTLIST_LOG=debug (never includes keys).
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("SHOTLIST_LOG") {
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap: help and version are not errors; usage mistakes exit 2 as documented.
            return exit::code(if e.use_stderr() { exit::INVALID } else { exit::OK });
        }
    };
    match cli.command {
        Command::Plan { manifest, json } => plan(&manifest, json),
        Command::Sim(args) => crate::sim::cli::run(args),
        Command::Run(args) => crate::run::run(args),
        Command::Status(args) => crate::run::status::status(args),
        Command::Report(args) => crate::run::status::rebuild_report(args),
        Command::Review(args) => crate::review::review(args),
        Command::Export(args) => crate::export::export(args),
    }
}

/// `shotlist plan`: load, validate, plan, show.
fn plan(path: &Path, json: bool) -> ExitCode {
    let loaded = match manifest::load(path) {
        Ok(loaded) => loaded,
        Err(invalid) => {
            if json {
                println!("{}", plan_view::json_invalid(&invalid));
            }
            eprint!("{}", invalid.render(use_color()));
            return exit::code(exit::INVALID);
        }
    };
    let plan = Plan::new(&loaded.manifest);
    let out_dir = default_out_dir(&loaded, None);
    if !loaded.warnings.is_empty() {
        eprint!("{}", manifest::diag::render(&loaded.warnings, &loaded.file_name, &loaded.source, use_color()));
    }
    let text =
        if json { plan_view::json(&plan, &loaded, &out_dir) } else { plan_view::table(&plan, &loaded, &out_dir) };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`shotlist plan x | head`) is not an error worth a panic.
    let _ = writeln!(stdout, "{}", text.trim_end());
    exit::code(exit::OK)
}

/// The out folder: `--out`, else the manifest's `output:`, else `renders/<stem>`.
pub fn default_out_dir(loaded: &Loaded, cli_out: Option<&Path>) -> PathBuf {
    if let Some(out) = cli_out {
        return out.to_path_buf();
    }
    if let Some(out) = &loaded.manifest.output {
        return lexically_normal(out);
    }
    let stem =
        loaded.manifest.path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "shotlist".into());
    Path::new("renders").join(stem)
}

/// `a/b/../c` → `a/c` without touching the disk (the folder may not exist yet).
fn lexically_normal(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

pub fn use_color() -> bool {
    std::env::var_os("NO_COLOR").is_none() && std::io::stderr().is_terminal()
}
