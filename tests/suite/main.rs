//! The integration tests: one binary, a module per feature (ripgrep's layout), with helpers in
//! `util`. Data files live in `tests/data/`; nothing here reads outside the repository.

mod check_cli;
mod conformance;
mod crontab_cli;
mod daemon;
mod next_cli;
mod properties;
mod tzdb;
mod util;
