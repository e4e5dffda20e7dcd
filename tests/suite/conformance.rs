//! The conformance vectors (tests/data/next.jsonl, copied from the independent oracles named
//! in tests/data/CONFORMANCE.md): every case through the library, and through the CLI exactly
//! as `cronwright next --from FROM --tz TZ -n N 'EXPR'` prints it.

use serde_json::Value;

use crate::util::{RefTz, cronwright, data, text, utc};
use cronwright::cron::{Zone, parse_expr};

struct Case {
    id: String,
    expr: String,
    tz: String,
    from: String,
    n: usize,
    expected: Vec<String>,
}

fn cases() -> Vec<Case> {
    let raw = std::fs::read_to_string(data("next.jsonl")).unwrap();
    raw.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            Case {
                id: v["id"].as_str().unwrap().into(),
                expr: v["expr"].as_str().unwrap().into(),
                tz: v["tz"].as_str().unwrap().into(),
                from: v["from"].as_str().unwrap().into(),
                n: v["n"].as_u64().unwrap() as usize,
                expected: v["expected"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap().to_string())
                    .collect(),
            }
        })
        .collect()
}

#[test]
fn every_conformance_vector_matches_through_the_library() {
    let cases = cases();
    assert!(cases.len() >= 200, "only {} cases read", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let tz = RefTz::get(&c.tz);
        let zone = Zone::new(tz.rule());
        let schedule = parse_expr(&c.expr).unwrap_or_else(|d| panic!("{}: {:?}", c.id, d));
        let mut got = Vec::new();
        let mut t = utc(&c.from);
        while got.len() < c.n {
            let Some(next) = schedule.next_after(t, &zone) else {
                break;
            };
            got.push(tz.show(next.timestamp()));
            t = next;
        }
        if got != c.expected {
            failures.push(format!(
                "{} '{}' {} from {}:\n  expected {:?}\n  got      {:?}",
                c.id, c.expr, c.tz, c.from, c.expected, got
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_conformance_vector_matches_through_the_cli() {
    let mut failures = Vec::new();
    for c in cases() {
        let out = cronwright()
            .args([
                "next",
                "--from",
                &c.from,
                "--tz",
                &c.tz,
                "-n",
                &c.n.to_string(),
                &c.expr,
            ])
            .output()
            .unwrap();
        let got: Vec<String> = text(&out.stdout).lines().map(str::to_string).collect();
        if !out.status.success() || got != c.expected {
            failures.push(format!(
                "{}: status {:?}, stderr {}",
                c.id,
                out.status.code(),
                text(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
