//! The integration tests, in one binary (ripgrep style): each module drives the
//! real `shotlist` binary or the library through the helpers in `util`.

mod clients;
mod faults;
mod fuzz;
mod identity;
mod invalid_manifests;
mod options;
mod plan;
mod proof;
mod run;
mod sim;
mod util;
