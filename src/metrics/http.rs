//! The metrics endpoint's side of HTTP: the answer to one request head, as bytes to write.
//! The daemon's loop reads the head (bounded, with a deadline) and writes the answer; here
//! is only what a request means, so it is tested without sockets.

use super::Metrics;

/// The answer to one HTTP request read from a metrics client: `head` is the request up to and
/// including the blank line. GET (or HEAD) `/metrics` gets the metrics as OpenMetrics, `/` a
/// pointer to them; another path 404, another method 405, a malformed request line 400.
pub fn http_response(head: &[u8], metrics: &Metrics) -> Vec<u8> {
    let Some((method, target)) = request_line(head) else {
        return response("400 Bad Request", TEXT, b"bad request\n", false);
    };
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return response(
            "405 Method Not Allowed\r\nAllow: GET, HEAD",
            TEXT,
            b"only GET and HEAD\n",
            false,
        );
    }
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    match path {
        "/metrics" => response(
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode().as_bytes(),
            head_only,
        ),
        "/" => response(
            "200 OK",
            TEXT,
            b"cronwrightd: the metrics are at /metrics\n",
            head_only,
        ),
        _ => response("404 Not Found", TEXT, b"not found\n", head_only),
    }
}

const TEXT: &str = "text/plain; charset=utf-8";

/// The method and target of a request line `METHOD SP /target SP HTTP/x.y`, or `None` if it
/// is not one. Strict, because only Prometheus and curl talk to this endpoint: anything else
/// is better refused than guessed at.
fn request_line(head: &[u8]) -> Option<(&str, &str)> {
    let end = head.iter().position(|&b| b == b'\n')?;
    let line = head[..end].strip_suffix(b"\r").unwrap_or(&head[..end]);
    let line = std::str::from_utf8(line).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    // RFC 9110's token characters.
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if method.is_empty() || !method.chars().all(token) {
        return None;
    }
    if !target.starts_with('/') || !target.chars().all(|c| c.is_ascii_graphic()) {
        return None;
    }
    let digits = version.strip_prefix("HTTP/")?.as_bytes();
    if !matches!(digits, [major, b'.', minor] if major.is_ascii_digit() && minor.is_ascii_digit()) {
        return None;
    }
    Some((method, target))
}

/// `status` may carry extra header lines after the status itself.
fn response(status: &str, content_type: &str, body: &[u8], head_only: bool) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::JobLabels;

    fn answer(request: &str, m: &Metrics) -> String {
        String::from_utf8(http_response(request.as_bytes(), m)).unwrap()
    }

    /// The header block and the body of an answer.
    fn split(answer: &str) -> (&str, &str) {
        answer.split_once("\r\n\r\n").unwrap()
    }

    fn content_length(headers: &str) -> usize {
        headers
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn metrics() -> Metrics {
        let mut m = Metrics::new();
        let job = JobLabels {
            job: "backup".into(),
            user: "alice".into(),
        };
        m.set_jobs(&[(job.clone(), Some(1_800_000_000))]);
        m.run_started(&job);
        m.run_ended(&job, "ok", 1.0, 0.0, 1_700_000_000.0);
        m
    }

    #[test]
    fn get_metrics_is_openmetrics() {
        let m = metrics();
        let request = "GET /metrics?name[]=x HTTP/1.1\r\nHost: localhost:9464\r\n\
                       Accept: application/openmetrics-text\r\n\r\n";
        let ok = answer(request, &m);
        let (headers, body) = split(&ok);
        assert!(headers.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(headers.contains(
            "\r\nContent-Type: application/openmetrics-text; version=1.0.0; charset=utf-8\r\n"
        ));
        assert!(headers.ends_with("\r\nConnection: close"), "{headers}");
        assert_eq!(content_length(headers), body.len());
        assert_eq!(body, m.encode());
        assert!(body.contains(
            "cronwright_job_runs_total{job=\"backup\",user=\"alice\",result=\"ok\"} 1\n"
        ));
        assert!(body.ends_with("# EOF\n"));
        // HTTP/1.0 and a bare LF are answered the same.
        assert_eq!(answer("GET /metrics HTTP/1.0\n\n", &m), ok);
    }

    #[test]
    fn head_has_the_headers_of_get_without_the_body() {
        let m = metrics();
        for path in ["/metrics", "/", "/nope"] {
            let get = answer(&format!("GET {path} HTTP/1.1\r\n\r\n"), &m);
            let head = answer(&format!("HEAD {path} HTTP/1.1\r\n\r\n"), &m);
            assert_eq!(head, format!("{}\r\n\r\n", split(&get).0), "{path}");
        }
    }

    #[test]
    fn the_root_points_to_metrics() {
        let root = answer("GET / HTTP/1.1\r\n\r\n", &metrics());
        let (headers, body) = split(&root);
        assert!(headers.starts_with("HTTP/1.1 200 OK\r\n"), "{root}");
        assert!(headers.contains("Content-Type: text/plain; charset=utf-8"));
        assert!(body.contains("/metrics"), "{body}");
        assert_eq!(content_length(headers), body.len());
    }

    #[test]
    fn other_paths_are_not_found() {
        let m = metrics();
        for path in ["/nope", "/metrics/", "/metricsx", "//metrics"] {
            let a = answer(&format!("GET {path} HTTP/1.1\r\n\r\n"), &m);
            assert!(a.starts_with("HTTP/1.1 404 Not Found\r\n"), "{path}: {a}");
        }
    }

    #[test]
    fn other_methods_are_not_allowed() {
        let m = metrics();
        for method in ["POST", "PUT", "DELETE", "OPTIONS", "get"] {
            let a = answer(&format!("{method} /metrics HTTP/1.1\r\n\r\n"), &m);
            let (headers, body) = split(&a);
            assert!(
                headers.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
                "{a}"
            );
            assert!(headers.contains("\r\nAllow: GET, HEAD\r\n"), "{a}");
            assert_eq!(content_length(headers), body.len());
            assert!(!body.is_empty());
        }
    }

    #[test]
    fn malformed_request_lines_are_bad_requests() {
        let m = metrics();
        for request in [
            &b""[..],
            b"\r\n\r\n",
            b"GET /metrics HTTP/1.1",
            b"\x00\x01\r\n\r\n",
            b"GET\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET  /metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1 extra\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET * HTTP/1.1\r\n\r\n",
            b"GET /metrics FTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/11\r\n\r\n",
            b"GET /m\xffetrics HTTP/1.1\r\n\r\n",
            b"GET /metrics\tHTTP/1.1\r\n\r\n",
            b"G(T /metrics HTTP/1.1\r\n\r\n",
        ] {
            let a = http_response(request, &m);
            assert!(
                a.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
                "{:?}",
                String::from_utf8_lossy(request)
            );
        }
    }
}
