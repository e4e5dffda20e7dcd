//! node_exporter's textfile: the metrics in the Prometheus text format 0.0.4, which its
//! collector parses (it does not read OpenMetrics), replacing the file whole.

use std::path::Path;

use prometheus_client::encoding::prometheus_text;

use super::Metrics;

impl Metrics {
    /// Prometheus text 0.0.4 (what node_exporter's textfile collector parses), written beside
    /// `path` (as `<name>.new`, which the collector skips: it reads only `*.prom`), fsynced
    /// and renamed over it, so the collector never reads half a file.
    pub fn write_textfile(&self, path: &Path) -> std::io::Result<()> {
        crate::inflight::replace_whole(path, self.encode_textfile().as_bytes(), 0o644)
    }

    /// The textfile's text: the crate's 0.0.4 encoder, not OpenMetrics with lines cut out,
    /// so there is no `# EOF`, no `# UNIT`, no `_created` and each counter's `# TYPE` names
    /// its `_total` series, as the 0.0.4 parser wants.
    fn encode_textfile(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::super::tests::{backup_history, has_line, job, odd_job};
    use super::super::{Labels, Metrics};

    #[test]
    fn label_values_are_escaped_in_the_textfile_too() {
        let mut m = Metrics::new();
        let odd = odd_job();
        m.set_jobs(&[(odd.clone(), Some(1))]);
        m.run_started(&odd);
        m.run_ended(&odd, "ok", 1.0, 0.0, 2.0);
        let escaped = r#"job="say \"hi\"\\now\nthen""#;
        let file = m.encode_textfile();
        has_line(
            &file,
            &format!(r#"cronwright_job_running{{{escaped},user="alice"}} 0"#),
        );
        check_prometheus_004(&file);
    }

    #[test]
    fn the_textfile_is_prometheus_text_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cronwright.prom");
        std::fs::write(&path, "stale\n").unwrap();
        let mut m = backup_history();
        m.set_jobs(&[(job("backup"), Some(10)), (job("never ran"), None)]);
        m.write_textfile(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, m.encode_textfile());
        assert!(!text.contains("# EOF"), "{text}");
        assert!(!text.contains("_created"), "{text}");
        has_line(&text, "# TYPE cronwright_job_runs_total counter");
        has_line(
            &text,
            r#"cronwright_job_runs_total{job="backup",user="alice",result="ok"} 2"#,
        );
        has_line(
            &text,
            r#"cronwright_job_duration_seconds_bucket{job="backup",user="alice",le="+Inf"} 3"#,
        );
        check_prometheus_004(&text);
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["cronwright.prom"], "no temporary file is left");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o644);
    }

    #[test]
    fn an_empty_registry_is_valid_too() {
        let m = Metrics::new();
        check_prometheus_004(&m.encode_textfile());
        let text = m.encode();
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn the_checker_rejects_what_node_exporter_would() {
        for bad in [
            "# TYPE a_total counter\na_total 1\n# EOF\n",
            "# TYPE a counter\na_total 1\n",
            "# TYPE a gauge\na{x=\"1} 1\n",
            "# TYPE a gauge\na 1\n# TYPE a gauge\n",
            "# TYPE a gauge\na 1\na 1\n",
            "# TYPE a gauge\na{x=\"\\t\"} 1\n",
            "# TYPE a gauge\na one\n",
        ] {
            assert!(parse_prometheus_004(bad).is_err(), "{bad:?}");
        }
    }

    /// The rules of the Prometheus text format 0.0.4 as node_exporter's textfile collector
    /// applies them (through `expfmt.TextParser`), strict where the parser is.
    fn check_prometheus_004(text: &str) {
        if let Err(e) = parse_prometheus_004(text) {
            panic!("{e}\n{text}");
        }
    }

    fn parse_prometheus_004(text: &str) -> Result<(), String> {
        fn is_name(s: &str) -> bool {
            let mut chars = s.chars();
            chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        }
        fn is_value(s: &str) -> bool {
            matches!(s, "+Inf" | "-Inf" | "NaN") || s.parse::<f64>().is_ok_and(f64::is_finite)
        }
        /// `{name="value",…}` at the start of `s`: the labels and the rest.
        fn labels(s: &str) -> Result<(Labels, &str), String> {
            let mut out = Vec::new();
            let mut rest = s;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    return Ok((out, r));
                }
                let (name, r) = rest.split_once("=\"").ok_or("label without =\"")?;
                if !is_name(name) || name.starts_with("__") {
                    return Err(format!("bad label name {name:?}"));
                }
                let mut value = String::new();
                let mut chars = r.char_indices();
                let end = loop {
                    match chars.next() {
                        None => return Err("unterminated label value".into()),
                        Some((i, '"')) => break i,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            other => return Err(format!("bad escape {other:?}")),
                        },
                        Some((_, '\n')) => return Err("newline in label value".into()),
                        Some((_, c)) => value.push(c),
                    }
                };
                out.push((name.to_string(), value));
                rest = &r[end + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }

        if !text.is_empty() && !text.ends_with('\n') {
            return Err("no final newline".into());
        }
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helps: HashSet<String> = HashSet::new();
        let mut current: Option<(String, String)> = None;
        let mut series: HashSet<String> = HashSet::new();
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# ") {
                let mut words = comment.splitn(3, ' ');
                match (words.next(), words.next(), words.next()) {
                    (Some("TYPE"), Some(name), Some(kind)) => {
                        if !is_name(name) {
                            return Err(format!("bad name in {line:?}"));
                        }
                        if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind)
                        {
                            return Err(format!("bad type in {line:?}"));
                        }
                        if types.insert(name.into(), kind.into()).is_some() {
                            return Err(format!("second TYPE line: {line:?}"));
                        }
                        current = Some((name.into(), kind.into()));
                    }
                    (Some("HELP"), Some(name), _)
                        if !is_name(name) || !helps.insert(name.into()) =>
                    {
                        return Err(format!("bad or second HELP: {line:?}"));
                    }
                    // 0.0.4 has no `# EOF`; the collector's parser would skip it, but a
                    // file that has one was not written for it.
                    (Some("EOF"), ..) => return Err("# EOF in 0.0.4 text".into()),
                    _ => {}
                }
                continue;
            }
            if line.is_empty() || line.starts_with('#') {
                return Err(format!("bad line {line:?}"));
            }
            let name_end = line.find(['{', ' ']).ok_or(format!("no value: {line:?}"))?;
            let name = &line[..name_end];
            if !is_name(name) {
                return Err(format!("bad metric name in {line:?}"));
            }
            let (labels, rest) = match line[name_end..].strip_prefix('{') {
                Some(r) => labels(r)?,
                None => (Vec::new(), &line[name_end..]),
            };
            let rest = rest
                .strip_prefix(' ')
                .ok_or(format!("no space: {line:?}"))?;
            let mut fields = rest.split(' ');
            if !fields.next().is_some_and(is_value) {
                return Err(format!("bad value in {line:?}"));
            }
            if fields.next().is_some_and(|t| t.parse::<i64>().is_err()) || fields.next().is_some() {
                return Err(format!("bad timestamp in {line:?}"));
            }
            let (family, kind) = current.as_ref().ok_or(format!("no TYPE for {line:?}"))?;
            let fits = match kind.as_str() {
                "histogram" => [
                    format!("{family}_bucket"),
                    format!("{family}_sum"),
                    format!("{family}_count"),
                ]
                .contains(&name.to_string()),
                _ => name == family,
            };
            if !fits {
                return Err(format!("{line:?} is not of the family {family} ({kind})"));
            }
            if name.ends_with("_bucket") && !labels.iter().any(|(n, _)| n == "le") {
                return Err(format!("bucket without le: {line:?}"));
            }
            let mut key = labels;
            key.sort();
            if !series.insert(format!("{name}{key:?}")) {
                return Err(format!("series twice: {line:?}"));
            }
        }
        Ok(())
    }
}
