//! Benchmarks for the cron language: parsing a whole crontab, and computing the next fire time.
//!
//! Two things are measured, because they are the two costs the daemon pays:
//!
//! - `parse_crontab`: a generated 10,000-line user crontab (comments, blank lines, a few
//!   environment lines and entries of many forms), reported in lines per second. The daemon
//!   re-parses a crontab on every change, so this bounds how "instant" a reload can be.
//!   Target: at least 1,000,000 lines/s.
//! - `next_after`: one next-fire-time computation per expression, for cronwright and, in the
//!   same criterion group with the same expressions, `from` instants and zones, the `cron` and
//!   `croner` crates. Each expression has its own benchmark, and `mix` runs all of them in one
//!   iteration; the `mix` figure is the one the target is about (cronwright at least 3x faster
//!   than the faster of the two crates). Parsing happens before the timed loop: only the
//!   next-time computation is timed. cronwright's `Zone` (the zone's offset changes read into
//!   a table, about 2 ms, once per zone) is also prepared outside the loop.
//! - `zone`: preparing a `Zone` once, the price of cronwright's fast searches.
//!
//! The libraries do not all agree on what "next" means (cron's OR rule for day fields, DST
//! gaps and overlaps); those cases are still timed, and any disagreement with cronwright is
//! printed as a `note:` line before the benchmarks start.
//!
//! Run with `cargo bench --bench cron` (add a filter such as `-- mix` to run a subset).

use std::hint::black_box;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use cronwright::cron::{Format, Schedule, Zone, parse_crontab, parse_expr, zone_named};

/// The size the issue asks about; `Throughput::Elements` turns criterion's time into lines/s.
const CRONTAB_LINES: usize = 10_000;

