//! What `next_after` assumes of the compiled-in tz database: between two offset changes of
//! any zone there are more than `TRANSITION_PROBE_SECS` (6 days), so probing every 6 days
//! never steps over two changes at once; and no single change moves a clock by more than a
//! day (the gap search window). A tz database update that breaks either fails here.

use chrono::{TimeZone, Utc};
use cronwright::cron::{TRANSITION_PROBE_SECS, offset_at};

#[test]
fn offset_changes_are_further_apart_than_the_probe_step_in_every_zone() {
    let start = Utc
        .with_ymd_and_hms(1970, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    let end = Utc
        .with_ymd_and_hms(2100, 1, 1, 0, 0, 0)
        .unwrap()
        .timestamp();
    // Probing every 12 hours sees every change except a pair that cancels out within 12
    // hours, which no zone has ever scheduled.
    let step = 12 * 3600;
    let mut problems = Vec::new();
    for tz in chrono_tz::TZ_VARIANTS {
        let mut last_change: Option<i64> = None;
        let mut t = start;
        let mut off = offset_at(tz, t).unwrap();
        while t < end {
            let next = t + step;
            let o = offset_at(tz, next).unwrap();
            if o != off {
                let (mut lo, mut hi) = (t, next);
                while hi - lo > 1 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_at(tz, mid).unwrap() == off {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
                if let Some(prev) = last_change {
                    if hi - prev <= TRANSITION_PROBE_SECS {
                        problems.push(format!(
                            "{}: changes {}s apart at {}",
                            tz.name(),
                            hi - prev,
                            hi
                        ));
                    }
                }
                if (o - off).abs() > 86_400 {
                    problems.push(format!("{}: a change of {}s at {}", tz.name(), o - off, hi));
                }
                last_change = Some(hi);
                off = o;
            }
            t = next;
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
