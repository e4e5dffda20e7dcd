//! The daemon's two listening sockets, served by its one poll loop: the control socket
//! (`cronwright status`, `history`, `run`; one line of JSON each way) and, when configured,
//! the metrics endpoint (one HTTP request per connection).
//!
//! Nothing here may hold up the loop: every socket is non-blocking, a request is read a
//! piece at a time as poll says it is there, and replies are queued and written as the
//! client takes them. A client gets [`REQUEST_DEADLINE`] to send its request and
//! [`DRAIN_DEADLINE`] to take its reply; one that sends more than a request's worth, or lets
//! more than [`MAX_QUEUED`] of replies pile up, is dropped. At most [`MAX_CLIENTS`] are
//! served at once, [`MAX_CLIENTS_PER_UID`] of one user; more are turned away at the door. While no client is connected
//! nothing here has a deadline, so an idle daemon still sleeps until its next job.
//!
//! Who asks is told by the kernel (`SO_PEERCRED`), never by the request; what each asker
//! may see is the daemon's business (`observe.rs`).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::control::{MAX_REQUEST, Reply, Request, line};

/// Clients served at once, control and metrics together.
const MAX_CLIENTS: usize = 64;
/// Control clients of one uid served at once, so that one user cannot take every place.
const MAX_CLIENTS_PER_UID: usize = 8;
/// How long a client has to send its whole request.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// How long a client has to take its reply, once it is complete.
const DRAIN_DEADLINE: Duration = Duration::from_secs(10);
/// Reply bytes queued for one client before it counts as gone (a run's output it does not
/// read, a history it does not take). The largest reply, 10,000 runs, is about 6 MiB.
const MAX_QUEUED: usize = 8 << 20;
/// The longest HTTP request head read from a metrics client.
const MAX_HTTP_HEAD: usize = 8192;

/// A request that came in whole.
pub(super) enum Incoming {
    /// A control request from `uid`; `Err` holds why it was not understood.
    Control {
        client: u64,
        uid: u32,
        request: Result<Request, String>,
    },
    /// An HTTP request head from a metrics client.
    Http { client: u64, head: Vec<u8> },
}

enum Stream {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Stream {
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Stream::Unix(s) => s.as_fd(),
            Stream::Tcp(s) => s.as_fd(),
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.read(buf),
            Stream::Tcp(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Unix(s) => s.write(buf),
            Stream::Tcp(s) => s.write(buf),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    /// Its request is not complete yet.
    Reading,
    /// Its request was handed to the daemon; more replies will come (a run it waits for).
    Answering,
    /// Its last reply is queued: close once it is written.
    Closing,
}

struct Client {
    id: u64,
    stream: Stream,
    /// The peer's uid (control clients), from the kernel.
    uid: Option<u32>,
    input: Vec<u8>,
    output: Vec<u8>,
    state: State,
    deadline: Option<Instant>,
    gone: bool,
}

/// The listening sockets and their clients.
#[derive(Default)]
pub(super) struct Service {
    control: Option<(UnixListener, PathBuf)>,
    http: Option<TcpListener>,
    clients: Vec<Client>,
    next_id: u64,
}

/// Where the pollable descriptors of the service sit in the loop's poll set.
#[derive(Debug)]
pub(super) struct Slots {
    control: Option<usize>,
    http: Option<usize>,
    clients: Vec<(u64, usize)>,
}

impl Service {
    /// Binds the control socket at `path` (mode 0666: who may see what is decided per
    /// request). A stale socket left by a daemon that died is replaced; a live one, or
    /// anything that is not a socket, is left alone and is an error.
    pub fn listen_control(&mut self, path: &Path) -> io::Result<()> {
        if let Some(dir) = path.parent() {
            if !dir.exists() {
                std::fs::DirBuilder::new().recursive(true).create(dir)?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                if UnixStream::connect(path).is_ok() {
                    return Err(io::Error::other(format!(
                        "{} is in use by another daemon",
                        path.display()
                    )));
                }
                std::fs::remove_file(path)?;
            }
            Ok(_) => {
                return Err(io::Error::other(format!(
                    "{} exists and is not a socket",
                    path.display()
                )));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))?;
        self.control = Some((listener, path.to_path_buf()));
        Ok(())
    }

