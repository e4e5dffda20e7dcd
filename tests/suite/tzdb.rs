//! What `next_after` assumes of the compiled-in tz database: between two offset changes of
//! any zone there are more than `TRANSITION_PROBE_SECS` (6 days), so probing every 6 days
//! never steps over two changes at once; and no single change moves a clock by more than a
//! day; and no zone changes after 2200, where `Zone`'s table ends. A tz database update that
//! breaks any of these fails here.

use cronwright::cron::TRANSITION_PROBE_SECS;

use crate::util::{offset_changes, year_start};

#[test]
fn offset_changes_are_further_apart_than_the_probe_step_in_every_zone() {
    // Probing every 12 hours sees every change except a pair that cancels out within 12
    // hours, which no zone has ever scheduled.
    let mut problems = Vec::new();
    for tz in chrono_tz::TZ_VARIANTS {
        let changes = offset_changes(tz, year_start(1970), year_start(2100), 12 * 3600);
        for pair in changes.windows(2) {
            if pair[1].0 - pair[0].0 <= TRANSITION_PROBE_SECS {
                problems.push(format!(
                    "{}: changes {}s apart at {}",
                    tz.name(),
                    pair[1].0 - pair[0].0,
                    pair[1].0
                ));
            }
        }
        for (at, before, after) in changes {
            if (after - before).abs() > 86_400 {
                problems.push(format!(
                    "{}: a change of {}s at {at}",
                    tz.name(),
                    after - before
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn no_zone_changes_its_offset_after_2200() {
    for tz in chrono_tz::TZ_VARIANTS {
        let late = offset_changes(tz, year_start(2200), year_start(2300), 5 * 86_400);
        assert!(late.is_empty(), "{}: {late:?}", tz.name());
    }
}
