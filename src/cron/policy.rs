//! Job policies: what a run does when the previous one still runs, how long it may take,
//! whether a run missed while the daemon was down is made up, a stable delay, when output is
//! mailed, and the job's name. They are written as environment lines (`CRON_OVERLAP=skip`)
//! that apply to the entries below them, as `CRON_TZ` does, so that another cron passes them
//! to the job as harmless variables; OpenBSD's command flags (`-n`, `-q`, `-s`) set some of
//! them too.
//!
//! Pure: values are read from `&str` into [`Policy`], each bad value an error naming what is
//! accepted. What the daemon does with a policy lives with the daemon.

use std::fmt;

/// What a run due while the previous run of its job still runs does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Overlap {
    /// Start anyway (cron's way).
    Allow,
    /// Do not start; say so.
    Skip,
    /// Start when the running one ends; at most one waits.
    Queue,
    /// Stop the running one (its process group), then start.
    Replace,
}

/// Whether a run missed while the daemon was not running is made up at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Catchup {
    Off,
    /// The most recent missed run, once; never a backlog.
    Once,
}

/// When a run's output is mailed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailWhen {
    /// Every run, with or without output.
    Always,
    /// Runs with output (cron's way).
    Output,
    /// Runs that fail (a status other than 0, or a timeout), with their output if any.
    Failure,
    /// OpenBSD's `-n`: runs with output, except successful ones.
    OutputUnlessSuccess,
    Never,
}

/// Where a run's output goes as it comes (`CRON_OUTPUT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OutputMode {
    /// OUT lines once the run is over (cron's way: the log, then the mail).
    Log,
    /// Each line to the daemon's stdout as it comes; the log has no OUT lines.
    Passthrough,
}

/// The policies in force for one entry. `None` leaves a policy to the daemon's default
/// (`[jobs]` in its configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Policy {
    pub overlap: Option<Overlap>,
    /// Seconds; `Some(0)` is "no timeout", said on purpose.
    pub timeout_secs: Option<u32>,
    pub catchup: Option<Catchup>,
    /// Seconds: each run starts a fixed offset in `[0, jitter)` after its time.
    pub jitter_secs: u32,
    pub mail: Option<MailWhen>,
    /// `CRON_NAME`: the entry's name, for status, history and metrics.
    pub name: Option<String>,
    pub output: Option<OutputMode>,
}

impl Policy {
    /// Whether nothing is set: the entry runs as cron runs it.
    pub fn is_default(&self) -> bool {
        *self == Policy::default()
    }
}

/// The policy lines, in the order the man page lists them.
pub const POLICY_NAMES: [&str; 7] = [
    "CRON_OVERLAP",
    "CRON_TIMEOUT",
    "CRON_CATCHUP",
    "CRON_JITTER",
    "CRON_MAIL",
    "CRON_NAME",
    "CRON_OUTPUT",
];

/// The `CRON_*` names cron itself reads, beside the policies: a name close to one of these is
/// a typo too.
pub const OTHER_CRON_NAMES: [&str; 1] = ["CRON_TZ"];

const OVERLAP: [(&str, Overlap); 4] = [
    ("allow", Overlap::Allow),
    ("skip", Overlap::Skip),
    ("queue", Overlap::Queue),
    ("replace", Overlap::Replace),
];
const OUTPUT: [(&str, OutputMode); 2] = [
    ("log", OutputMode::Log),
    ("passthrough", OutputMode::Passthrough),
];
const CATCHUP: [(&str, Catchup); 2] = [("off", Catchup::Off), ("once", Catchup::Once)];
const MAIL: [(&str, MailWhen); 4] = [
    ("always", MailWhen::Always),
    ("output", MailWhen::Output),
    ("failure", MailWhen::Failure),
    ("never", MailWhen::Never),
];

impl fmt::Display for Overlap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(word(&OVERLAP, *self))
    }
}

impl fmt::Display for OutputMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(word(&OUTPUT, *self))
    }
}

