//! shotlist renders a shot list of AI videos overnight on MiniMax video models,
//! through Runware, MiniMax's own API or Segmind.
//!
//! The pipeline: [`manifest`] (YAML → validated shots, every mistake at once) →
//! [`plan`] (jobs with stable keys and a cost estimate, from the [`catalog`]) →
//! [`run`] (the dispatcher, the journal, downloads, the report) → [`review`] and
//! [`export`] in the morning. [`cli`] ties the steps to the command line;
//! `docs/architecture.md` draws the layers and the job lifecycle.

pub mod catalog;
pub mod cli;
pub mod exit;
pub mod export;
pub mod manifest;
pub mod outdir;
pub mod plan;
pub mod plan_view;
pub mod provider;
pub mod review;
pub mod run;
pub mod selects;
pub mod sim;
pub mod term;
