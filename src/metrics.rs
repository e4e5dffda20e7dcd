//! Prometheus metrics of the jobs: runs by result, durations, lateness, last success, what
//! runs now and when each job runs next, plus the daemon's own counts.
//!
//! `prometheus-client` keeps the series and writes the exposition formats: OpenMetrics for
//! the HTTP endpoint, and Prometheus text 0.0.4 for node_exporter's textfile collector,
//! which does not read OpenMetrics. Nothing here runs on a timer: the loop updates the
//! series as runs start and end, and brings the per-job series in line with the table
//! (`set_jobs`) just before a scrape or a textfile write, which also removes the series of
//! jobs that are gone, so there is one set of series per loaded job.

use std::collections::HashSet;
use std::path::Path;

use prometheus_client::encoding::{prometheus_text, text};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A job as its series are labelled: its `CRON_NAME` or id, and its user.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobLabels {
    pub job: String,
    pub user: String,
}

type Labels = Vec<(String, String)>;

impl JobLabels {
    fn labels(&self) -> Labels {
        vec![
            ("job".into(), self.job.clone()),
            ("user".into(), self.user.clone()),
        ]
    }

    fn with_result(&self, result: &str) -> Labels {
        let mut l = self.labels();
        l.push(("result".into(), result.into()));
        l
    }
}

/// The values of `result` in `cronwright_job_runs_total`.
const RESULTS: [&str; 4] = ["ok", "failed", "timeout", "skipped"];

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
    ])
}

fn lateness_histogram() -> Histogram {
    Histogram::new([0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0])
}

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

