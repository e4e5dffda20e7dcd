//! A schedule back into cron's words, and the bytes that identify it.
//!
//! The daemon keeps an entry's fields as bit sets, not as the text that was written: the text
//! would cost every entry its length again in memory. What `status` shows and what a job's id
//! is made of are therefore drawn from the bits. The rendering is canonical (`*/15` for
//! `0,15,30,45` written under a star, `1-5` for `1,2,3,4,5`), and the identity is the bits
//! themselves, so two ways of writing one schedule are one job, and realigning a line's columns
//! changes nothing.

use super::{DOM_STAR, DOW_STAR, HR_STAR, MIN_STAR, Schedule, Times};

impl Times {
    /// The fields as cron would write them: five, or six when there is a seconds field.
    pub fn expression(&self) -> String {
        let mut fields = Vec::with_capacity(6);
        if self.has_seconds() {
            fields.push(field(self.seconds, 0, 59, true));
        }
        fields.push(field(self.minutes, 0, 59, self.flags & MIN_STAR != 0));
        fields.push(field(self.hours.into(), 0, 23, self.flags & HR_STAR != 0));
        fields.push(field(self.days.into(), 1, 31, self.flags & DOM_STAR != 0));
        fields.push(field(self.months.into(), 1, 12, false));
        fields.push(field(
            self.weekdays.into(),
            0,
            6,
            self.flags & DOW_STAR != 0,
        ));
        fields.join(" ")
    }

    /// The bytes that identify the schedule (every field and the star flags that change its
    /// meaning), for a job's id.
    pub fn identity(&self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[..8].copy_from_slice(&self.seconds.to_le_bytes());
        out[8..16].copy_from_slice(&self.minutes.to_le_bytes());
        out[16..20].copy_from_slice(&self.hours.to_le_bytes());
        out[20..24].copy_from_slice(&self.days.to_le_bytes());
        out[24..26].copy_from_slice(&self.months.to_le_bytes());
        out[26] = self.weekdays;
        out[27] = self.flags;
        out
    }
}

impl Schedule {
    /// `@reboot`, or the fields (see [`Times::expression`]).
    pub fn expression(&self) -> String {
        match self {
            Schedule::Reboot => "@reboot".into(),
            Schedule::Times(t) => t.expression(),
        }
    }

    /// See [`Times::identity`]; `@reboot` is its name.
    pub fn identity(&self) -> Vec<u8> {
        match self {
            Schedule::Reboot => b"@reboot".to_vec(),
            Schedule::Times(t) => t.identity().to_vec(),
        }
    }
}

/// One field's values (bits `lo..=hi` of `bits`) in cron's words. `star`: it was written
/// with a leading `*`, so a full set is `*` and an even spread from the start is `*/n`.
fn field(bits: u64, lo: u32, hi: u32, star: bool) -> String {
    let values: Vec<u32> = (lo..=hi).filter(|&v| bits & (1 << v) != 0).collect();
    if values.len() == (hi - lo + 1) as usize {
        return "*".into();
    }
    if let Some(step) = even_step(&values) {
        if star && values[0] == lo && values[values.len() - 1] + step > hi {
            return format!("*/{step}");
        }
        if values.len() > 2 {
            let last = values[values.len() - 1];
            return format!("{}-{last}/{step}", values[0]);
        }
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j + 1 < values.len() && values[j + 1] == values[j] + 1 {
            j += 1;
        }
        parts.push(match j - i {
            0 => values[i].to_string(),
            1 => format!("{},{}", values[i], values[j]),
            _ => format!("{}-{}", values[i], values[j]),
        });
        i = j + 1;
    }
    parts.join(",")
}

/// The step between `values` when they are evenly spaced by more than one.
fn even_step(values: &[u32]) -> Option<u32> {
    let step = values.get(1)? - values[0];
    (step > 1 && values.windows(2).all(|w| w[1] - w[0] == step)).then_some(step)
}

#[cfg(test)]
mod tests {
    use crate::cron::parse_expr;

    fn render(expr: &str) -> String {
        parse_expr(expr).unwrap().expression()
    }

    #[test]
    fn a_schedule_renders_in_cron_words() {
        for (written, shown) in [
            ("* * * * *", "* * * * *"),
            ("*/15 * * * *", "*/15 * * * *"),
            ("0,15,30,45 * * * *", "0-45/15 * * * *"),
            ("0 9-17 * * 1-5", "0 9-17 * * 1-5"),
            ("30 2 1,15 * *", "30 2 1,15 * *"),
            ("0 0 * * 7", "0 0 * * 0"),
            ("5 4 * jan,jul sun", "5 4 * 1,7 0"),
            ("@daily", "0 0 * * *"),
            ("@reboot", "@reboot"),
            ("*/10 0 12 * * *", "*/10 0 12 * * *"),
            ("1,2,3,7 * * * *", "1-3,7 * * * *"),
            ("0 */6 * * *", "0 */6 * * *"),
        ] {
            assert_eq!(render(written), shown, "{written}");
        }
    }

    #[test]
    fn the_rendering_reads_back_as_the_same_schedule() {
        for expr in [
            "*/7 * * * *",
            "3-59/7 1 * * *",
            "0 0 29 2 *",
            "0 0 1-7 * mon",
            "*/5 2-4 * 1-6/2 *",
        ] {
            let schedule = parse_expr(expr).unwrap();
            assert_eq!(
                parse_expr(&schedule.expression()).unwrap(),
                schedule,
                "{expr}"
            );
        }
    }

    #[test]
    fn two_spellings_of_one_schedule_have_one_identity() {
        let a = parse_expr("0 0 * * *").unwrap().identity();
        assert_eq!(a, parse_expr("@daily").unwrap().identity());
        assert_eq!(a, parse_expr("00 00 * * *").unwrap().identity());
        // The star flag changes what the day fields mean, so it is part of the identity.
        assert_ne!(
            parse_expr("0 0 * * 0-6").unwrap().identity(),
            parse_expr("0 0 1-31 * 0-6").unwrap().identity()
        );
    }
}