impl fmt::Display for Catchup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(word(&CATCHUP, *self))
    }
}

impl fmt::Display for MailWhen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MailWhen::OutputUnlessSuccess => f.write_str("output-unless-success"),
            other => f.write_str(word(&MAIL, *other)),
        }
    }
}

fn word<T: PartialEq + Copy>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(w, _)| w)
}

/// `CRON_OVERLAP`'s value, with `label` naming it in the error.
pub fn parse_overlap(label: &str, value: &str) -> Result<Overlap, String> {
    one_of(label, value, &OVERLAP)
}

/// `CRON_CATCHUP`'s value, with `label` naming it in the error.
pub fn parse_catchup(label: &str, value: &str) -> Result<Catchup, String> {
    one_of(label, value, &CATCHUP)
}

/// `CRON_MAIL`'s value, with `label` naming it in the error.
pub fn parse_mail(label: &str, value: &str) -> Result<MailWhen, String> {
    one_of(label, value, &MAIL)
}

/// One of `table`'s words, or an error that lists them (and the closest, if one is close).
fn one_of<T: Copy>(name: &str, value: &str, table: &[(&str, T)]) -> Result<T, String> {
    if let Some((_, v)) = table.iter().find(|(w, _)| *w == value) {
        return Ok(*v);
    }
    let words: Vec<&str> = table.iter().map(|(w, _)| *w).collect();
    Err(format!(
        "{name} must be one of {}, found '{value}'{}",
        words.join(", "),
        crate::suggest::did_you_mean(value, words.iter().copied())
    ))
}

/// A duration as policies write it: a whole number with `s`, `m`, `h` or `d`. A bare number
/// is refused (`0` aside, where `zero_ok`): cronie's `RANDOM_DELAY` counts minutes, and a
/// reader should never have to guess which unit a policy meant.
pub fn parse_duration(name: &str, value: &str, zero_ok: bool) -> Result<u32, String> {
    if zero_ok && value == "0" {
        return Ok(0);
    }
    let form = "a whole number with s, m, h or d, such as 90s, 30m, 2h or 1d";
    let split = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    let (digits, unit) = value.split_at(split);
    let scale: u64 = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" if !digits.is_empty() => {
            return Err(format!(
                "{name} needs a unit: '{value}' could be seconds or minutes (RANDOM_DELAY \
                 counts minutes); write {value}s or {value}m"
            ));
        }
        _ => return Err(format!("{name} must be {form}, found '{value}'")),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{name} must be {form}, found '{value}'"))?;
    u32::try_from(n * scale)
        .ok()
        .filter(|&secs| secs <= 366 * 86_400)
        .ok_or_else(|| format!("{name} is too long: '{value}' (at most 366d)"))
}

