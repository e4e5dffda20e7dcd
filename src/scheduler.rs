//! The job table and the deadline heap: when to wake next, what is due at a given wall-clock
//! time, and what a step of the system clock means for each job.
//!
//! Pure: every function takes "now" as a value (Unix seconds), so DST days, clock steps and
//! huge tables are tested with literal times and no sleeping. The daemon owns the clock: it
//! sleeps until `next_wake()`, then calls `tick` with the wall-clock time and how far the wall
//! clock moved beyond the real time that passed (`ClockStep::classify`).
//!
//! Deadlines come from the schedule (`next_after` of the previous fire time), never from
//! "now plus an interval", so a job's start times do not drift however late it ran.
//!
//! Clock steps follow cronie's rules (DESIGN.md "Time"), applied per job:
//! - forward up to 5 minutes (or a late wake-up): every job due in the skipped span runs once;
//! - forward up to 3 hours: fixed-time jobs due in the span run once; wildcard jobs go on from
//!   the new time;
//! - backward up to 3 hours: fixed-time jobs keep their next time, so they do not run again
//!   for times they already ran; wildcard jobs follow the new time;
//! - more than 3 hours either way: a correction; everything is rescheduled from the new time.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;

use crate::cron::{Times, Zone};

/// A step of up to this many seconds forward still runs every job it skipped.
pub const SMALL_STEP: i64 = 5 * 60;
/// Steps beyond this (either way) are corrections: nothing is run or suppressed.
pub const LARGE_STEP: i64 = 3 * 3600;
/// Wall and monotonic clocks may disagree by this much without it counting as a step.
pub const STEP_TOLERANCE: i64 = 2;

/// How the wall clock moved relative to the real time that passed since the last tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockStep {
    None,
    Forward(i64),
    Backward(i64),
}

impl ClockStep {
    /// From the wall-clock and the monotonic time elapsed since the last tick, in seconds.
    /// Suspend counts as a forward step: the monotonic clock stops while the machine sleeps.
    pub fn classify(wall_elapsed: i64, monotonic_elapsed: i64) -> ClockStep {
        let step = wall_elapsed - monotonic_elapsed;
        if step > STEP_TOLERANCE {
            ClockStep::Forward(step)
        } else if step < -STEP_TOLERANCE {
            ClockStep::Backward(-step)
        } else {
            ClockStep::None
        }
    }
}

/// Names a job in the table. Stale keys (of removed jobs) are never confused with new ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    index: u32,
    generation: u32,
}

/// A job that is due: run it now. `scheduled` is the time it was due (its deadline).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    pub key: JobKey,
    pub scheduled: i64,
}

/// One job of the table as [`Scheduler::iter`] shows it.
pub struct Scheduled<'a, T> {
    pub key: JobKey,
    pub times: &'a Times,
    pub zone: &'a Zone,
    /// The next time it runs, Unix seconds, its delay included.
    pub deadline: Option<i64>,
    /// RANDOM_DELAY's draw plus CRON_JITTER's offset, in seconds.
    pub delay: u32,
    pub payload: &'a T,
}

struct Slot<T> {
    generation: u32,
    times: Times,
    zone: Arc<Zone>,
    /// Seconds added to every fire time (cronie's RANDOM_DELAY, drawn once per job).
    delay: u32,
    /// The next fire time from the schedule, without the delay; [`NEVER`] when it never
    /// fires (a plain `i64`: an `Option` would add 8 bytes to every job).
    next: i64,
    payload: T,
}

const NEVER: i64 = i64::MAX;

impl<T> Slot<T> {
    fn next(&self) -> Option<i64> {
        (self.next != NEVER).then_some(self.next)
    }

    fn set_next(&mut self, next: Option<i64>) {
        self.next = next.unwrap_or(NEVER);
    }

    fn deadline(&self) -> Option<i64> {
        self.next().map(|n| n.saturating_add(i64::from(self.delay)))
    }

    /// The first fire time strictly after `from`. A fixed-time job asked from the second pass
    /// of a repeated hour is answered with the first pass, when it already ran: skip it.
    fn next_from(&self, from: i64) -> Option<i64> {
        let n = self.times.next_after_secs(from, &self.zone)?;
        if n > from {
            Some(n)
        } else {
            self.times.next_after_secs(n, &self.zone)
        }
    }
}

