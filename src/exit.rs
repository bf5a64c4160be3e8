//! The documented exit codes (DESIGN "Command line"); scripts rely on them.

use std::process::ExitCode;

/// Every job done (or, for `plan`, the manifest is valid).
pub const OK: u8 = 0;
/// Finished with failed or in-doubt jobs.
pub const JOBS_FAILED: u8 = 1;
/// Invalid manifest or usage; nothing was submitted.
pub const INVALID: u8 = 2;
/// Halted: budget reached, insufficient credits, authentication refused.
pub const HALTED: u8 = 3;
/// Interrupted; state saved.
pub const INTERRUPTED: u8 = 130;

pub fn code(c: u8) -> ExitCode {
    ExitCode::from(c)
}
