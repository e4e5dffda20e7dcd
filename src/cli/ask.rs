//! What `status`, `history` and `run` share: finding the daemon from its configuration,
//! and showing times and results the way a person reads them.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::Config;
use crate::control::client::{ClientError, Connection};

/// How long a question to the daemon may take to be answered.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The daemon's configuration (`--config`, `$CRONWRIGHT_CONFIG`, the default), which says
/// where its socket and its state directory are.
pub fn config(arg: Option<PathBuf>) -> anyhow::Result<Config> {
    Ok(Config::load_or_defaults(&super::config_path(arg))?)
}

/// A connection to the daemon; `Ok(None)` when it is not running. `follow`: the
/// connection waits as long as a run lasts.
pub fn connect(config: &Config, follow: bool) -> anyhow::Result<Option<Connection>> {
    let Some(path) = &config.daemon.control_socket else {
        return Ok(None);
    };
    let timeout = (!follow).then_some(ANSWER_TIMEOUT);
    match Connection::open(path, timeout) {
        Ok(c) => Ok(Some(c)),
        Err(ClientError::NotRunning { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The control socket, for messages.
pub fn socket_name(config: &Config) -> String {
    config
        .daemon
        .control_socket
        .as_deref()
        .map_or_else(|| "no control socket".into(), |p| p.display().to_string())
}

/// The history database, for reading when the daemon is not running.
pub fn history_db(config: &Config) -> PathBuf {
    config.daemon.state_dir.join("history.db")
}

/// Whether the history database can be opened by this user (it is root's, mode 0700).
pub fn may_read(state_dir: &Path) -> bool {
    nix::unistd::access(
        &state_dir.join("history.db"),
        nix::unistd::AccessFlags::R_OK,
    )
    .is_ok()
}

/// `3h 12m`, `45s`, `2d 4h`: the two largest units.
pub fn span(secs: i64) -> String {
    const UNITS: [(u64, &str); 4] = [(86_400, "d"), (3_600, "h"), (60, "m"), (1, "s")];
    let secs = secs.unsigned_abs();
    let i = UNITS
        .iter()
        .position(|(size, _)| secs >= *size)
        .unwrap_or(3);
    let (size, name) = UNITS[i];
    let mut out = format!("{}{name}", secs / size);
    if let Some((next, next_name)) = UNITS.get(i + 1) {
        let rest = secs % size / next;
        if rest > 0 {
            out.push_str(&format!(" {rest}{next_name}"));
        }
    }
    out
}

/// `in 3h 12m` or `5m ago`, from `now` to `at` (both Unix seconds).
pub fn relative(at: i64, now: i64) -> String {
    match at - now {
        d if d.abs() < 1 => "now".into(),
        d if d > 0 => format!("in {}", span(d)),
        d => format!("{} ago", span(d)),
    }
}

/// `12.3s`, `850ms`, `4m 2s`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms}ms"),
        1_000..=59_999 => format!("{:.1}s", ms as f64 / 1000.0),
        _ => span((ms / 1000) as i64),
    }
}

/// Colours for a result word, on a terminal that wants them (`NO_COLOR` turns them off).
pub struct Paint {
    on: bool,
}

impl Paint {
    pub fn stdout() -> Paint {
        Paint {
            on: std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }

    /// `padded`, a cell that shows a result, coloured as that result: red for a failure,
    /// yellow for a skip, green for success.
    pub fn result(&self, padded: String, failed: bool) -> String {
        let text = padded.trim();
        let colour = if !self.on {
            return padded;
        } else if failed {
            "31"
        } else if text.starts_with("skipped") {
            "33"
        } else if text == "ok" {
            "32"
        } else {
            return padded;
        };
        format!("\x1b[{colour}m{padded}\x1b[0m")
    }
}

/// Lays out rows under a header, each column as wide as its widest cell; the last column is
/// not padded. `paint(row, column, padded cell)` may colour a cell: it is padded first, since
/// escape codes take no room on the screen.
pub fn table(
    header: &[&str],
    rows: &[Vec<String>],
    paint: &dyn Fn(usize, usize, String) -> String,
) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let last = header.len() - 1;
    let line = |cells: &[String], row: Option<usize>| {
        let mut s = String::new();
        for (i, cell) in cells.iter().enumerate() {
            let padded = if i == last {
                cell.clone()
            } else {
                format!("{cell:<width$}", width = widths[i])
            };
            s.push_str(&match row {
                Some(r) => paint(r, i, padded),
                None => padded,
            });
            if i != last {
                s.push_str("  ");
            }
        }
        format!("{}\n", s.trim_end())
    };
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let mut out = line(&header, None);
    for (r, row) in rows.iter().enumerate() {
        out.push_str(&line(row, Some(r)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_read_as_a_person_says_them() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(45), "45s");
        assert_eq!(span(3_600 * 3 + 60 * 12 + 5), "3h 12m");
        assert_eq!(span(86_400 * 2 + 3_600 * 4), "2d 4h");
        assert_eq!(span(86_400), "1d");
        assert_eq!(relative(100, 100), "now");
        assert_eq!(relative(160, 100), "in 1m");
        assert_eq!(relative(100, 400), "5m ago");
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(12_345), "12.3s");
        assert_eq!(duration(242_000), "4m 2s");
    }

    #[test]
    fn tables_align_their_columns() {
        let rows = vec![
            vec!["a".to_string(), "ok".to_string(), "x".to_string()],
            vec!["long".to_string(), "exit 3".to_string(), "y".to_string()],
        ];
        let text = table(&["JOB", "RESULT", "CMD"], &rows, &|_, _, cell| cell);
        assert_eq!(
            text,
            "JOB   RESULT  CMD\na     ok      x\nlong  exit 3  y\n"
        );
    }
}
