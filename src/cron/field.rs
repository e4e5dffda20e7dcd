//! One time field of a cron expression, parsed from text into a bit set.
//!
//! The grammar is cronie's (`entry.c`): a field is a comma list of values `N` and of `*` and
//! `A-B`, each with an optional `/STEP`. Months and weekdays also take three-letter names in
//! any case; day of week 7 is Sunday. Values out of the field's range and a zero step are
//! errors, as in cronie; a step wider than the field is legal but reported as a warning, since
//! only the first value can match.
//!
//! Where Debian's cron and cronie load a field that does not say what its author meant,
//! cronwright loads it too (a crontab they install must install here) and warns:
//! - `N/STEP`, which both refuse, is read as `N-max/STEP`, as crontab(5) describes it;
//! - a value with leading zeros (`0005`) is read as its number, as their `atoi` reads it;
//! - a backward range (`22-2`, `sat-sun`) wraps past the end of the field (22, 23, 0, 1, 2),
//!   which is what its author meant; they load it and never run it (cronie's current source
//!   reads `N-0` in the day of week as `N-7`, which is the same as wrapping).
//!
//! A field also remembers whether its text starts with `*`: cron's day-of-month/day-of-week
//! rule and its DST rules depend on that (cronie's `DOM_STAR`, `DOW_STAR`, `MIN_STAR`,
//! `HR_STAR` flags), not on which values the field ends up holding.

use std::fmt;

/// Which of the six fields a piece of text is. The order is the order on a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Second,
    Minute,
    Hour,
    DayOfMonth,
    Month,
    DayOfWeek,
}

pub(crate) const MONTH_NAMES: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const DAY_NAMES: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

impl FieldKind {
    /// The smallest and largest value written in this field (day of week allows 7 = Sunday).
    pub const fn bounds(self) -> (u8, u8) {
        match self {
            FieldKind::Second | FieldKind::Minute => (0, 59),
            FieldKind::Hour => (0, 23),
            FieldKind::DayOfMonth => (1, 31),
            FieldKind::Month => (1, 12),
            FieldKind::DayOfWeek => (0, 7),
        }
    }

    /// The field's name as people say it, for messages.
    pub const fn label(self) -> &'static str {
        match self {
            FieldKind::Second => "second",
            FieldKind::Minute => "minute",
            FieldKind::Hour => "hour",
            FieldKind::DayOfMonth => "day of month",
            FieldKind::Month => "month",
            FieldKind::DayOfWeek => "day of week",
        }
    }

    /// What the field accepts, for the "(expected ...)" part of messages.
    pub const fn expected(self) -> &'static str {
        match self {
            FieldKind::Second | FieldKind::Minute => "0-59",
            FieldKind::Hour => "0-23",
            FieldKind::DayOfMonth => "1-31",
            FieldKind::Month => "1-12 or jan-dec",
            FieldKind::DayOfWeek => "0-7 or sun-sat",
        }
    }

    fn names(self) -> &'static [&'static str] {
        match self {
            FieldKind::Month => &MONTH_NAMES,
            FieldKind::DayOfWeek => &DAY_NAMES,
            _ => &[],
        }
    }

    /// The value of a name in this field; names are matched case-insensitively, as cronie's
    /// `strcasecmp`, and only in their three-letter form.
    fn lookup_name(self, name: &str) -> Option<u8> {
        let offset = if self == FieldKind::Month { 1 } else { 0 };
        self.names()
            .iter()
            .position(|n| n.eq_ignore_ascii_case(name))
            .map(|i| i as u8 + offset)
    }
}

/// A parsed field: the set of values it matches, one bit per value, and whether it was
/// written starting with `*`. Day of week is normalised to 0-6 (7 folds into 0).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Field {
    pub bits: u64,
    pub star: bool,
}

impl Field {
    pub fn contains(&self, value: u32) -> bool {
        value < 64 && self.bits & (1u64 << value) != 0
    }
}