/// The job table plus a min-heap of `(deadline, job)`. A removed job's heap entry is left in
/// place and skipped when it surfaces (checked against the job's generation and current
/// deadline), so removal never searches the heap; once such dead entries outnumber the jobs,
/// the heap is compacted. Every job with a deadline has exactly one live entry: `pop_due` pops
/// it before pushing the next, and `reschedule_all` rebuilds the heap.
///
/// After a crontab shrinks, the free places at the end of the table are cut off and every
/// part gives back capacity it no longer needs: reinstalling a 1.4-million-entry crontab 9
/// times, then shrinking it to one line, left 519 MB resident before and 27 MB after. Places
/// are never moved (keys name them), so a job placed past the free ones keeps the table long.
/// The daemon inserts a file's new jobs before removing its old ones, so when no place before
/// the old jobs is free, the new ones go after them, and the table keeps its length until the
/// file's next reload: 294 MB in the example above, had the crontab been reinstalled 8 times.
pub struct Scheduler<T> {
    slots: Vec<Option<Slot<T>>>,
    /// Free places, lowest first. Reusing the lowest keeps the jobs at the front of the table,
    /// so that the tail is free to cut off once a crontab shrinks, and gives a reloaded file's
    /// jobs places in line order, so jobs due at the same second start in line order. Places
    /// cut off since they were freed are still here, at or past `slots.len()`, until they
    /// surface in `insert` or outnumber the real ones (`cut_free_tail`).
    free: BinaryHeap<Reverse<u32>>,
    /// The generation of the last job inserted. One counter for the table rather than one
    /// per place, which would cost 4 bytes a job: a stale key could only name a new job after
    /// 2^32 insertions, and a stale heap entry must also match that job's deadline.
    generation: u32,
    heap: BinaryHeap<Reverse<(i64, u32, u32)>>,
    len: usize,
    /// Runs a clock step passed over (due, not run), until [`Scheduler::take_skipped`].
    skipped: Vec<Due>,
}

impl<T> Default for Scheduler<T> {
    fn default() -> Self {
        Scheduler {
            slots: Vec::new(),
            free: BinaryHeap::new(),
            generation: 0,
            heap: BinaryHeap::new(),
            len: 0,
            skipped: Vec::new(),
        }
    }
}

