//! The control socket's language: what `cronwright status`, `history` and `run` ask the
//! daemon, and what it answers. Each request is one line of JSON, and so is each reply; a
//! `run` that waits gets several replies (started, output, end). Pure types and their
//! framing: the daemon serves them in its loop (`daemon/control.rs`), and `client.rs` is the
//! commands' side of the socket.
//!
//! A line is at most [`MAX_REQUEST`] bytes one way; replies are bounded by what they carry
//! (the history's limit, a run's kept output).

pub mod client;

use serde::{Deserialize, Serialize};

use crate::history::RunRow;

/// The socket when the configuration names none.
pub const DEFAULT_SOCKET: &str = "/run/cronwright/control.sock";

/// The longest request line the daemon reads: a request is a few names and numbers.
pub const MAX_REQUEST: usize = 4096;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    /// Every job the asker may see, with its next and last run.
    Status {
        /// Only this user's jobs (root's question; others see only their own anyway).
        #[serde(default)]
        user: Option<String>,
    },
    /// Past runs, newest first.
    History {
        /// A job's name or id.
        #[serde(default)]
        job: Option<String>,
        #[serde(default)]
        user: Option<String>,
        #[serde(default)]
        since_ms: Option<i64>,
        #[serde(default)]
        failed: bool,
        limit: usize,
    },
    /// One run with the output kept of it.
    Output { run: i64 },
    /// Run a job now, as a scheduled run would; `wait`: follow it to its end.
    Run { job: String, wait: bool },
}

/// One line of the daemon's answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Reply {
    Error(String),
    Status(Status),
    History(Vec<RunRow>),
    Output {
        run: Box<RunRow>,
        output: String,
    },
    /// A manual run started (`trigger=manual`).
    Started {
        run: i64,
        pid: u32,
        job: String,
    },
    /// Output of a run being waited for, as it comes.
    Chunk(String),
    /// The end of a run being waited for.
    End(Ended),
}

/// How a run that was waited for ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ended {
    /// `ok`, `exit 3`, `signal 9`, `timeout`, `refused: …`.
    pub result: String,
    pub failed: bool,
    /// The exit code a waiting `cronwright run` exits with: the job's, or 128 + its signal,
    /// or 124 for a timeout (as timeout(1) does).
    pub code: i32,
    pub duration_ms: u64,
}

/// The daemon and its jobs, as one asker may see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub daemon: DaemonInfo,
    pub jobs: Vec<JobStatus>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DaemonInfo {
    pub pid: u32,
    /// Unix seconds.
    pub started: i64,
    pub now: i64,
    pub files: usize,
    pub jobs: usize,
    /// Lines and files not loaded, each `file:line: message` (only the asker's, for users).
    pub problems: Vec<String>,
    /// Whether runs are being recorded (the history is on and its writer running).
    pub history: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    /// `CRON_NAME`, else the id.
    pub job: String,
    pub id: String,
    pub name: Option<String>,
    pub user: String,
    /// `file:line`.
    pub source: String,
    pub schedule: String,
    pub zone: String,
    /// The next run, Unix seconds (its delay included), and as the job's zone shows it.
    pub next: Option<i64>,
    pub next_local: Option<String>,
    pub command: String,
    pub policy: String,
    /// The pid of its run in progress.
    pub running: Option<u32>,
    pub last: Option<LastRun>,
}

/// The last run of a job that ended or was skipped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastRun {
    pub run: i64,
    /// `ok`, `exit 3`, `signal 9`, `timeout`, `skipped: overlap`…
    pub result: String,
    pub failed: bool,
    /// When it ended (or was skipped), Unix milliseconds.
    pub at_ms: i64,
    pub duration_ms: Option<u64>,
    pub late_secs: Option<u64>,
}

impl From<RunRow> for LastRun {
    fn from(row: RunRow) -> LastRun {
        LastRun {
            run: row.id,
            at_ms: row.ended_ms.unwrap_or(row.at_ms),
            result: row.result,
            failed: row.failed,
            duration_ms: row.duration_ms,
            late_secs: row.late_secs,
        }
    }
}

/// The text of a message as it goes on the socket: one line.
pub fn line<T: Serialize>(message: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec(message).unwrap_or_else(|e| {
        // Only a map with non-string keys fails to serialize; none of ours has one.
        format!("{{\"error\":\"cannot encode the reply: {e}\"}}").into_bytes()
    });
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_one_line_of_json_with_an_op() {
        let r = Request::Run {
            job: "backup".into(),
            wait: true,
        };
        let text = line(&r);
        assert_eq!(text, b"{\"op\":\"run\",\"job\":\"backup\",\"wait\":true}\n");
        let back: Request = serde_json::from_slice(&text).unwrap();
        assert_eq!(back, r);
        let status: Request = serde_json::from_str(r#"{"op":"status"}"#).unwrap();
        assert_eq!(status, Request::Status { user: None });
        assert!(serde_json::from_str::<Request>(r#"{"op":"status","sudo":true}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"op":"reboot"}"#).is_err());
    }

    #[test]
    fn replies_name_their_kind() {
        let text = line(&Reply::Error("no such job".into()));
        assert_eq!(text, b"{\"error\":\"no such job\"}\n");
        let chunk = line(&Reply::Chunk("a\nb".into()));
        assert_eq!(chunk, b"{\"chunk\":\"a\\nb\"}\n");
    }
}