    /// Serves metrics over HTTP at `addr`.
    pub fn listen_http(&mut self, addr: SocketAddr) -> io::Result<()> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        self.http = Some(listener);
        Ok(())
    }

    /// Stops listening for metrics (a reload that turned them off or moved them).
    pub fn stop_http(&mut self) {
        self.http = None;
    }

    /// Removes the control socket, at exit.
    pub fn close(&mut self) {
        if let Some((_, path)) = self.control.take() {
            let _ = std::fs::remove_file(path);
        }
        self.http = None;
        self.clients.clear();
    }

    /// Adds the service's descriptors to the poll set.
    pub fn add_to<'a>(&'a self, fds: &mut Vec<nix::poll::PollFd<'a>>) -> Slots {
        use nix::poll::{PollFd, PollFlags};
        let mut push = |fd: BorrowedFd<'a>, flags: PollFlags| {
            fds.push(PollFd::new(fd, flags));
            fds.len() - 1
        };
        let control = self
            .control
            .as_ref()
            .map(|(l, _)| push(l.as_fd(), PollFlags::POLLIN));
        let http = self
            .http
            .as_ref()
            .map(|l| push(l.as_fd(), PollFlags::POLLIN));
        let clients = self
            .clients
            .iter()
            .map(|c| {
                let mut flags = PollFlags::empty();
                if c.state == State::Reading || c.state == State::Answering {
                    // While answering, a readable socket is the client hanging up.
                    flags |= PollFlags::POLLIN;
                }
                if !c.output.is_empty() {
                    flags |= PollFlags::POLLOUT;
                }
                (c.id, push(c.stream.fd(), flags))
            })
            .collect();
        Slots {
            control,
            http,
            clients,
        }
    }

    /// The earliest client deadline, for the poll timeout.
    pub fn deadline(&self) -> Option<Instant> {
        self.clients.iter().filter_map(|c| c.deadline).min()
    }

    /// Accepts, reads and writes what poll found ready; the requests that came in whole.
    pub fn dispatch(&mut self, slots: &Slots, ready: impl Fn(usize) -> bool) -> Vec<Incoming> {
        if slots.control.is_some_and(&ready) {
            self.accept_control();
        }
        if slots.http.is_some_and(&ready) {
            self.accept_http();
        }
        let mut incoming = Vec::new();
        for &(id, slot) in &slots.clients {
            if !ready(slot) {
                continue;
            }
            if let Some(c) = self.clients.iter_mut().find(|c| c.id == id) {
                c.flush();
                if let Some(i) = c.read() {
                    incoming.push(i);
                }
            }
        }
        self.sweep();
        incoming
    }

    /// Drops the clients past their deadline.
    pub fn expire(&mut self, now: Instant) {
        for c in &mut self.clients {
            if c.deadline.is_some_and(|d| d <= now) {
                c.gone = true;
            }
        }
        self.sweep();
    }

    /// Queues a reply to `client`; `last`: nothing follows it, so the connection closes once
    /// it is written. A client that is gone is passed over.
    pub fn send(&mut self, client: u64, reply: &Reply, last: bool) {
        self.send_bytes(client, &line(reply), last);
    }

    /// Queues raw bytes (an HTTP response), as [`Service::send`].
    pub fn send_bytes(&mut self, client: u64, bytes: &[u8], last: bool) {
        let Some(c) = self.clients.iter_mut().find(|c| c.id == client) else {
            return;
        };
        if c.output.len() + bytes.len() > MAX_QUEUED {
            c.gone = true;
        } else {
            c.output.extend_from_slice(bytes);
            if last {
                c.state = State::Closing;
                c.deadline = Some(Instant::now() + DRAIN_DEADLINE);
            }
            c.flush();
        }
        self.sweep();
    }

    fn accept_control(&mut self) {
        let Some((listener, _)) = &self.control else {
            return;
        };
        let mut accepted = Vec::new();
        while let Ok((stream, _)) = listener.accept() {
            use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
            // A peer the kernel cannot name is nobody to answer.
            if let Ok(creds) = getsockopt(&stream, PeerCredentials) {
                accepted.push((stream, creds.uid()));
            }
        }
        for (stream, uid) in accepted {
            self.admit(Stream::Unix(stream), Some(uid));
        }
    }

    fn accept_http(&mut self) {
        let Some(listener) = &self.http else { return };
        let mut accepted = Vec::new();
        while let Ok((stream, _)) = listener.accept() {
            accepted.push(stream);
        }
        for stream in accepted {
            self.admit(Stream::Tcp(stream), None);
        }
    }

    fn admit(&mut self, stream: Stream, uid: Option<u32>) {
        let nonblocking = match &stream {
            Stream::Unix(s) => s.set_nonblocking(true),
            Stream::Tcp(s) => s.set_nonblocking(true),
        };
        let of_uid = uid.map_or(0, |u| {
            self.clients.iter().filter(|c| c.uid == Some(u)).count()
        });
        // Over a limit, the connection is closed unanswered: a reply could block.
        if nonblocking.is_err()
            || self.clients.len() >= MAX_CLIENTS
            || of_uid >= MAX_CLIENTS_PER_UID
        {
            return;
        }
        self.next_id += 1;
        self.clients.push(Client {
            id: self.next_id,
            stream,
            uid,
            input: Vec::new(),
            output: Vec::new(),
            state: State::Reading,
            deadline: Some(Instant::now() + REQUEST_DEADLINE),
            gone: false,
        });
    }

    fn sweep(&mut self) {
        self.clients
            .retain(|c| !(c.gone || c.state == State::Closing && c.output.is_empty()));
    }
}