impl<T> Scheduler<T> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Adds a job whose first run is its first fire time after `now`.
    pub fn insert(
        &mut self,
        times: Times,
        zone: Arc<Zone>,
        delay: u32,
        payload: T,
        now: i64,
    ) -> JobKey {
        let index = loop {
            match self.free.pop() {
                Some(Reverse(i)) if (i as usize) < self.slots.len() => break i,
                // The lowest free place was cut off, so every other one was too.
                Some(_) => self.free.clear(),
                None => {
                    self.slots.push(None);
                    break (self.slots.len() - 1) as u32;
                }
            }
        };
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let mut slot = Slot {
            generation,
            times,
            zone,
            delay,
            next: NEVER,
            payload,
        };
        slot.set_next(slot.next_from(now));
        if let Some(d) = slot.deadline() {
            self.heap.push(Reverse((d, index, generation)));
        }
        self.slots[index as usize] = Some(slot);
        self.len += 1;
        JobKey { index, generation }
    }

    /// Removes a job; its payload comes back. Unknown or stale keys give `None`.
    pub fn remove(&mut self, key: JobKey) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.as_ref()?.generation != key.generation {
            return None;
        }
        let taken = slot.take()?;
        self.len -= 1;
        if key.index as usize + 1 == self.slots.len() {
            self.cut_free_tail();
        } else {
            self.free.push(Reverse(key.index));
        }
        if self.heap.len() > 2 * self.len + SLACK {
            self.compact_heap();
        }
        Some(taken.payload)
    }

    /// Cuts the free places off the end of the table, once its last place is freed. Each
    /// place is cut once per time it was freed, and the free list is only filtered when the
    /// places cut off make up more than half of it, so this is O(1) per removal, amortised.
    fn cut_free_tail(&mut self) {
        while matches!(self.slots.last(), Some(None)) {
            self.slots.pop();
        }
        let end = self.slots.len();
        if self.free.len() > 2 * (end - self.len) + SLACK {
            self.free.retain(|&Reverse(i)| (i as usize) < end);
            if oversized(self.free.len(), self.free.capacity()) {
                self.free.shrink_to(2 * self.free.len() + SLACK);
            }
        }
        if oversized(end, self.slots.capacity()) {
            self.slots.shrink_to(2 * end + SLACK);
        }
    }

    /// Drops the heap entries of removed jobs. Run when they outnumber the jobs by more than
    /// [`SLACK`], so at least half the heap goes and each removal pays O(1) for it, amortised.
    /// Without it, 600 reloads of 2,000 entries that fire once a year left 1.2 million entries
    /// in the heap (24 MB resident; 4.9 MB with it).
    fn compact_heap(&mut self) {
        let slots = &self.slots;
        self.heap.retain(|&Reverse(entry)| is_live(slots, entry));
        self.shrink_heap();
    }

    fn shrink_heap(&mut self) {
        if oversized(self.heap.len(), self.heap.capacity()) {
            self.heap.shrink_to(2 * self.heap.len() + SLACK);
        }
    }

    pub fn get(&self, key: JobKey) -> Option<&T> {
        self.slot(key).map(|s| &s.payload)
    }

    /// A job's schedule and zone.
    pub fn schedule(&self, key: JobKey) -> Option<(&Times, &Zone)> {
        self.slot(key).map(|s| (&s.times, &*s.zone))
    }

    /// Every job, in table order: its key, schedule, zone, next deadline (delay included)
    /// and payload.
    pub fn iter(&self) -> impl Iterator<Item = Scheduled<'_, T>> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let s = s.as_ref()?;
            Some(Scheduled {
                key: JobKey {
                    index: i as u32,
                    generation: s.generation,
                },
                times: &s.times,
                zone: &s.zone,
                deadline: s.deadline(),
                delay: s.delay,
                payload: &s.payload,
            })
        })
    }

    fn slot(&self, key: JobKey) -> Option<&Slot<T>> {
        self.slots
            .get(key.index as usize)?
            .as_ref()
            .filter(|s| s.generation == key.generation)
    }

    fn live(&self, entry: (i64, u32, u32)) -> bool {
        is_live(&self.slots, entry)
    }

    /// The earliest deadline: sleep until then. Drops stale heap entries on the way.
    pub fn next_wake(&mut self) -> Option<i64> {
        while let Some(&Reverse(entry)) = self.heap.peek() {
            if self.live(entry) {
                return Some(entry.0);
            }
            self.heap.pop();
        }
        None
    }

    /// What to run at wall-clock time `now`, given how the clock moved since the last tick.
    /// Every job returned has been rescheduled already.
    pub fn tick(&mut self, now: i64, step: ClockStep) -> Vec<Due> {
        match step {
            ClockStep::Backward(d) if d > LARGE_STEP => {
                self.reschedule_all(now, |_| true);
                Vec::new()
            }
            ClockStep::Backward(_) => {
                // Fixed-time jobs keep their next time, so nothing they did runs twice;
                // wildcard jobs follow the new wall-clock time.
                self.reschedule_all(now, |s| !s.is_fixed_time());
                self.pop_due(now, |_| true)
            }
            ClockStep::Forward(d) if d > LARGE_STEP => {
                self.note_passed_over(now);
                self.reschedule_all(now, |_| true);
                Vec::new()
            }
            ClockStep::Forward(d) if d > SMALL_STEP => self.pop_due(now, Times::is_fixed_time),
            ClockStep::Forward(_) | ClockStep::None => self.pop_due(now, |_| true),
        }
    }

    /// Pops every job due at `now`; those `run` accepts are returned. Each is rescheduled
    /// from its fire time or, if that is further back than its delay, from now, so a job
    /// that missed several times runs once.
    fn pop_due(&mut self, now: i64, run: impl Fn(&Times) -> bool) -> Vec<Due> {
        let mut due = Vec::new();
        while let Some(&Reverse(entry)) = self.heap.peek() {
            if entry.0 > now {
                break;
            }
            self.heap.pop();
            if !self.live(entry) {
                continue;
            }
            let (deadline, index, generation) = entry;
            let Some(slot) = self.slots[index as usize].as_mut() else {
                continue;
            };
            let fired = slot.next().unwrap_or(now);
            let this = Due {
                key: JobKey { index, generation },
                scheduled: deadline,
            };
            if run(&slot.times) {
                due.push(this);
            } else {
                self.skipped.push(this);
            }
            slot.set_next(slot.next_from(fired.max(now - i64::from(slot.delay))));
            if let Some(d) = slot.deadline() {
                self.heap.push(Reverse((d, index, generation)));
            }
        }
        due
    }

    /// Recomputes the next time of every job `which` selects, from `now`. The heap is rebuilt
    /// with one entry per job rather than pushed onto: an entry left at a job's old deadline
    /// would come alive again if the job's deadline came back to it, and the job would have
    /// two live entries, which compaction could not drop.
    /// Notes every job due by `now` as passed over: a large forward step runs none of them.
    fn note_passed_over(&mut self, now: i64) {
        for (index, slot) in self.slots.iter().enumerate() {
            let Some(slot) = slot else { continue };
            if let Some(deadline) = slot.deadline().filter(|&d| d <= now) {
                self.skipped.push(Due {
                    key: JobKey {
                        index: index as u32,
                        generation: slot.generation,
                    },
                    scheduled: deadline,
                });
            }
        }
    }

    /// The runs clock steps passed over since the last call: due, and not run, because
    /// cron's rules for a step say so.
    pub fn take_skipped(&mut self) -> Vec<Due> {
        std::mem::take(&mut self.skipped)
    }

    fn reschedule_all(&mut self, now: i64, which: impl Fn(&Times) -> bool) {
        self.rebuild(|slot| {
            if which(&slot.times) {
                slot.set_next(slot.next_from(now - i64::from(slot.delay)));
            }
        });
    }

    /// Moves every job in the zone `old` to `new`, each rescheduled from `now` (the zone's
    /// rules changed under it): how many jobs it has, and how many of them got a new next time.
    pub fn rezone(&mut self, old: &Arc<Zone>, new: &Arc<Zone>, now: i64) -> (usize, usize) {
        let (mut jobs, mut moved) = (0, 0);
        self.rebuild(|slot| {
            if Arc::ptr_eq(&slot.zone, old) {
                slot.zone = Arc::clone(new);
                let before = slot.next;
                slot.set_next(slot.next_from(now - i64::from(slot.delay)));
                jobs += 1;
                moved += usize::from(slot.next != before);
            }
        });
        (jobs, moved)
    }

    /// Applies `change` to every job, then rebuilds the heap with one entry per job.
    fn rebuild(&mut self, mut change: impl FnMut(&mut Slot<T>)) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.clear();
        for (index, slot) in self.slots.iter_mut().enumerate() {
            let Some(slot) = slot.as_mut() else { continue };
            change(slot);
            if let Some(d) = slot.deadline() {
                entries.push(Reverse((d, index as u32, slot.generation)));
            }
        }
        self.heap = BinaryHeap::from(entries);
        self.shrink_heap();
    }
}

