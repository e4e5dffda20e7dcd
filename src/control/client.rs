//! The commands' side of the control socket: connect, send one request, read the replies.
//!
//! Whether the daemon runs is told by the socket alone: nothing listening (no file, or a
//! file nobody accepts on) is "not running", which the commands answer from the files where
//! they may; a socket they may not open is said as such.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Reply, Request, line};

/// A reply longer than this is not the daemon's (the largest is a history of 10,000 runs).
const MAX_REPLY: u64 = 256 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the daemon is not running (nothing listens on {})", .path.display())]
    NotRunning { path: PathBuf },
    #[error("cannot open the control socket {}: permission denied", .path.display())]
    Denied { path: PathBuf },
    #[error("control socket {}: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("control socket {}: the daemon's reply is not understood: {why}", .path.display())]
    BadReply { path: PathBuf, why: String },
}

/// A connection to the daemon.
pub struct Connection {
    path: PathBuf,
    reader: BufReader<UnixStream>,
}

impl Connection {
    /// Connects; `timeout` bounds each read (None: wait as long as a run lasts).
    pub fn open(path: &Path, timeout: Option<Duration>) -> Result<Connection, ClientError> {
        use std::io::ErrorKind::*;
        let stream = UnixStream::connect(path).map_err(|e| match e.kind() {
            NotFound | ConnectionRefused => ClientError::NotRunning { path: path.into() },
            PermissionDenied => ClientError::Denied { path: path.into() },
            _ => ClientError::Io {
                path: path.into(),
                source: e,
            },
        })?;
        let io = |source| ClientError::Io {
            path: path.into(),
            source,
        };
        stream.set_read_timeout(timeout).map_err(io)?;
        stream
            .set_write_timeout(Some(Duration::from_secs(10)))
            .map_err(io)?;
        Ok(Connection {
            path: path.into(),
            reader: BufReader::new(stream),
        })
    }

    pub fn send(&mut self, request: &Request) -> Result<(), ClientError> {
        self.reader
            .get_mut()
            .write_all(&line(request))
            .map_err(|source| self.io(source))
    }

    /// The next reply; `None` when the daemon closed the connection.
    pub fn next(&mut self) -> Result<Option<Reply>, ClientError> {
        let mut text = Vec::new();
        let n = Read::take(&mut self.reader, MAX_REPLY)
            .read_until(b'\n', &mut text)
            .map_err(|source| self.io(source))?;
        if n == 0 {
            return Ok(None);
        }
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|e| ClientError::BadReply {
                path: self.path.clone(),
                why: e.to_string(),
            })
    }

    /// Sends `request` and reads its one reply.
    pub fn ask(&mut self, request: &Request) -> Result<Reply, ClientError> {
        self.send(request)?;
        self.next()?.ok_or_else(|| ClientError::BadReply {
            path: self.path.clone(),
            why: "the daemon closed the connection without a reply".into(),
        })
    }

    fn io(&self, source: std::io::Error) -> ClientError {
        ClientError::Io {
            path: self.path.clone(),
            source,
        }
    }
}