pub struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    duration: HistogramFamily,
    lateness: HistogramFamily,
    last_success: Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    running: Family<Labels, Gauge>,
    next_run: Family<Labels, Gauge>,
    jobs_loaded: Gauge,
    crontab_errors: Gauge,
    skipped: Family<Labels, Counter>,
    log_lines_dropped: Counter,
    /// The jobs the series are kept for (the last `set_jobs`, plus any that ran since).
    known: HashSet<JobLabels>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::default();
        let runs = Family::<Labels, Counter>::default();
        let duration: HistogramFamily = Family::new_with_constructor(duration_histogram);
        let lateness: HistogramFamily = Family::new_with_constructor(lateness_histogram);
        let last_success = Family::default();
        let running = Family::default();
        let next_run = Family::default();
        let jobs_loaded = Gauge::default();
        let crontab_errors = Gauge::default();
        let skipped = Family::default();
        let log_lines_dropped = Counter::default();
        registry.register(
            "cronwright_job_runs",
            "Runs of each job by how they ended (ok, failed, timeout) or that were skipped",
            runs.clone(),
        );
        registry.register(
            "cronwright_job_duration_seconds",
            "How long each job's runs took",
            duration.clone(),
        );
        registry.register(
            "cronwright_job_lateness_seconds",
            "How long after its due time each run started",
            lateness.clone(),
        );
        registry.register(
            "cronwright_job_last_success_timestamp_seconds",
            "When each job's last successful run ended, in Unix seconds",
            last_success.clone(),
        );
        registry.register(
            "cronwright_job_running",
            "Runs of each job in progress",
            running.clone(),
        );
        registry.register(
            "cronwright_job_next_run_timestamp_seconds",
            "When each job runs next, in Unix seconds",
            next_run.clone(),
        );
        registry.register(
            "cronwright_jobs_loaded",
            "Jobs scheduled from the crontabs loaded",
            jobs_loaded.clone(),
        );
        registry.register(
            "cronwright_crontab_errors",
            "Crontab lines and files not loaded",
            crontab_errors.clone(),
        );
        registry.register(
            "cronwright_runs_skipped",
            "Due runs not started, by reason",
            skipped.clone(),
        );
        registry.register(
            "cronwright_log_lines_dropped",
            "Log lines syslog never got",
            log_lines_dropped.clone(),
        );
        Metrics {
            registry,
            runs,
            duration,
            lateness,
            last_success,
            running,
            next_run,
            jobs_loaded,
            crontab_errors,
            skipped,
            log_lines_dropped,
            known: HashSet::new(),
        }
    }

    /// The jobs loaded now, each with its next run: their series are kept, and those of
    /// jobs that are gone are removed from every family.
    pub fn set_jobs(&mut self, jobs: &[(JobLabels, Option<i64>)]) {
        let now: HashSet<JobLabels> = jobs.iter().map(|(j, _)| j.clone()).collect();
        for gone in self.known.difference(&now) {
            let labels = gone.labels();
            for result in RESULTS {
                self.runs.remove(&gone.with_result(result));
            }
            self.duration.remove(&labels);
            self.lateness.remove(&labels);
            self.last_success.remove(&labels);
            self.running.remove(&labels);
            self.next_run.remove(&labels);
        }
        for (job, next) in jobs {
            self.set_next_run(job, *next);
        }
        self.jobs_loaded.set(jobs.len() as i64);
        self.known = now;
    }

    pub fn set_next_run(&mut self, job: &JobLabels, next_secs: Option<i64>) {
        match next_secs {
            Some(t) => {
                self.next_run.get_or_create(&job.labels()).set(t);
            }
            None => {
                self.next_run.remove(&job.labels());
            }
        }
    }

    pub fn run_started(&mut self, job: &JobLabels) {
        self.known.insert(job.clone());
        self.running.get_or_create(&job.labels()).inc();
    }

    /// `result`: `ok`, `failed` or `timeout`.
    pub fn run_ended(
        &mut self,
        job: &JobLabels,
        result: &str,
        duration_secs: f64,
        lateness_secs: f64,
        ended_secs: f64,
    ) {
        self.known.insert(job.clone());
        let labels = job.labels();
        self.runs.get_or_create(&job.with_result(result)).inc();
        self.duration.get_or_create(&labels).observe(duration_secs);
        self.lateness.get_or_create(&labels).observe(lateness_secs);
        let running = self.running.get_or_create(&labels);
        if running.get() > 0 {
            running.dec();
        }
        drop(running);
        if result == "ok" {
            self.last_success.get_or_create(&labels).set(ended_secs);
        }
    }

    /// A due run not started, for `reason`.
    pub fn skipped(&mut self, job: &JobLabels, reason: &str) {
        self.known.insert(job.clone());
        self.runs.get_or_create(&job.with_result("skipped")).inc();
        self.skipped
            .get_or_create(&vec![("reason".to_string(), reason.to_string())])
            .inc();
    }

    pub fn set_crontab_errors(&mut self, n: u64) {
        self.crontab_errors.set(n as i64);
    }

    /// The log's running total of lines lost: the counter follows it.
    pub fn set_log_lines_dropped(&mut self, total: u64) {
        let now = self.log_lines_dropped.get();
        if total > now {
            self.log_lines_dropped.inc_by(total - now);
        }
    }

    /// OpenMetrics text, for the HTTP endpoint.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail; an encoder error would leave a partial page,
        // which the scraper rejects as a whole.
        let _ = text::encode(&mut out, &self.registry);
        out
    }

    /// Prometheus text 0.0.4, which node_exporter's textfile collector reads, replacing
    /// `path` whole, so the collector never reads half a file.
    pub fn write_textfile(&self, path: &Path) -> std::io::Result<()> {
        let mut body = String::new();
        prometheus_text::encode(&mut body, &self.registry).map_err(std::io::Error::other)?;
        // 0644: node_exporter reads it as a user of its own.
        crate::inflight::replace_whole(path, body.as_bytes(), 0o644)
    }
}

