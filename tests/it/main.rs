//! The integration tests, in one binary (ripgrep style): each module drives the
//! real `shotlist` binary or the library through the helpers in `util`.

mod clients;
mod commands;
mod faults;
mod faults_v2;
mod fuzz;
mod h3;
mod identity;
mod invalid_manifests;
mod journal_fixture;
mod lanes;
mod money;
mod options;
mod plan;
mod proof;
mod review;
mod run;
mod screen;
mod shared_state;
mod sim;
mod takes;
mod util;
