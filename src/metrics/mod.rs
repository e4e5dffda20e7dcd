//! Prometheus metrics of the jobs: runs by result, durations, lateness, last success, what
//! runs now and when each job runs next, plus the daemon's own counts; and their exposition
//! (`http.rs` answers the metrics endpoint's requests, `textfile.rs` writes node_exporter's
//! file).
//!
//! `prometheus-client` keeps the series and writes both formats: OpenMetrics for the HTTP
//! endpoint, and Prometheus text 0.0.4 for node_exporter's textfile collector, which does not
//! read OpenMetrics. Nothing here runs on a timer: the loop updates the series as runs start
//! and end, and brings the per-job series in line with the table (`set_jobs`) before a scrape
//! or a textfile write, which also removes the series of jobs that are gone, so there is one
//! set of series per loaded job.

mod http;
mod textfile;

use std::collections::HashSet;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

pub use http::http_response;

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

/// The values of `result` in `cronwright_job_runs_total`: every loaded job has all four,
/// from 0, so that `increase()` sees a job's first failure (a series born at 1 shows none).
const RESULTS: [&str; 4] = ["ok", "failed", "timeout", "skipped"];

/// The reasons the daemon gives for a skipped run, present from 0 for the same reason. A
/// reason not listed still counts; its series starts at its first skip.
const SKIP_REASONS: [&str; 5] = ["overlap", "merged", "refused", "stopping", "clock"];

fn duration_histogram() -> Histogram {
    Histogram::new([
        0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0,
    ])
}

fn lateness_histogram() -> Histogram {
    Histogram::new([0.001, 0.01, 0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 3600.0])
}