/// What went wrong in a field. The position is a byte offset into the field's text, so the
/// line parser can turn it into a column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    pub offset: usize,
    pub len: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FieldErrorKind {
    #[error("empty {field} field")]
    Empty { field: &'static str },
    #[error("expected a value ({expected}) in the {field} field, found {found}")]
    ExpectedValue {
        field: &'static str,
        expected: &'static str,
        found: String,
    },
    #[error("unknown {field} name '{name}' (expected {expected}){hint}")]
    UnknownName {
        field: &'static str,
        name: String,
        expected: &'static str,
        /// `"; did you mean 'jan'?"` when a name is close, else empty.
        hint: String,
    },
    #[error("{field} {value} is out of range (expected {expected})")]
    OutOfRange {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("expected a step number after '/', found {found}")]
    ExpectedStep { found: String },
    #[error("a step of 0 never advances (expected 1 or more)")]
    ZeroStep,
    #[error("unexpected {found} in the {field} field (expected ',', '-' or '/' between values)")]
    Unexpected { field: &'static str, found: String },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

/// Something legal but probably not meant, found while parsing a field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldWarning {
    pub message: String,
    pub offset: usize,
    pub len: usize,
}

/// Describes a piece of text for "found ..." messages: the token itself, or "the end".
fn describe(text: &str) -> String {
    match text.chars().next() {
        None => "the end of the field".to_string(),
        Some(_) => format!("'{text}'"),
    }
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
    kind: FieldKind,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn err(&self, kind: FieldErrorKind, offset: usize, len: usize) -> FieldError {
        FieldError {
            kind,
            offset,
            len: len.max(1),
        }
    }

    /// The run of bytes from `pos` that are not list punctuation: what a bad value "is".
    fn bad_token_end(&self) -> usize {
        let rest = &self.text.as_bytes()[self.pos..];
        let n = rest
            .iter()
            .position(|b| matches!(b, b',' | b'-' | b'/'))
            .unwrap_or(rest.len());
        self.pos
            + n.max(
                self.text[self.pos..]
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8),
            )
    }

    /// A number or (for months and weekdays) a name, checked against the field's bounds.
    fn value(&mut self) -> Result<u32, FieldError> {
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let (lo, hi) = self.kind.bounds();
        if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            while self.peek().is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            }
            let digits = &self.text[start..self.pos];
            // Leading zeros are read away, as atoi does; more than three significant digits
            // cannot be in range for any field, and would overflow.
            let significant = digits.trim_start_matches('0');
            let value = if significant.len() > 3 {
                u32::MAX
            } else {
                significant.parse::<u32>().unwrap_or(0)
            };
            if value < lo as u32 || value > hi as u32 {
                return Err(self.err(
                    FieldErrorKind::OutOfRange {
                        field: self.kind.label(),
                        value: digits.to_string(),
                        expected: self.kind.expected(),
                    },
                    start,
                    self.pos - start,
                ));
            }
            return Ok(value);
        }
        if self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
            while self.peek().is_some_and(|b| b.is_ascii_alphabetic()) {
                self.pos += 1;
            }
            let name = &self.text[start..self.pos];
            if self.kind.names().is_empty() {
                return Err(self.err(
                    FieldErrorKind::ExpectedValue {
                        field: self.kind.label(),
                        expected: self.kind.expected(),
                        found: describe(name),
                    },
                    start,
                    self.pos - start,
                ));
            }
            return self.kind.lookup_name(name).map(u32::from).ok_or_else(|| {
                self.err(
                    FieldErrorKind::UnknownName {
                        field: self.kind.label(),
                        name: name.to_string(),
                        expected: self.kind.expected(),
                        hint: crate::suggest::did_you_mean(name, self.kind.names().iter().copied()),
                    },
                    start,
                    self.pos - start,
                )
            });
        }
        let end = if bytes.len() > start {
            self.bad_token_end()
        } else {
            start
        };
        Err(self.err(
            FieldErrorKind::ExpectedValue {
                field: self.kind.label(),
                expected: self.kind.expected(),
                found: describe(&self.text[start..end]),
            },
            start,
            end - start,
        ))
    }

    fn step(&mut self) -> Result<(u32, usize, usize), FieldError> {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        if self.pos == start {
            let end = if self.pos < self.text.len() {
                self.bad_token_end()
            } else {
                start
            };
            return Err(self.err(
                FieldErrorKind::ExpectedStep {
                    found: describe(&self.text[start..end]),
                },
                start,
                end - start,
            ));
        }
        let digits = &self.text[start..self.pos];
        let step = if digits.len() > 4 {
            u32::MAX
        } else {
            digits.parse::<u32>().unwrap_or(u32::MAX)
        };
        if step == 0 {
            return Err(self.err(FieldErrorKind::ZeroStep, start, self.pos - start));
        }
        Ok((step, start, self.pos - start))
    }
}

