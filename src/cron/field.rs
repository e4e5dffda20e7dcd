//! One time field of a cron expression, parsed from text into a bit set.
//!
//! The grammar is cronie's (`entry.c`): a field is a comma list of values `N` and of `*` and
//! `A-B`, each with an optional `/STEP`. cronwright also takes `N/STEP`, meaning `N-max/STEP`,
//! which cronie refuses. Months and weekdays also take three-letter names in any case; day of
//! week 7 is Sunday. Values out of the field's range, backward ranges and a zero step are
//! errors, as in cronie; a step wider than the field is legal but reported as a warning, since
//! only the first value can match.
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
    #[error("unknown {field} name '{name}' (expected {expected})")]
    UnknownName {
        field: &'static str,
        name: String,
        expected: &'static str,
    },
    #[error("{field} {value} is out of range (expected {expected})")]
    OutOfRange {
        field: &'static str,
        value: String,
        expected: &'static str,
    },
    #[error("range {start}-{end} runs backwards: its start is after its end")]
    Backwards { start: u32, end: u32 },
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
            // More than three digits cannot be in range for any field; avoid overflow too.
            let value = if digits.len() > 3 {
                u32::MAX
            } else {
                digits.parse::<u32>().unwrap_or(u32::MAX)
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

/// Parses one field. Warnings (legal but surprising) are pushed to `warnings`.
pub fn parse_field(
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
    let mut c = Cursor { text, pos: 0, kind };
    let mut bits = 0u64;
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
                if a > b {
                    return Err(c.err(
                        FieldErrorKind::Backwards { start: a, end: b },
                        item_start,
                        c.pos - item_start,
                    ));
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
                // `N/STEP` means from N to the end of the field. cronie refuses this form
                // (it takes a step only after `*` or a range); the meaning is the one
                // crontab(5) documents.
                last = hi as u32;
            }
            if step > last - first && last > first {
                warnings.push(FieldWarning {
                    message: format!(
                        "step {step} is wider than the range {first}-{last}, so only {first} matches"
                    ),
                    offset: s_at,
                    len: s_len,
                });
            }
        }
        let mut v = first;
        while v <= last {
            bits |= 1u64 << v;
            v = v.saturating_add(step);
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
    if kind == FieldKind::DayOfWeek && bits & (1 << 7) != 0 {
        bits = (bits | 1) & 0x7f;
    }
    Ok(Field {
        bits,
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
            "unknown month name 'jna' (expected 1-12 or jan-dec)"
        );
        assert_eq!(
            parse("60", Minute).unwrap_err(),
            "minute 60 is out of range (expected 0-59)"
        );
        assert!(parse("22-2", Hour).unwrap_err().contains("backwards"));
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

    #[test]
    fn error_offsets_point_into_the_field() {
        let mut w = Vec::new();
        let e = parse_field("1,5,jna", FieldKind::Month, &mut w).unwrap_err();
        assert_eq!((e.offset, e.len), (4, 3));
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