/// A time in seconds fit for a histogram: one NaN would make its sum NaN for the rest of the
/// daemon's life, and a negative time is a clock step, not a run.
fn seconds(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

fn saturating_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// The registry and its families; the daemon holds one while `[metrics]` is on.
pub struct Metrics {
    registry: Registry,
    runs: Family<Labels, Counter>,
    duration: HistogramFamily,
    lateness: HistogramFamily,
    last_success: Family<Labels, Gauge<f64, AtomicU64>>,
    running: Family<Labels, Gauge>,
    next_run: Family<Labels, Gauge>,
    jobs_loaded: Gauge,
    crontab_errors: Gauge,
    skipped: Family<Labels, Counter>,
    log_lines_dropped: Counter,
    /// The jobs that have series: those of the last `set_jobs`, plus any that ran since
    /// (a run can end after its job was unloaded).
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
        let skipped = Family::<Labels, Counter>::default();
        let log_lines_dropped = Counter::default();
        // Counters are registered without `_total`: the encoders add it (and 0.26 refuses a
        // name that already has it).
        registry.register(
            "cronwright_job_runs",
            "Runs of each job by how they ended (ok, failed, timeout) or that were skipped",
            runs.clone(),
        );
        registry.register(
            "cronwright_job_duration_seconds",
            "How long each job's runs took, from start to exit",
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
            "Crontab lines and files not loaded because of errors",
            crontab_errors.clone(),
        );
        registry.register(
            "cronwright_runs_skipped",
            "Due runs not started, by reason",
            skipped.clone(),
        );
        registry.register(
            "cronwright_log_lines_dropped",
            "Log lines lost because the log sink was full or down",
            log_lines_dropped.clone(),
        );
        for reason in SKIP_REASONS {
            drop(skipped.get_or_create(&reason_labels(reason)));
        }
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

    /// The jobs loaded now, each with its next run (Unix seconds): their series are kept (and
    /// created at 0), and those of jobs that are gone are removed from every family.
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
            self.touch(job);
            self.set_next_run(job, *next);
        }
        self.jobs_loaded
            .set(i64::try_from(jobs.len()).unwrap_or(i64::MAX));
        self.known = now;
    }

    /// Job `job` runs next at `next_secs` (Unix seconds); `None`: it has no next run, and so
    /// no series.
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

    /// A run of `job` started.
    pub fn run_started(&mut self, job: &JobLabels) {
        self.touch(job);
        self.running.get_or_create(&job.labels()).inc();
    }

    /// A run of `job` ended: `result` is `ok`, `failed` or `timeout` (anything else counts as
    /// `failed`, so that a job's series stay the four of `RESULTS`), after `duration_secs`,
    /// having started `lateness_secs` after its due time; `ended_secs` (Unix seconds) is its
    /// last success if it is one.
    pub fn run_ended(
        &mut self,
        job: &JobLabels,
        result: &str,
        duration_secs: f64,
        lateness_secs: f64,
        ended_secs: f64,
    ) {
        self.touch(job);
        let labels = job.labels();
        let result = match result {
            "ok" | "failed" | "timeout" => result,
            _ => "failed",
        };
        self.runs.get_or_create(&job.with_result(result)).inc();
        self.duration
            .get_or_create(&labels)
            .observe(seconds(duration_secs));
        self.lateness
            .get_or_create(&labels)
            .observe(seconds(lateness_secs));
        {
            // A run started before a reload removed the job's series ends at 0, not -1.
            let running = self.running.get_or_create(&labels);
            if running.get() > 0 {
                running.dec();
            }
        }
        if result == "ok" && ended_secs.is_finite() {
            self.last_success.get_or_create(&labels).set(ended_secs);
        }
    }

    /// A due run of `job` not started, for `reason`.
    pub fn skipped(&mut self, job: &JobLabels, reason: &str) {
        self.touch(job);
        self.runs.get_or_create(&job.with_result("skipped")).inc();
        self.skipped.get_or_create(&reason_labels(reason)).inc();
    }

    pub fn set_crontab_errors(&mut self, n: u64) {
        self.crontab_errors.set(saturating_i64(n));
    }

    /// The log's running total of lines lost: the counter follows it (and never goes back).
    pub fn set_log_lines_dropped(&mut self, total: u64) {
        let now = self.log_lines_dropped.get();
        if total > now {
            self.log_lines_dropped.inc_by(total - now);
        }
    }

    /// OpenMetrics text, for the HTTP endpoint; it ends with `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail, and the registry holds only our own families.
        let _ = text::encode(&mut out, &self.registry);
        out
    }

    /// Every job that has series has the zeros of its counters and of `running`.
    fn touch(&mut self, job: &JobLabels) {
        if !self.known.contains(job) {
            self.known.insert(job.clone());
        }
        // The guards are dropped at once: holding one while the family is written deadlocks.
        for result in RESULTS {
            drop(self.runs.get_or_create(&job.with_result(result)));
        }
        drop(self.running.get_or_create(&job.labels()));
    }
}