/// Whether `text`, a field's item, holds a number written with more digits than any field
/// needs (`0005`), and where the first one starts.
fn padded_number(text: &str) -> Option<(usize, usize)> {
    // Bytes, not chars: an ASCII digit is never part of a multi-byte character, and the
    // offsets must be byte offsets whatever surrounds the digits.
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        if i - start > 2 && bytes[start] == b'0' {
            return Some((start, i - start));
        }
        i = i.max(start + 1);
    }
    None
}

/// How to write the backward range `a-b` so that every cron reads it as cronwright does:
/// `22-23,0-2`; `6-7` for a day-of-week range that ends on Sunday (`sat-sun`).
fn wrapped(kind: FieldKind, a: u32, b: u32, lo: u32, top: u32) -> String {
    if kind == FieldKind::DayOfWeek && b == 0 {
        return format!("{a}-7");
    }
    let part = |from: u32, to: u32| {
        if from == to {
            from.to_string()
        } else {
            format!("{from}-{to}")
        }
    };
    format!("{},{}", part(a, top), part(lo, b))
}

/// `*` or a number of one or two digits within the field's bounds, which is most fields of
/// most crontabs: such a field has nothing to warn about, so a big crontab's load need not
/// take it through the general parser. Anything else is `None`, for the general parser.
fn plain_field(text: &str, kind: FieldKind) -> Option<Field> {
    let (lo, hi) = kind.bounds();
    let value = match *text.as_bytes() {
        [b'*'] => {
            let bits = (u64::MAX >> (63 - hi)) & (u64::MAX << lo);
            return Some(Field {
                bits: fold_sunday(kind, bits),
                star: true,
            });
        }
        [d] if d.is_ascii_digit() => d - b'0',
        [a, b] if a.is_ascii_digit() && b.is_ascii_digit() => (a - b'0') * 10 + (b - b'0'),
        _ => return None,
    };
    (lo..=hi).contains(&value).then(|| Field {
        bits: fold_sunday(kind, 1u64 << value),
        star: false,
    })
}

/// Day of week 7 is Sunday, which is 0.
fn fold_sunday(kind: FieldKind, bits: u64) -> u64 {
    if kind == FieldKind::DayOfWeek && bits & (1 << 7) != 0 {
        (bits | 1) & 0x7f
    } else {
        bits
    }
}

/// Parses one field. Warnings (legal but surprising) are pushed to `warnings`.
pub fn parse_field(
    text: &str,
    kind: FieldKind,
    warnings: &mut Vec<FieldWarning>,
) -> Result<Field, FieldError> {
    match plain_field(text, kind) {
        Some(field) => Ok(field),
        None => parse_any(text, kind, warnings),
    }
}