/// Waste tolerated before tidying up (dead heap entries beyond the jobs, spare capacity), so
/// that a small table is not compacted or reallocated over a handful of jobs.
const SLACK: usize = 64;

/// Whether a collection of `len` items should give back its `capacity`: only at a quarter
/// full, and then to half full, so that a table that grows and shrinks by a file's jobs on
/// every reload does not reallocate every time.
fn oversized(len: usize, capacity: usize) -> bool {
    capacity > 4 * len + SLACK
}

/// Whether a heap entry still describes its job's current deadline.
fn is_live<T>(slots: &[Option<Slot<T>>], entry: (i64, u32, u32)) -> bool {
    let (deadline, index, generation) = entry;
    matches!(slots.get(index as usize), Some(Some(s))
        if s.generation == generation && s.deadline() == Some(deadline))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cron::{Schedule, parse_expr};
    use chrono::{DateTime, TimeZone, Utc};

    impl<T> Scheduler<T> {
        /// The job's next deadline (fire time plus its delay), if it has one.
        fn deadline(&self, key: JobKey) -> Option<i64> {
            self.slot(key).and_then(Slot::deadline)
        }
    }

    fn times(expr: &str) -> Times {
        match parse_expr(expr).unwrap() {
            Schedule::Times(t) => t,
            Schedule::Reboot => unreachable!(),
        }
    }

    fn at(rfc3339: &str) -> i64 {
        DateTime::parse_from_rfc3339(rfc3339).unwrap().timestamp()
    }

    fn zone(name: &str) -> Arc<Zone> {
        Arc::new(Zone::new(crate::cron::zone_named(name).unwrap()))
    }

    fn show(t: i64, zone: &Zone) -> String {
        zone.rule()
            .local(Utc.timestamp_opt(t, 0).unwrap())
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    /// Runs the scheduler as the daemon would on an undisturbed clock, from `from` to `to`,
    /// and returns every (job name, fire time) in order.
    fn simulate(s: &mut Scheduler<&'static str>, to: i64) -> Vec<(&'static str, i64)> {
        let mut fired = Vec::new();
        while let Some(wake) = s.next_wake() {
            if wake > to {
                break;
            }
            for d in s.tick(wake, ClockStep::None) {
                fired.push((*s.get(d.key).unwrap(), d.scheduled));
            }
        }
        fired
    }

    fn day(expr: &str, zone_name: &str, from: &str, to: &str) -> Vec<String> {
        let z = zone(zone_name);
        let mut s = Scheduler::new();
        s.insert(times(expr), z.clone(), 0, "job", at(from));
        simulate(&mut s, at(to))
            .into_iter()
            .map(|(_, t)| show(t, &z))
            .collect()
    }

    #[test]
    fn fixed_time_job_in_dst_gap_runs_once_after_the_gap() {
        let runs = day(
            "15,45 2 * * *",
            "America/New_York",
            "2026-03-08T00:00:00-05:00",
            "2026-03-09T00:00:00-04:00",
        );
        assert_eq!(runs, ["2026-03-08T03:00:00-04:00"]);
        let runs = day(
            "30 1 * * *",
            "Europe/London",
            "2026-03-29T00:00:00+00:00",
            "2026-03-30T00:00:00+01:00",
        );
        assert_eq!(runs, ["2026-03-29T02:00:00+01:00"]);
    }

    #[test]
    fn wildcard_job_has_no_slots_in_the_gap_and_both_passes_of_the_overlap() {
        let spring = day(
            "*/30 * * * *",
            "America/New_York",
            "2026-03-08T00:00:00-05:00",
            "2026-03-09T00:00:00-04:00",
        );
        assert_eq!(spring.len(), 46, "23 hours of half-hours");
        let fall = day(
            "0 * * * *",
            "Europe/London",
            "2026-10-25T00:00:00+01:00",
            "2026-10-25T23:59:00+00:00",
        );
        // 01:00 BST, 01:00 GMT, then 02:00 to 23:00 GMT: one more run than the hours on the
        // clock face after the excluded 00:00.
        assert_eq!(fall.len(), 24);
        assert_eq!(
            fall[0..2],
            ["2026-10-25T01:00:00+01:00", "2026-10-25T01:00:00+00:00"]
        );
    }

    #[test]
    fn fixed_time_job_in_overlap_runs_once() {
        let runs = day(
            "30 1 * * *",
            "America/New_York",
            "2026-11-01T00:00:00-04:00",
            "2026-11-02T00:00:00-05:00",
        );
        assert_eq!(runs, ["2026-11-01T01:30:00-04:00"]);
    }

    #[test]
    fn lord_howe_half_hour_changes() {
        // Spring: 02:00 -> 02:30 (+10:30 -> +11). Fall: 02:00 -> 01:30 (+11 -> +10:30).
        let gap = day(
            "15 2 * * *",
            "Australia/Lord_Howe",
            "2025-10-05T00:00:00+10:30",
            "2025-10-06T00:00:00+11:00",
        );
        assert_eq!(gap, ["2025-10-05T02:30:00+11:00"]);
        let overlap = day(
            "*/20 1 * * *",
            "Australia/Lord_Howe",
            "2026-04-05T00:00:00+11:00",
            "2026-04-06T00:00:00+10:30",
        );
        assert_eq!(
            overlap,
            [
                "2026-04-05T01:00:00+11:00",
                "2026-04-05T01:20:00+11:00",
                "2026-04-05T01:40:00+11:00",
                "2026-04-05T01:40:00+10:30"
            ]
        );
    }

    #[test]
    fn reloading_in_the_second_pass_does_not_rerun_a_fixed_time_job() {
        let z = zone("America/New_York");
        let mut s = Scheduler::new();
        let k = s.insert(
            times("30 1 * * *"),
            z.clone(),
            0,
            "job",
            at("2026-11-01T01:20:00-05:00"),
        );
        assert_eq!(
            show(s.deadline(k).unwrap(), &z),
            "2026-11-02T01:30:00-05:00"
        );
    }

    /// One fixed-time and one wildcard job, then a wake at `now` after a clock step.
    fn stepped(now: &str, step: ClockStep) -> Vec<&'static str> {
        stepped_and_passed_over(now, step).0
    }

    /// [`stepped`], and the jobs the step passed over.
    fn stepped_and_passed_over(
        now: &str,
        step: ClockStep,
    ) -> (Vec<&'static str>, Vec<&'static str>) {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        s.insert(
            times("30 12 * * *"),
            z.clone(),
            0,
            "fixed",
            at("2026-06-01T12:00:00Z"),
        );
        s.insert(
            times("*/10 * * * *"),
            z,
            0,
            "wildcard",
            at("2026-06-01T12:00:00Z"),
        );
        let mut names: Vec<_> = s
            .tick(at(now), step)
            .iter()
            .map(|d| *s.get(d.key).unwrap())
            .collect();
        names.sort();
        let mut passed: Vec<_> = s
            .take_skipped()
            .iter()
            .map(|d| *s.get(d.key).unwrap())
            .collect();
        passed.sort();
        (names, passed)
    }

    #[test]
    fn what_a_step_does_not_run_is_told_as_passed_over() {
        let (_, none) = stepped_and_passed_over("2026-06-01T12:35:00Z", ClockStep::Forward(300));
        assert!(none.is_empty());
        let (ran, passed) =
            stepped_and_passed_over("2026-06-01T14:00:00Z", ClockStep::Forward(7200));
        assert_eq!((ran, passed), (vec!["fixed"], vec!["wildcard"]));
        let (ran, passed) =
            stepped_and_passed_over("2026-06-01T17:00:00Z", ClockStep::Forward(5 * 3600));
        assert_eq!(ran, Vec::<&str>::new());
        assert_eq!(passed, ["fixed", "wildcard"]);
    }

    #[test]
    fn forward_step_of_five_minutes_runs_every_skipped_job_once() {
        // 12:00 -> 12:35 in what felt like 30 minutes: both were due in the span.
        assert_eq!(
            stepped("2026-06-01T12:35:00Z", ClockStep::Forward(300)),
            ["fixed", "wildcard"]
        );
    }

    #[test]
    fn forward_step_of_two_hours_runs_only_skipped_fixed_time_jobs() {
        assert_eq!(
            stepped("2026-06-01T14:00:00Z", ClockStep::Forward(7200)),
            ["fixed"]
        );
    }

    #[test]
    fn forward_step_of_five_hours_runs_nothing_and_reschedules() {
        assert!(stepped("2026-06-01T17:00:00Z", ClockStep::Forward(5 * 3600)).is_empty());
    }

    #[test]
    fn missed_runs_of_one_job_collapse_into_one() {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        let k = s.insert(
            times("* * * * *"),
            z,
            0,
            "minutely",
            at("2026-06-01T12:00:00Z"),
        );
        let due = s.tick(at("2026-06-01T12:04:30Z"), ClockStep::Forward(270));
        assert_eq!(due.len(), 1);
        assert_eq!(s.deadline(k), Some(at("2026-06-01T12:05:00Z")));
    }

    #[test]
    fn backward_step_of_an_hour_never_reruns_fixed_time_jobs() {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        let fixed = s.insert(
            times("30 12 * * *"),
            z.clone(),
            0,
            "fixed",
            at("2026-06-01T12:00:00Z"),
        );
        let wild = s.insert(
            times("*/10 * * * *"),
            z,
            0,
            "wildcard",
            at("2026-06-01T12:00:00Z"),
        );
        // Both run at 12:30.
        assert_eq!(s.tick(at("2026-06-01T12:30:00Z"), ClockStep::None).len(), 2);
        // The clock is set back an hour, to 11:30.
        let due = s.tick(at("2026-06-01T11:30:00Z"), ClockStep::Backward(3600));
        assert!(due.is_empty());
        assert_eq!(s.deadline(fixed), Some(at("2026-06-02T12:30:00Z")));
        assert_eq!(s.deadline(wild), Some(at("2026-06-01T11:40:00Z")));
        // Running on from 11:30 to 13:00: the fixed job does not run again at 12:30, the
        // wildcard job runs every ten minutes of the new time (11:40 to 13:00).
        let fired = simulate(&mut s, at("2026-06-01T13:00:00Z"));
        assert!(fired.iter().all(|(n, _)| *n == "wildcard"));
        assert_eq!(fired.len(), 9);
    }

    #[test]
    fn backward_step_over_three_hours_reschedules_everything() {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        let fixed = s.insert(
            times("30 12 * * *"),
            z,
            0,
            "fixed",
            at("2026-06-01T12:40:00Z"),
        );
        s.tick(
            at("2026-06-01T08:00:00Z"),
            ClockStep::Backward(4 * 3600 + 40 * 60),
        );
        assert_eq!(s.deadline(fixed), Some(at("2026-06-01T12:30:00Z")));
    }

    #[test]
    fn deadlines_come_from_the_schedule_not_from_when_the_job_ran() {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        let k = s.insert(
            times("*/5 * * * * *"),
            z,
            0,
            "every5s",
            at("2026-06-01T12:00:00Z"),
        );
        // Waking a little late each time never shifts the next deadline.
        for i in 1..=100 {
            let deadline = s.next_wake().unwrap();
            assert_eq!(deadline, at("2026-06-01T12:00:00Z") + 5 * i);
            s.tick(deadline + 1, ClockStep::None);
        }
        assert_eq!(s.deadline(k), Some(at("2026-06-01T12:00:00Z") + 505));
    }

    #[test]
    fn random_delay_shifts_every_run_by_the_same_amount() {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        s.insert(
            times("0 * * * *"),
            z,
            90,
            "delayed",
            at("2026-06-01T12:00:00Z"),
        );
        let fired = simulate(&mut s, at("2026-06-01T15:00:00Z"));
        let times: Vec<i64> = fired.iter().map(|(_, t)| *t).collect();
        assert_eq!(
            times,
            [at("2026-06-01T13:01:30Z"), at("2026-06-01T14:01:30Z")]
        );
    }

    #[test]
    fn removed_jobs_never_fire_and_their_keys_stay_dead() {
        let z = zone("UTC");
        let mut s = Scheduler::new();
        let a = s.insert(
            times("* * * * *"),
            z.clone(),
            0,
            "a",
            at("2026-06-01T12:00:00Z"),
        );
        assert_eq!(s.remove(a), Some("a"));
        let b = s.insert(times("* * * * *"), z, 0, "b", at("2026-06-01T12:00:00Z"));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&"b"));
        let fired = simulate(&mut s, at("2026-06-01T12:03:00Z"));
        assert!(fired.iter().all(|(n, _)| *n == "b"));
        assert_eq!(fired.len(), 3);
    }

    /// Replaces the jobs `old` by one job of `expr` for each of `names`, as the daemon reloads
    /// a file: the new jobs first, then the old ones removed. Checks the heap's bound after
    /// every step.
    fn reload(
        s: &mut Scheduler<&'static str>,
        old: Vec<JobKey>,
        names: &[&'static str],
        expr: &str,
        now: i64,
    ) -> Vec<JobKey> {
        let (z, t) = (zone("UTC"), times(expr));
        let bounded = |s: &Scheduler<_>| {
            assert!(
                s.heap.len() <= 2 * s.len() + SLACK,
                "{} heap entries for {} jobs",
                s.heap.len(),
                s.len()
            );
        };
        let new = names
            .iter()
            .map(|name| {
                let k = s.insert(t, z.clone(), 0, name, now);
                bounded(s);
                k
            })
            .collect();
        for k in old {
            s.remove(k);
            bounded(s);
        }
        new
    }

    /// A unit test, as the two below: the scheduler is crate-private, and through the daemon
    /// only its resident memory would show this.
    #[test]
    fn reloads_of_jobs_that_rarely_fire_keep_the_heap_bounded() {
        let now = at("2026-06-01T12:00:00Z");
        let names = vec!["yearly"; 2000];
        let mut s = Scheduler::new();
        let mut keys = reload(&mut s, Vec::new(), &names, "0 0 1 1 *", now);
        for _ in 0..1000 {
            keys = reload(&mut s, keys, &names, "0 0 1 1 *", now);
        }
        assert_eq!(s.len(), 2000);
        assert!(s.slots.len() <= 2 * 2000, "{} places", s.slots.len());
        assert_eq!(s.next_wake(), Some(at("2027-01-01T00:00:00Z")));
        let due = s.tick(at("2027-01-01T00:00:00Z"), ClockStep::None);
        assert_eq!(due.len(), 2000);
    }

    #[test]
    fn a_table_that_shrinks_gives_its_memory_back() {
        let now = at("2026-06-01T12:00:00Z");
        let many = vec!["many"; 50_000];
        let mut s = Scheduler::new();
        let mut keys = reload(&mut s, Vec::new(), &many, "0 0 1 1 *", now);
        for _ in 0..3 {
            keys = reload(&mut s, keys, &many, "0 0 1 1 *", now);
        }
        // The one new job may land past the old ones, which holds the table's length until
        // the next reload (see `Scheduler`); after that, it is back to one place or two.
        keys = reload(&mut s, keys, &["one"], "0 0 1 1 *", now);
        reload(&mut s, keys, &["one"], "0 0 1 1 *", now);
        assert_eq!(s.len(), 1);
        let small = 4 * SLACK;
        assert!(s.slots.len() <= 2, "{} places", s.slots.len());
        for (part, capacity) in [
            ("heap", s.heap.capacity()),
            ("table", s.slots.capacity()),
            ("free list", s.free.capacity()),
        ] {
            assert!(capacity <= small, "{part}: capacity {capacity}");
        }
        assert_eq!(s.next_wake(), Some(at("2027-01-01T00:00:00Z")));
    }

    /// Free places used to be reused last freed first, which gave a reloaded file's jobs its
    /// old places in reverse, so jobs due at the same second started in reverse line order
    /// after every other reload.
    #[test]
    fn jobs_of_one_file_due_together_start_in_line_order_after_reloads() {
        let lines = ["first", "second", "third"];
        let mut s = Scheduler::new();
        let mut keys = Vec::new();
        // A reload at half past each hour, then the jobs' run on the hour.
        for hour in 0..4 {
            let half_past = at("2026-06-01T12:30:00Z") + hour * 3600;
            keys = reload(&mut s, keys, &lines, "0 * * * *", half_past);
            let due = s.tick(half_past + 1800, ClockStep::None);
            let names: Vec<&str> = due.iter().map(|d| *s.get(d.key).unwrap()).collect();
            assert_eq!(names, lines, "after {hour} reloads");
        }
    }

    #[test]
    fn ten_thousand_jobs_fire_in_deadline_order() {
        let z = zone("Europe/Berlin");
        let mut s = Scheduler::new();
        let exprs = [
            "* * * * *",
            "*/7 * * * *",
            "0 * * * *",
            "30 2 * * *",
            "*/13 * * * * *",
            "0 0 1 * *",
        ];
        let (from, to) = (at("2026-06-01T00:00:00Z"), at("2026-06-01T01:00:00Z"));
        for i in 0..10_000 {
            s.insert(
                times(exprs[i % exprs.len()]),
                z.clone(),
                0,
                exprs[i % exprs.len()],
                from,
            );
        }
        assert_eq!(s.len(), 10_000);
        let fired = simulate(&mut s, to);
        assert!(fired.windows(2).all(|w| w[0].1 <= w[1].1));
        // The heap must yield exactly the union of every job's own fire times.
        let mut expected = 0;
        for (k, e) in exprs.iter().enumerate() {
            let jobs = (0..10_000).filter(|i| i % exprs.len() == k).count();
            let (mut t, mut n) = (from, 0);
            while let Some(next) = times(e).next_after_secs(t, &z).filter(|&x| x <= to) {
                (t, n) = (next, n + 1);
            }
            expected += jobs * n;
            assert_eq!(
                fired.iter().filter(|(name, _)| name == e).count(),
                jobs * n,
                "{e}"
            );
        }
        assert_eq!(fired.len(), expected);
    }
}

#[cfg(test)]
mod size {
    use super::*;

    /// A job table entry is the payload plus 56 bytes (schedule, zone, next time, delay and
    /// generation), with no tag for free places; the daemon's 150-bytes-an-entry budget rests
    /// on it.
    #[test]
    fn a_place_in_the_table_costs_56_bytes_beside_its_payload() {
        type Payload = (Arc<u8>, Arc<u8>, Arc<u8>, [u32; 4]);
        assert_eq!(std::mem::size_of::<Option<Slot<Payload>>>(), 56 + 40);
    }
}
