//! The command line (DESIGN "Command line"): parse arguments, then run the pipeline
//! for the chosen command and turn its outcome into a documented exit code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::exit;
use crate::manifest;
pub use crate::outdir::default_out_dir;
use crate::plan::Plan;
use crate::plan_view;
use crate::sim::cli::SimArgs;
pub use crate::term::use_color;

#[derive(Parser, Debug)]
#[command(name = "shotlist", version, about = "Render a shot list of AI videos overnight on MiniMax models")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Show shotlist's own events on stderr (-v info, -vv debug, -vvv trace).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colour in messages: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, default_value_t = crate::term::ColorChoice::Auto, value_name = "WHEN")]
    pub color: crate::term::ColorChoice,
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
    /// Print shell completions (source them from your shell's startup file).
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) on stdout: `shotlist man > shotlist.1`.
    Man,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap: help and version are not errors; usage mistakes exit 2 as documented.
            return exit::code(if e.use_stderr() { exit::INVALID } else { exit::OK });
        }
    };
    crate::term::set_color(cli.color);
    // shotlist's own events (never keys): -v on stderr, SHOTLIST_LOG=FILE to a file.
    crate::term::init_log(cli.verbose);
    match cli.command {
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            // Into memory first: clap_complete panics on a closed pipe (`... | head`).
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut cmd, "shotlist", &mut script);
            let _ = std::io::stdout().write_all(&script);
            exit::code(exit::OK)
        }
        Command::Man => {
            let page = clap_mangen::Man::new(<Cli as clap::CommandFactory>::command());
            match page.render(&mut std::io::stdout()) {
                // `shotlist man | head`: a reader that stops early is not an error.
                Ok(()) => exit::code(exit::OK),
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => exit::code(exit::OK),
                Err(e) => {
                    eprintln!("shotlist man: {e}");
                    exit::code(exit::INVALID)
                }
            }
        }
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