impl Client {
    /// Reads what is there; the request once it is whole.
    fn read(&mut self) -> Option<Incoming> {
        let mut buf = [0u8; 4096];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.gone = true;
                    return None;
                }
                Ok(n) if self.state == State::Reading => {
                    self.input.extend_from_slice(&buf[..n]);
                    if let Some(i) = self.request() {
                        return Some(i);
                    }
                    let limit = if self.uid.is_some() {
                        MAX_REQUEST
                    } else {
                        MAX_HTTP_HEAD
                    };
                    if self.input.len() > limit {
                        self.gone = true;
                        return None;
                    }
                }
                // One request per connection: anything more is not read, only its hangup.
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.gone = true;
                    return None;
                }
            }
        }
    }

    /// The request in `input`, if it is complete.
    fn request(&mut self) -> Option<Incoming> {
        let incoming = match self.uid {
            Some(uid) => {
                let end = self.input.iter().position(|&b| b == b'\n')?;
                let request = serde_json::from_slice::<Request>(&self.input[..end])
                    .map_err(|e| format!("not a request: {e}"));
                Incoming::Control {
                    client: self.id,
                    uid,
                    request,
                }
            }
            None => {
                let end = self.input.windows(4).position(|w| w == b"\r\n\r\n")?;
                Incoming::Http {
                    client: self.id,
                    head: self.input[..end + 4].to_vec(),
                }
            }
        };
        self.input = Vec::new();
        self.state = State::Answering;
        self.deadline = None;
        Some(incoming)
    }

    /// Writes what the socket takes now.
    fn flush(&mut self) {
        while !self.output.is_empty() {
            match self.stream.write(&self.output) {
                Ok(0) => {
                    self.gone = true;
                    return;
                }
                Ok(n) => {
                    self.output.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    self.gone = true;
                    return;
                }
            }
        }
    }
}