/// The answer to one HTTP request head from a metrics client. GET (or HEAD) `/metrics`
/// gets the metrics; `/` a pointer to them; anything else 404 or 405.
pub fn http_response(head: &[u8], metrics: &Metrics) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let first = text.lines().next().unwrap_or("");
    let mut words = first.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (words.next(), words.next(), words.next())
    else {
        return response("400 Bad Request", "text/plain", b"bad request\n", false);
    };
    if !version.starts_with("HTTP/") {
        return response("400 Bad Request", "text/plain", b"bad request\n", false);
    }
    let head_only = method == "HEAD";
    if method != "GET" && !head_only {
        return response(
            "405 Method Not Allowed",
            "text/plain",
            b"only GET and HEAD\n",
            false,
        );
    }
    let path = target.split('?').next().unwrap_or("");
    match path {
        "/metrics" => response(
            "200 OK",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.encode().as_bytes(),
            head_only,
        ),
        "/" => response(
            "200 OK",
            "text/plain; charset=utf-8",
            b"cronwrightd: the metrics are at /metrics\n",
            head_only,
        ),
        _ => response("404 Not Found", "text/plain", b"not found\n", head_only),
    }
}

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

    fn job(name: &str) -> JobLabels {
        JobLabels {
            job: name.into(),
            user: "alice".into(),
        }
    }

    #[test]
    fn runs_are_counted_by_result() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("backup"), Some(1_800_000_000))]);
        m.run_started(&job("backup"));
        m.run_ended(&job("backup"), "ok", 2.0, 0.01, 1_700_000_000.0);
        m.run_started(&job("backup"));
        m.run_ended(&job("backup"), "failed", 3.0, 0.02, 1_700_000_060.0);
        m.skipped(&job("backup"), "overlap");
        let text = m.encode();
        for line in [
            "cronwright_job_runs_total{job=\"backup\",user=\"alice\",result=\"ok\"} 1",
            "cronwright_job_runs_total{job=\"backup\",user=\"alice\",result=\"failed\"} 1",
            "cronwright_job_runs_total{job=\"backup\",user=\"alice\",result=\"skipped\"} 1",
            "cronwright_job_duration_seconds_count{job=\"backup\",user=\"alice\"} 2",
            "cronwright_job_duration_seconds_sum{job=\"backup\",user=\"alice\"} 5.0",
            "cronwright_job_last_success_timestamp_seconds{job=\"backup\",user=\"alice\"} 1700000000.0",
            "cronwright_job_running{job=\"backup\",user=\"alice\"} 0",
            "cronwright_job_next_run_timestamp_seconds{job=\"backup\",user=\"alice\"} 1800000000",
            "cronwright_runs_skipped_total{reason=\"overlap\"} 1",
            "cronwright_jobs_loaded 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} not in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn a_job_that_is_gone_loses_its_series() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("old"), Some(1)), (job("new"), Some(2))]);
        m.run_started(&job("old"));
        m.run_ended(&job("old"), "timeout", 1.0, 0.0, 5.0);
        assert!(m.encode().contains("job=\"old\""));
        m.set_jobs(&[(job("new"), Some(2))]);
        let text = m.encode();
        assert!(!text.contains("job=\"old\""), "{text}");
        assert!(text.contains("job=\"new\""), "{text}");
        assert!(text.contains("cronwright_jobs_loaded 1"));
    }

    #[test]
    fn label_values_are_escaped() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("a\"b\\c"), Some(1))]);
        let text = m.encode();
        assert!(text.contains("job=\"a\\\"b\\\\c\""), "{text}");
    }

    #[test]
    fn the_log_counter_follows_the_running_total() {
        let mut m = Metrics::new();
        m.set_log_lines_dropped(5);
        m.set_log_lines_dropped(7);
        assert!(m.encode().contains("cronwright_log_lines_dropped_total 7"));
    }

    #[test]
    fn the_textfile_is_prometheus_text_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronwright.prom");
        let mut m = Metrics::new();
        m.set_jobs(&[(job("backup"), Some(10))]);
        m.run_started(&job("backup"));
        m.run_ended(&job("backup"), "ok", 1.0, 0.0, 9.0);
        m.write_textfile(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("# EOF"), "{text}");
        assert!(
            text.contains("# TYPE cronwright_job_runs_total counter"),
            "{text}"
        );
        // Every line is a comment or `name{labels} value`, as Prometheus 0.0.4 wants.
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
        {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
            assert!(line.starts_with("cronwright_"), "{line}");
        }
        let files = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(files, 1, "no temporary file is left");
    }

    #[test]
    fn http_serves_metrics_and_refuses_the_rest() {
        let m = Metrics::new();
        let ok = String::from_utf8(http_response(b"GET /metrics HTTP/1.1\r\n\r\n", &m)).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(ok.contains("application/openmetrics-text"));
        assert!(ok.ends_with("# EOF\n"));
        let head = String::from_utf8(http_response(b"HEAD /metrics HTTP/1.1\r\n\r\n", &m)).unwrap();
        assert!(head.ends_with("\r\n\r\n"), "{head}");
        let missing = http_response(b"GET /nope HTTP/1.1\r\n\r\n", &m);
        assert!(missing.starts_with(b"HTTP/1.1 404"));
        let post = http_response(b"POST /metrics HTTP/1.1\r\n\r\n", &m);
        assert!(post.starts_with(b"HTTP/1.1 405"));
        let junk = http_response(b"\x00\x01\r\n\r\n", &m);
        assert!(junk.starts_with(b"HTTP/1.1 400"));
    }
}