/// [`parse_field`] for any text: the whole grammar, its warnings and its errors.
fn parse_any(
    text: &str,
    kind: FieldKind,
    warnings: &mut Vec<FieldWarning>,
) -> Result<Field, FieldError> {
    if text.is_empty() {
        return Err(FieldError {
            kind: FieldErrorKind::Empty {
                field: kind.label(),
            },
            offset: 0,
            len: 1,
        });
    }
    let (lo, hi) = kind.bounds();
    // The values a wrapping range goes round: day of week 7 is Sunday again, so it wraps
    // after Saturday.
    let top = if kind == FieldKind::DayOfWeek {
        6
    } else {
        hi as u32
    };
    let mut c = Cursor { text, pos: 0, kind };
    let mut bits = 0u64;
    if let Some((at, len)) = padded_number(text) {
        let padded = &text[at..at + len];
        let value = padded.trim_start_matches('0');
        warnings.push(FieldWarning {
            message: format!(
                "'{padded}' is read as {}, as Debian's cron and cronie read it; write {}",
                if value.is_empty() { "0" } else { value },
                if value.is_empty() { "0" } else { value },
            ),
            offset: at,
            len,
        });
    }
    loop {
        let item_start = c.pos;
        // `single` is whether the item was written as one value, `N`: only that form takes
        // its end from a step. It comes from the text, not from the bounds, since `5-5/10`
        // has equal bounds and still means just 5.
        let (first, mut last, single) = if c.peek() == Some(b'*') {
            c.pos += 1;
            (lo as u32, hi as u32, false)
        } else {
            let a = c.value()?;
            if c.peek() == Some(b'-') {
                c.pos += 1;
                let b = c.value()?;
                // `N-7` in the day of week ends on Sunday, like `N-0`: not backward.
                if a > b && !(kind == FieldKind::DayOfWeek && b == 0 && a == 7) {
                    let range = &text[item_start..c.pos];
                    let wrapped = wrapped(kind, a, b, lo as u32, top);
                    warnings.push(FieldWarning {
                        message: format!(
                            "range {range} runs backwards: Debian's cron and cronie load it \
                             and may never run it; cronwright reads it as {wrapped}, going \
                             round past the end of the field; write {wrapped} to say so to \
                             every cron"
                        ),
                        offset: item_start,
                        len: c.pos - item_start,
                    });
                }
                (a, b, false)
            } else {
                (a, a, true)
            }
        };
        let mut step = 1;
        if c.peek() == Some(b'/') {
            c.pos += 1;
            let (s, s_at, s_len) = c.step()?;
            step = s;
            if single {
                // `N/STEP` means from N to the end of the field, as crontab(5) describes it;
                // Debian's cron and cronie refuse the form (a step only after `*` or a range).
                last = hi as u32;
                warnings.push(FieldWarning {
                    message: format!(
                        "a step without a range: Debian's cron and cronie refuse this line; \
                         write {first}-{last}/{step}, which is how cronwright reads it"
                    ),
                    offset: item_start,
                    len: c.pos - item_start,
                });
            } else if last > first && step > last - first {
                warnings.push(FieldWarning {
                    message: format!(
                        "step {step} is wider than the range {first}-{last}, so only {first} matches"
                    ),
                    offset: s_at,
                    len: s_len,
                });
            }
        }
        if first <= last {
            let mut v = first;
            while v <= last {
                bits |= 1u64 << v;
                v = v.saturating_add(step);
            }
        } else {
            // A backward range goes round: first..=top, then lo..=last, stepping across the
            // wrap as if the values went on.
            let span = top + 1 - lo as u32;
            let count = (last + span - first) % span + 1;
            let mut i = 0;
            while i < count {
                bits |= 1u64 << (lo as u32 + (first - lo as u32 + i) % span);
                i = i.saturating_add(step);
            }
        }
        match c.peek() {
            None => break,
            Some(b',') => {
                c.pos += 1;
                if c.peek().is_none() {
                    return Err(c.err(
                        FieldErrorKind::ExpectedValue {
                            field: kind.label(),
                            expected: kind.expected(),
                            found: "the end of the field".into(),
                        },
                        c.pos - 1,
                        1,
                    ));
                }
            }
            Some(_) => {
                let at = c.pos;
                let ch = text[at..].chars().next().unwrap_or(' ');
                return Err(c.err(
                    FieldErrorKind::Unexpected {
                        field: kind.label(),
                        found: format!("'{ch}'"),
                    },
                    at,
                    ch.len_utf8(),
                ));
            }
        }
    }
    Ok(Field {
        bits: fold_sunday(kind, bits),
        star: text.starts_with('*'),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, kind: FieldKind) -> Result<u64, String> {
        let mut w = Vec::new();
        parse_field(text, kind, &mut w)
            .map(|f| f.bits)
            .map_err(|e| e.to_string())
    }

    fn set(values: &[u32]) -> u64 {
        values.iter().fold(0, |acc, v| acc | 1 << v)
    }

    #[test]
    fn star_step_range_and_list_forms() {
        use FieldKind::*;
        assert_eq!(parse("*", Hour).unwrap(), (1 << 24) - 1);
        assert_eq!(parse("*/20", Minute).unwrap(), set(&[0, 20, 40]));
        assert_eq!(parse("10-20/5", Minute).unwrap(), set(&[10, 15, 20]));
        assert_eq!(parse("50/5", Minute).unwrap(), set(&[50, 55]));
        assert_eq!(parse("5-5/10", Minute).unwrap(), set(&[5]));
        assert_eq!(
            parse("1,3-4,10/20", DayOfMonth).unwrap(),
            set(&[1, 3, 4, 10, 30])
        );
    }

    #[test]
    fn names_are_case_insensitive_and_sunday_is_0_or_7() {
        use FieldKind::*;
        assert_eq!(parse("JAN,Mar-may", Month).unwrap(), set(&[1, 3, 4, 5]));
        assert_eq!(parse("7", DayOfWeek).unwrap(), set(&[0]));
        assert_eq!(parse("fri-7", DayOfWeek).unwrap(), set(&[0, 5, 6]));
        assert_eq!(parse("*/2", DayOfWeek).unwrap(), set(&[0, 2, 4, 6]));
    }

    #[test]
    fn errors_say_what_was_expected_and_found() {
        use FieldKind::*;
        assert_eq!(
            parse("jna", Month).unwrap_err(),
            "unknown month name 'jna' (expected 1-12 or jan-dec); did you mean 'jan'?"
        );
        assert_eq!(
            parse("60", Minute).unwrap_err(),
            "minute 60 is out of range (expected 0-59)"
        );
        assert!(parse("*/0", Hour).unwrap_err().contains("step of 0"));
        assert!(
            parse("1,", Hour)
                .unwrap_err()
                .contains("the end of the field")
        );
        assert!(parse("monday", DayOfWeek).unwrap_err().contains("'monday'"));
        assert!(parse("5x", Minute).unwrap_err().contains("'x'"));
        assert!(parse("*-5", Minute).unwrap_err().contains("'-'"));
    }

    /// The bits of `text` and the warnings it gives.
    fn read(text: &str, kind: FieldKind) -> (Vec<u32>, Vec<String>) {
        let mut w = Vec::new();
        let f = parse_field(text, kind, &mut w).unwrap();
        let values = (0..64).filter(|&v| f.contains(v)).collect();
        (values, w.into_iter().map(|w| w.message).collect())
    }

    #[test]
    fn backward_ranges_go_round_the_field_with_a_warning() {
        use FieldKind::*;
        let (values, warnings) = read("22-2", Hour);
        assert_eq!(values, vec![0, 1, 2, 22, 23]);
        assert_eq!(
            warnings,
            vec![
                "range 22-2 runs backwards: Debian's cron and cronie load it and may never run \
                 it; cronwright reads it as 22-23,0-2, going round past the end of the field; \
                 write 22-23,0-2 to say so to every cron"
            ]
        );
        assert_eq!(read("sat-sun", DayOfWeek).0, vec![0, 6]);
        assert!(read("sat-sun", DayOfWeek).1[0].contains("write 6-7 "));
        assert_eq!(read("mon-sun", DayOfWeek).0, vec![0, 1, 2, 3, 4, 5, 6]);
        assert_eq!(read("fri-tue", DayOfWeek).0, vec![0, 1, 2, 5, 6]);
        assert_eq!(read("7-2", DayOfWeek).0, vec![0, 1, 2]);
        // `N-7` ends on Sunday: forward, no warning.
        assert_eq!(read("5-7", DayOfWeek), (vec![0, 5, 6], vec![]));
        // A step counts on across the wrap: 22, 0, 2.
        assert_eq!(read("22-2/2", Hour).0, vec![0, 2, 22]);
        assert_eq!(read("nov-feb", Month).0, vec![1, 2, 11, 12]);
        assert_eq!(read("30-1", DayOfMonth).0, vec![1, 30, 31]);
    }

    #[test]
    fn padded_numbers_are_read_as_other_crons_read_them_with_a_warning() {
        use FieldKind::*;
        let (values, warnings) = read("0005", Minute);
        assert_eq!(values, vec![5]);
        assert_eq!(
            warnings,
            vec!["'0005' is read as 5, as Debian's cron and cronie read it; write 5"]
        );
        // Two digits are how people write times: no warning.
        assert_eq!(read("05", Minute), (vec![5], vec![]));
        assert_eq!(read("1,0010", Hour).0, vec![1, 10]);
        assert_eq!(read("000", Hour).0, vec![0]);
        assert!(parse("0060", Minute).unwrap_err().contains("out of range"));
    }

    #[test]
    fn a_padded_number_after_a_multibyte_character_is_found_where_it_is() {
        // Found by the fuzzer: the warning's offset was counted in characters.
        for text in ["\u{ff}0059", "é0005", "0005,é", "\u{1F600}-0001"] {
            let mut w = Vec::new();
            let _ = parse_field(text, FieldKind::Minute, &mut w);
            for warning in &w {
                assert!(text.is_char_boundary(warning.offset), "{text}: {warning:?}");
            }
        }
        assert_eq!(padded_number("é0005"), Some((2, 4)));
    }

    #[test]
    fn a_step_without_a_range_says_the_peers_refuse_it() {
        let (values, warnings) = read("5/60", FieldKind::Minute);
        assert_eq!(values, vec![5]);
        assert_eq!(
            warnings,
            vec![
                "a step without a range: Debian's cron and cronie refuse this line; write \
                 5-59/60, which is how cronwright reads it"
            ]
        );
        assert_eq!(read("10/20", FieldKind::Minute).0, vec![10, 30, 50]);
    }

    #[test]
    fn error_offsets_point_into_the_field() {
        let mut w = Vec::new();
        let e = parse_field("1,5,jna", FieldKind::Month, &mut w).unwrap_err();
        assert_eq!((e.offset, e.len), (4, 3));
    }

    #[test]
    fn plain_fields_read_as_the_whole_grammar_reads_them() {
        use FieldKind::*;
        let texts = ["*".to_string()]
            .into_iter()
            .chain((0..100).map(|v| v.to_string()))
            .chain((0..10).map(|v| format!("0{v}")));
        for text in texts {
            for kind in [Second, Minute, Hour, DayOfMonth, Month, DayOfWeek] {
                let mut w = Vec::new();
                let any = parse_any(&text, kind, &mut w);
                match plain_field(&text, kind) {
                    Some(plain) => {
                        assert_eq!(Ok(plain), any, "{text} as {kind:?}");
                        assert!(w.is_empty(), "{text} as {kind:?}: {w:?}");
                    }
                    // Only values out of range are left to the whole grammar (for its error).
                    None => assert!(any.is_err(), "{text} as {kind:?}"),
                }
            }
        }
    }

    #[test]
    fn wide_step_is_a_warning_not_an_error() {
        let mut w = Vec::new();
        let f = parse_field("*/90", FieldKind::Minute, &mut w).unwrap();
        assert_eq!(f.bits, 1);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].offset, 2);
    }
}