fn reason_labels(reason: &str) -> Labels {
    vec![("reason".to_string(), reason.to_string())]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn job(name: &str) -> JobLabels {
        JobLabels {
            job: name.into(),
            user: "alice".into(),
        }
    }

    /// A job name with each character label values escape.
    pub(super) fn odd_job() -> JobLabels {
        JobLabels {
            job: "say \"hi\"\\now\nthen".into(),
            user: "alice".into(),
        }
    }

    pub(super) fn has_line(text: &str, line: &str) {
        assert!(text.lines().any(|l| l == line), "{line:?} not in\n{text}");
    }

    pub(super) fn backup_history() -> Metrics {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("backup"), Some(1_800_000_000))]);
        m.run_started(&job("backup"));
        m.run_ended(&job("backup"), "ok", 2.0, 0.01, 1_700_000_000.0);
        m.run_started(&job("backup"));
        m.run_ended(&job("backup"), "ok", 3.0, 0.02, 1_700_000_060.5);
        m.run_started(&job("backup"));
        m.run_ended(&job("backup"), "failed", 400.0, 2.0, 1_700_000_900.0);
        m.skipped(&job("backup"), "overlap");
        m.skipped(&job("backup"), "overlap");
        m.skipped(&job("backup"), "refused");
        m.run_started(&job("backup"));
        m
    }

    #[test]
    fn runs_are_counted_by_result() {
        let text = backup_history().encode();
        for line in [
            "# HELP cronwright_job_runs Runs of each job by how they ended (ok, failed, timeout) or that were skipped.",
            "# TYPE cronwright_job_runs counter",
            r#"cronwright_job_runs_total{job="backup",user="alice",result="ok"} 2"#,
            r#"cronwright_job_runs_total{job="backup",user="alice",result="failed"} 1"#,
            r#"cronwright_job_runs_total{job="backup",user="alice",result="timeout"} 0"#,
            r#"cronwright_job_runs_total{job="backup",user="alice",result="skipped"} 3"#,
            r#"cronwright_job_last_success_timestamp_seconds{job="backup",user="alice"} 1700000060.5"#,
            r#"cronwright_job_running{job="backup",user="alice"} 1"#,
            r#"cronwright_job_next_run_timestamp_seconds{job="backup",user="alice"} 1800000000"#,
            r#"cronwright_runs_skipped_total{reason="overlap"} 2"#,
            r#"cronwright_runs_skipped_total{reason="refused"} 1"#,
            r#"cronwright_runs_skipped_total{reason="clock"} 0"#,
            "cronwright_jobs_loaded 1",
            "cronwright_crontab_errors 0",
            "cronwright_log_lines_dropped_total 0",
        ] {
            has_line(&text, line);
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn histograms_count_sum_and_bucket() {
        let text = backup_history().encode();
        let l = r#"job="backup",user="alice""#;
        for line in [
            "# TYPE cronwright_job_duration_seconds histogram".to_string(),
            format!("cronwright_job_duration_seconds_count{{{l}}} 3"),
            format!("cronwright_job_duration_seconds_sum{{{l}}} 405.0"),
            format!(r#"cronwright_job_duration_seconds_bucket{{le="1.0",{l}}} 0"#),
            format!(r#"cronwright_job_duration_seconds_bucket{{le="5.0",{l}}} 2"#),
            format!(r#"cronwright_job_duration_seconds_bucket{{le="300.0",{l}}} 2"#),
            format!(r#"cronwright_job_duration_seconds_bucket{{le="900.0",{l}}} 3"#),
            format!(r#"cronwright_job_duration_seconds_bucket{{le="86400.0",{l}}} 3"#),
            format!(r#"cronwright_job_duration_seconds_bucket{{le="+Inf",{l}}} 3"#),
            format!("cronwright_job_lateness_seconds_count{{{l}}} 3"),
            format!(r#"cronwright_job_lateness_seconds_bucket{{le="0.01",{l}}} 1"#),
            format!(r#"cronwright_job_lateness_seconds_bucket{{le="0.1",{l}}} 2"#),
            format!(r#"cronwright_job_lateness_seconds_bucket{{le="5.0",{l}}} 3"#),
        ] {
            has_line(&text, &line);
        }
        let buckets = |name: &str| {
            text.lines()
                .filter(|x| x.starts_with(&format!("{name}_bucket{{")))
                .count()
        };
        assert_eq!(buckets("cronwright_job_duration_seconds"), 12);
        assert_eq!(buckets("cronwright_job_lateness_seconds"), 11);
    }

    #[test]
    fn a_job_loaded_has_its_zeros_before_it_runs() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("fresh"), None)]);
        let text = m.encode();
        for result in RESULTS {
            has_line(
                &text,
                &format!(
                    r#"cronwright_job_runs_total{{job="fresh",user="alice",result="{result}"}} 0"#
                ),
            );
        }
        has_line(
            &text,
            r#"cronwright_job_running{job="fresh",user="alice"} 0"#,
        );
        // No next run, no run yet: no next-run series, no histograms, no last success.
        assert!(!text.contains("cronwright_job_next_run_timestamp_seconds{"));
        assert!(!text.contains("cronwright_job_duration_seconds_count{"));
        assert!(!text.contains("cronwright_job_last_success_timestamp_seconds{"));
    }

    #[test]
    fn a_job_that_is_gone_loses_its_series() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("old"), Some(1)), (job("new"), Some(2))]);
        m.run_started(&job("old"));
        m.run_ended(&job("old"), "ok", 1.0, 0.0, 5.0);
        m.run_started(&job("old"));
        m.run_ended(&job("old"), "timeout", 1.0, 0.0, 6.0);
        m.skipped(&job("old"), "overlap");
        m.run_started(&job("old"));
        assert!(m.encode().contains(r#"job="old""#));
        m.set_jobs(&[(job("new"), Some(2))]);
        let text = m.encode();
        assert!(!text.contains(r#"job="old""#), "{text}");
        has_line(
            &text,
            r#"cronwright_job_next_run_timestamp_seconds{job="new",user="alice"} 2"#,
        );
        has_line(&text, "cronwright_jobs_loaded 1");
        // The skips by reason are the daemon's, not the job's: they stay.
        has_line(
            &text,
            r#"cronwright_runs_skipped_total{reason="overlap"} 1"#,
        );

        // The run still going ends after the reload: its series last until the next one.
        m.run_ended(&job("old"), "ok", 1.0, 0.0, 7.0);
        let text = m.encode();
        has_line(&text, r#"cronwright_job_running{job="old",user="alice"} 0"#);
        has_line(
            &text,
            r#"cronwright_job_runs_total{job="old",user="alice",result="ok"} 1"#,
        );
        m.set_jobs(&[(job("new"), Some(3))]);
        assert!(!m.encode().contains(r#"job="old""#));
    }

    #[test]
    fn the_same_name_for_another_user_is_another_job() {
        let mut m = Metrics::new();
        let bob = JobLabels {
            job: "backup".into(),
            user: "bob".into(),
        };
        m.set_jobs(&[(job("backup"), Some(1)), (bob.clone(), Some(2))]);
        m.set_jobs(&[(bob, Some(2))]);
        let text = m.encode();
        assert!(!text.contains(r#"user="alice""#), "{text}");
        has_line(
            &text,
            r#"cronwright_job_next_run_timestamp_seconds{job="backup",user="bob"} 2"#,
        );
    }

    #[test]
    fn a_job_without_a_next_run_loses_that_series() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("once"), Some(100))]);
        m.set_next_run(&job("once"), Some(200));
        has_line(
            &m.encode(),
            r#"cronwright_job_next_run_timestamp_seconds{job="once",user="alice"} 200"#,
        );
        m.set_next_run(&job("once"), None);
        assert!(
            !m.encode()
                .contains("cronwright_job_next_run_timestamp_seconds{")
        );
    }

    #[test]
    fn odd_inputs_keep_the_series_sound() {
        let mut m = Metrics::new();
        m.set_jobs(&[(job("x"), Some(1))]);
        // An unknown result is a failure; NaN and negative times count as 0.
        m.run_ended(&job("x"), "exploded", f64::NAN, -3.0, f64::NAN);
        m.run_ended(&job("x"), "ok", f64::INFINITY, 1.0, f64::INFINITY);
        let text = m.encode();
        has_line(
            &text,
            r#"cronwright_job_runs_total{job="x",user="alice",result="failed"} 1"#,
        );
        assert!(!text.contains("exploded"), "{text}");
        has_line(
            &text,
            r#"cronwright_job_duration_seconds_sum{job="x",user="alice"} 0.0"#,
        );
        has_line(
            &text,
            r#"cronwright_job_lateness_seconds_sum{job="x",user="alice"} 1.0"#,
        );
        // Running never goes below 0, even for ends without starts.
        has_line(&text, r#"cronwright_job_running{job="x",user="alice"} 0"#);
        assert!(!text.contains("cronwright_job_last_success_timestamp_seconds{"));
        m.set_crontab_errors(u64::MAX);
        has_line(&m.encode(), "cronwright_crontab_errors 9223372036854775807");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut m = Metrics::new();
        m.set_jobs(&[(odd_job(), Some(1))]);
        has_line(
            &m.encode(),
            r#"cronwright_job_running{job="say \"hi\"\\now\nthen",user="alice"} 0"#,
        );
    }

    #[test]
    fn the_log_counter_follows_the_running_total() {
        let mut m = Metrics::new();
        m.set_log_lines_dropped(5);
        m.set_log_lines_dropped(7);
        m.set_log_lines_dropped(3);
        let text = m.encode();
        has_line(&text, "# TYPE cronwright_log_lines_dropped counter");
        has_line(&text, "cronwright_log_lines_dropped_total 7");
    }
}
