//! The integration tests: one binary, a module per feature (ripgrep's layout), `regression`
//! for the tests that pin fixed bugs, and helpers in `util` (the daemon's own in `daemon`).
//! Data files live in `tests/data/`; nothing here reads outside the repository.

mod check_cli;
mod conformance;
pub(crate) mod crontab_cli;
pub(crate) mod daemon;
mod next_cli;
mod properties;
mod regression;
mod tzdb;
mod util;