/// A tiny deterministic generator (64-bit LCG, Knuth's constants): the crontab must be the
/// same on every run and every machine so that numbers are comparable, and a crate such as
/// `rand` is not worth a dev-dependency for this.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// Builds a crontab of exactly `lines` lines that loads without errors.
///
/// Real large crontabs are concatenations of sections, one per team or service, each with a
/// comment header and sometimes its own `MAILTO`; the line mix below follows that shape so that
/// the parser's per-line dispatch sees comments, blank lines, environment lines, 5- and 6-field
/// entries, macros, names, ranges, lists, steps and `%` standard input in realistic proportions,
/// instead of one line shape that branch prediction would learn.
fn generate_crontab(lines: usize) -> String {
    let mut rng = Lcg(0x00c0_ffee);
    let mut out = Vec::with_capacity(lines);
    out.push("# Generated crontab for the cronwright parse benchmark.".to_string());
    out.push("SHELL=/bin/bash".to_string());
    out.push("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string());
    out.push("MAILTO=ops@example.com".to_string());
    out.push(String::new());
    let mut i = 0u64;
    while out.len() < lines {
        i += 1;
        let m = rng.below(60);
        let h = rng.below(24);
        let k = rng.below(1000);
        // Sections of about 1,000 lines; the environment lines are rare, as in real files.
        if i % 1000 == 0 {
            out.push(String::new());
            out.push(format!(
                "# ---- section {}: jobs of team {k} ----",
                i / 1000
            ));
            out.push(format!("MAILTO=team{k}@example.com"));
            // Half the file runs on Berlin time, as a file shared by two sites would.
            out.push(if (i / 1000) % 2 == 1 {
                "CRON_TZ=Europe/Berlin".to_string()
            } else {
                "CRON_TZ=".to_string()
            });
            continue;
        }
        let line = match rng.below(20) {
            0 | 1 => format!("# job {i}: owned by team {k}, see the runbook before editing"),
            2 => String::new(),
            3 | 4 => format!(
                "*/{} * * * * /usr/bin/php /var/www/app{k}/artisan schedule:run >> /dev/null 2>&1",
                [5, 10, 15, 20, 30][rng.below(5) as usize]
            ),
            5 | 6 => format!("{m} {h} * * 1-5 /usr/local/bin/backup --all > /dev/null 2>&1"),
            7 => format!("15,45 8-18 * jan-jun mon-fri /opt/report/bin/send-report --team {k}"),
            8 => format!("@daily /usr/sbin/logrotate /etc/logrotate.d/app{k}"),
            9 => format!("@hourly /usr/local/bin/sync-cache --shard {k}"),
            10 => format!("30 {m} {h} * * * /usr/local/bin/heartbeat --id {k}"),
            11 => format!(
                "{m} {h} * * * /usr/bin/mail -s \"daily report {k}\" ops@example.com%Report for today%Generated by cron%"
            ),
            12 => format!("{m} {h} * * * date +\\%Y-\\%m-\\%d >> /var/log/stamp{k}.log 2>&1"),
            13 => format!(
                "{m} */{} * * * /usr/bin/find /tmp/app{k} -mtime +7 -delete",
                2 + rng.below(5)
            ),
            14 => format!("{m} {h} 1 * * /usr/local/bin/invoice --month-start --customer {k}"),
            15 => format!("-{m} {h} * * sun /usr/bin/certbot renew --quiet"),
            16 => format!("0 {h} * 1,4,7,10 * /usr/local/bin/quarterly-report {k}"),
            17 => format!(
                "{m} {h}-{} * * * nice -n 10 /usr/local/bin/reindex",
                (h + 2).min(23)
            ),
            18 => format!("  {m}  {h}\t*  *  *   /usr/bin/env python3 /srv/jobs/job{k}.py --quiet"),
            _ => "@weekly /usr/local/bin/cleanup --older-than 30d".to_string(),
        };
        out.push(line);
    }
    out.truncate(lines);
    // A final newline: without it cronwright warns about the last line, which real files
    // written by `crontab -e` never trigger.
    let mut text = out.join("\n");
    text.push('\n');
    text
}

fn bench_parse(c: &mut Criterion) {
    let text = generate_crontab(CRONTAB_LINES);
    assert_eq!(text.lines().count(), CRONTAB_LINES);
    // Check the input once, outside timing: a benchmark of a file full of errors would measure
    // the diagnostic path instead of the normal one.
    let parsed = parse_crontab(&text, Format::User);
    assert!(
        !parsed.has_errors(),
        "generated crontab has errors: {:?}",
        parsed.diagnostics.iter().find(|d| d.is_error())
    );
    println!(
        "parse_crontab input: {CRONTAB_LINES} lines, {} bytes, {} entries, {} warnings",
        text.len(),
        parsed.crontab.entries.len(),
        parsed.diagnostics.len()
    );

    let mut group = c.benchmark_group("parse_crontab");
    group.throughput(Throughput::Elements(CRONTAB_LINES as u64));
    group.bench_function("10k_lines", |b| {
        b.iter(|| parse_crontab(black_box(&text), Format::User))
    });
    group.finish();
}

/// One next-time case: the same question put to every library.
struct Case {
    name: &'static str,
    /// Five fields, as cronwright and croner take it.
    expr: &'static str,
    zone: Tz,
    from: &'static str,
}

fn cases() -> Vec<Case> {
    let berlin = chrono_tz::Europe::Berlin;
    let new_york = chrono_tz::America::New_York;
    vec![
        Case {
            name: "plain",
            expr: "0 9 * * *",
            zone: berlin,
            from: "2026-01-15T10:17:23Z",
        },
        Case {
            name: "steps",
            expr: "*/15 * * * *",
            zone: berlin,
            from: "2026-01-15T10:17:23Z",
        },
        // Weekday names rather than `1-5`: the cron crate numbers weekdays from Sunday = 1,
        // so `1-5` would ask it a different question. From Friday evening, so the answer
        // has to skip the weekend.
        Case {
            name: "lists",
            expr: "0 8,12,18 * * mon-fri",
            zone: berlin,
            from: "2026-01-16T18:30:00Z",
        },
        // Both day fields restricted: cron's OR rule (1st, 15th, or any Monday).
        Case {
            name: "or_rule",
            expr: "0 0 1,15 * mon",
            zone: berlin,
            from: "2026-01-16T12:00:00Z",
        },
        // The next Feb 29 is two years away: tests how a search copes with a rare date.
        Case {
            name: "feb29",
            expr: "0 0 29 2 *",
            zone: berlin,
            from: "2026-03-01T00:00:00Z",
        },
        // 02:30 does not exist on 2026-03-08 in New York (spring forward 02:00 -> 03:00).
        Case {
            name: "dst_gap",
            expr: "30 2 * * *",
            zone: new_york,
            from: "2026-03-07T17:00:00Z",
        },
        // 01:00-02:00 happens twice on 2026-11-01 (fall back 02:00 EDT -> 01:00 EST); from
        // 01:30 EDT, a wildcard entry's next run is 01:00 EST, in the repeated hour.
        Case {
            name: "dst_overlap",
            expr: "0 * * * *",
            zone: new_york,
            from: "2026-11-01T05:30:00Z",
        },
    ]
}

/// A case prepared for every library: parsed schedules and `from` in each library's type.
struct Prepared {
    name: &'static str,
    zone: Tz,
    from_utc: DateTime<Utc>,
    from_local: DateTime<Tz>,
    ours: Schedule,
    /// cronwright's zone, prepared once as the daemon prepares it (outside the timed loop,
    /// like parsing; the other crates use chrono-tz's `Tz` directly).
    our_zone: Zone,
    cron: cron::Schedule,
    croner: croner::Cron,
}

fn prepare(case: &Case) -> Prepared {
    let from_utc = DateTime::parse_from_rfc3339(case.from)
        .expect("valid from")
        .with_timezone(&Utc);
    Prepared {
        name: case.name,
        zone: case.zone,
        from_utc,
        from_local: from_utc.with_timezone(&case.zone),
        ours: parse_expr(case.expr).expect("cronwright parses the case"),
        our_zone: Zone::new(
            zone_named(case.zone.name()).expect("the system's database has the zone"),
        ),
        // The cron crate wants a leading seconds field (6 or 7 fields).
        cron: cron::Schedule::from_str(&format!("0 {}", case.expr)).expect("cron parses the case"),
        // croner's default parser takes 5 fields (seconds optional, defaulting to 0).
        croner: croner::Cron::from_str(case.expr).expect("croner parses the case"),
    }
}

fn next_cronwright(p: &Prepared) -> Option<DateTime<Utc>> {
    p.ours.next_after(p.from_utc, &p.our_zone)
}

fn next_cron(p: &Prepared) -> Option<DateTime<Tz>> {
    p.cron.after(&p.from_local).next()
}

fn next_croner(p: &Prepared) -> Option<DateTime<Tz>> {
    p.croner.find_next_occurrence(&p.from_local, false).ok()
}

/// Prints one `note:` line per disagreement, so the report can say which timings answer a
/// different question than cronwright's.
fn report_differences(prepared: &[Prepared]) {
    let show = |t: Option<DateTime<Utc>>, tz: Tz| {
        t.map_or("none".to_string(), |t| t.with_timezone(&tz).to_rfc3339())
    };
    for p in prepared {
        let ours = next_cronwright(p);
        let peers = [
            ("cron", next_cron(p).map(|t| t.to_utc())),
            ("croner", next_croner(p).map(|t| t.to_utc())),
        ];
        for (lib, theirs) in peers {
            if theirs != ours {
                println!(
                    "note: {}: {lib} gives {}, cronwright gives {}",
                    p.name,
                    show(theirs, p.zone),
                    show(ours, p.zone)
                );
            }
        }
    }
}

fn bench_next(c: &mut Criterion) {
    let prepared: Vec<Prepared> = cases().iter().map(prepare).collect();
    report_differences(&prepared);

    let mut group = c.benchmark_group("next_after");
    for p in &prepared {
        group.bench_with_input(BenchmarkId::new("cronwright", p.name), p, |b, p| {
            b.iter(|| next_cronwright(black_box(p)))
        });
        group.bench_with_input(BenchmarkId::new("cron", p.name), p, |b, p| {
            b.iter(|| next_cron(black_box(p)))
        });
        group.bench_with_input(BenchmarkId::new("croner", p.name), p, |b, p| {
            b.iter(|| next_croner(black_box(p)))
        });
    }
    // The mix: every case once per iteration, so one slow case in a library weighs in as it
    // would for a daemon holding all of these entries.
    group.bench_with_input(BenchmarkId::new("cronwright", "mix"), &prepared, |b, ps| {
        b.iter(|| {
            for p in black_box(ps) {
                black_box(next_cronwright(p));
            }
        })
    });
    group.bench_with_input(BenchmarkId::new("cron", "mix"), &prepared, |b, ps| {
        b.iter(|| {
            for p in black_box(ps) {
                black_box(next_cron(p));
            }
        })
    });
    group.bench_with_input(BenchmarkId::new("croner", "mix"), &prepared, |b, ps| {
        b.iter(|| {
            for p in black_box(ps) {
                black_box(next_croner(p));
            }
        })
    });
    group.finish();
}

/// Preparing a `Zone` (reading its offset changes into a table) is paid once per zone in use,
/// by the daemon at load and by `cronwright next` per run; this shows what it costs.
fn bench_zone(c: &mut Criterion) {
    let mut group = c.benchmark_group("zone");
    group.sample_size(20);
    group.bench_function("prepare/America/New_York", |b| {
        let rule = zone_named("America/New_York").expect("the system's database has the zone");
        b.iter(|| Zone::new(black_box(rule.clone())))
    });
    group.finish();
}

/// Shorter than criterion's defaults (3 s warm-up, 5 s measurement): there are 25 benchmarks
/// and the run should stay within a few minutes on a 2-core machine; the calls are short, so
/// a second of warm-up and three of measurement still give tight intervals.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_parse, bench_next, bench_zone
}
criterion_main!(benches);