/// Sets the policy `name` (one of [`POLICY_NAMES`]) from its value, as an environment line
/// below which it applies. An empty value goes back to the default. `Ok(false)` when `name`
/// is no policy.
pub fn set(policy: &mut Policy, name: &str, value: &str) -> Result<bool, String> {
    let value = value.trim();
    let empty = value.is_empty();
    match name {
        "CRON_OVERLAP" => {
            policy.overlap = if empty {
                None
            } else {
                Some(one_of(name, value, &OVERLAP)?)
            }
        }
        "CRON_TIMEOUT" => {
            policy.timeout_secs = if empty {
                None
            } else {
                Some(parse_duration(name, value, true)?)
            }
        }
        "CRON_CATCHUP" => {
            policy.catchup = if empty {
                None
            } else {
                Some(one_of(name, value, &CATCHUP)?)
            }
        }
        "CRON_JITTER" => {
            policy.jitter_secs = if empty {
                0
            } else {
                parse_duration(name, value, true)?
            }
        }
        "CRON_MAIL" => {
            policy.mail = if empty {
                None
            } else {
                Some(one_of(name, value, &MAIL)?)
            }
        }
        "CRON_OUTPUT" => {
            policy.output = if empty {
                None
            } else {
                Some(one_of(name, value, &OUTPUT)?)
            }
        }
        "CRON_NAME" => {
            let ok = value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
            if !ok {
                return Err(format!(
                    "CRON_NAME must be 1 to 64 of A-Z, a-z, 0-9, '_', '.' and '-', found \
                     '{value}'"
                ));
            }
            policy.name = (!empty).then(|| value.to_string());
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The policies of `policy` that differ from cron's way, as `name=value` words for `list` and
/// `check`, or nothing.
pub fn describe(policy: &Policy) -> String {
    let mut words = Vec::new();
    if let Some(name) = &policy.name {
        words.push(format!("name={name}"));
    }
    if let Some(o) = policy.overlap {
        words.push(format!("overlap={o}"));
    }
    if let Some(t) = policy.timeout_secs {
        words.push(format!("timeout={}", show_secs(t)));
    }
    if let Some(c) = policy.catchup {
        words.push(format!("catchup={c}"));
    }
    if policy.jitter_secs != 0 {
        words.push(format!("jitter={}", show_secs(policy.jitter_secs)));
    }
    if let Some(m) = policy.mail {
        words.push(format!("mail={m}"));
    }
    if let Some(o) = policy.output {
        words.push(format!("output={o}"));
    }
    words.join(" ")
}

/// Seconds in the largest unit that writes them whole: `90s`, `30m`, `2h`, `1d`.
pub fn show_secs(secs: u32) -> String {
    match secs {
        0 => "0".to_string(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit_and_stay_in_range() {
        assert_eq!(parse_duration("CRON_TIMEOUT", "90s", false), Ok(90));
        assert_eq!(parse_duration("CRON_TIMEOUT", "30m", false), Ok(1800));
        assert_eq!(parse_duration("CRON_TIMEOUT", "2h", false), Ok(7200));
        assert_eq!(parse_duration("CRON_TIMEOUT", "1d", false), Ok(86_400));
        assert_eq!(parse_duration("CRON_TIMEOUT", "0", true), Ok(0));
        assert!(
            parse_duration("CRON_JITTER", "5", true)
                .unwrap_err()
                .contains("needs a unit: '5' could be seconds or minutes")
        );
        for bad in ["5x", "m", "-5m", "1.5h", "", "1h30m"] {
            assert!(parse_duration("CRON_TIMEOUT", bad, true).is_err(), "{bad}");
        }
        assert!(
            parse_duration("CRON_TIMEOUT", "367d", true)
                .unwrap_err()
                .contains("too long")
        );
        assert!(parse_duration("CRON_TIMEOUT", "99999999999999999999d", true).is_err());
    }

    #[test]
    fn values_are_checked_and_empty_goes_back_to_the_default() {
        let mut p = Policy::default();
        assert_eq!(set(&mut p, "CRON_OVERLAP", "skip"), Ok(true));
        assert_eq!(set(&mut p, "CRON_MAIL", "failure"), Ok(true));
        assert_eq!(set(&mut p, "CRON_TIMEOUT", "2h"), Ok(true));
        assert_eq!(set(&mut p, "CRON_NAME", "nightly-backup"), Ok(true));
        assert_eq!(
            describe(&p),
            "name=nightly-backup overlap=skip timeout=2h mail=failure"
        );
        assert_eq!(set(&mut p, "CRON_OVERLAP", ""), Ok(true));
        assert_eq!(p.overlap, None);
        assert_eq!(
            set(&mut p, "CRON_OVERLAP", "skp"),
            Err(
                "CRON_OVERLAP must be one of allow, skip, queue, replace, found 'skp'; did \
                 you mean 'skip'?"
                    .to_string()
            )
        );
        assert!(set(&mut p, "CRON_NAME", "two words").is_err());
        assert_eq!(set(&mut p, "PATH", "/bin"), Ok(false));
    }
}
