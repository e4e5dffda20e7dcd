//! How an event, described once as a [`Shape`], becomes its text line and its JSON object.
//! Each event lists its fields once (in event.rs); the two renderers here walk that list, so
//! the text and the JSON can never disagree on what an event carries.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Map, Number, Value};

use super::escape::{cap_command, command_for_log, escape_controls, kv};

/// What one event says, each of its fields listed once, in line order. The text line is
/// `[(user) ]TAG[ (command)][ sentence][ key=value…][ | tail]`; the JSON object carries the
/// same values under their keys.
#[derive(Default)]
pub(super) struct Shape<'a> {
    /// The job's user, in parentheses before the tag (`user` in JSON).
    pub(super) user: Option<&'a str>,
    /// The job's command, in parentheses after the tag (`command` in JSON); cut to
    /// 200 characters in both.
    pub(super) command: Option<&'a str>,
    /// Free text right after the tag: `/etc/crontab: is a symlink`.
    pub(super) sentence: Vec<Seg<'a>>,
    /// JSON also carries the sentence whole, as `text`.
    pub(super) sentence_is_text: bool,
    /// The ` key=value` pairs, and the keys only JSON has.
    pub(super) fields: Vec<Field<'a>>,
    /// Free text after ` | `, to the end of the line.
    pub(super) tail: Vec<Seg<'a>>,
}

/// A value of a line: a string (escaped in the text line, and quoted too in a `key=value`)
/// or a number.
#[derive(Clone)]
pub(super) enum Val<'a> {
    Str(Cow<'a, str>),
    Num(Number),
    /// Left out of the text line; `null` in JSON.
    Null,
}

/// A piece of free text: fixed wording, or a value JSON carries under its key.
pub(super) enum Seg<'a> {
    Word(&'static str),
    Value(&'static str, Val<'a>),
}

/// A ` key=value` of the text line, a key of the JSON object, or both.
pub(super) enum Field<'a> {
    /// The same key and value in both; a [`Val::Null`] is left out of the line.
    Both(&'static str, Val<'a>),
    /// Only in the text line, already worded (`duration=1.532s`).
    Line(&'static str, String),
    /// Only in JSON.
    Json(&'static str, Value),
}

pub(super) fn both<'a>(key: &'static str, value: impl Into<Val<'a>>) -> Field<'a> {
    Field::Both(key, value.into())
}

pub(super) fn line_only(key: &'static str, worded: String) -> Field<'static> {
    Field::Line(key, worded)
}

pub(super) fn json_only(key: &'static str, value: impl Into<Value>) -> Field<'static> {
    Field::Json(key, value.into())
}

/// The values of a [`words`] template, each under its own name: `values![file, line]` is
/// `[("file", file.into()), ("line", line.into())]`.
macro_rules! values {
    ($($name:ident),* $(,)?) => {
        [$((stringify!($name), $crate::log::shape::Val::from($name))),*]
    };
}
pub(super) use values;

/// Free text from a template whose `{key}` placeholders name the values. A placeholder with
/// no value stays as it is written, so a slip in a template shows in its line rather than
/// taking the daemon down.
pub(super) fn words<'a, const N: usize>(
    template: &'static str,
    values: [(&'static str, Val<'a>); N],
) -> Vec<Seg<'a>> {
    let mut segs = Vec::new();
    let mut rest = template;
    while let Some((before, after)) = rest.split_once('{') {
        let Some((key, after)) = after.split_once('}') else {
            break;
        };
        let Some((key, value)) = values.iter().find(|(k, _)| *k == key) else {
            debug_assert!(false, "no value for {{{key}}} in {template:?}");
            segs.push(Seg::Word(&rest[..before.len() + key.len() + 2]));
            rest = after;
            continue;
        };
        if !before.is_empty() {
            segs.push(Seg::Word(before));
        }
        segs.push(Seg::Value(key, value.clone()));
        rest = after;
    }
    if !rest.is_empty() {
        segs.push(Seg::Word(rest));
    }
    segs
}

impl<'a> Shape<'a> {
    pub(super) fn job(user: &'a str, command: &'a str) -> Shape<'a> {
        Shape {
            user: Some(user),
            command: Some(command),
            ..Shape::default()
        }
    }

    /// A line that is all free text (a [`words`] template), carried whole in JSON as `text`
    /// too.
    pub(super) fn sentence<const N: usize>(
        template: &'static str,
        values: [(&'static str, Val<'a>); N],
    ) -> Shape<'a> {
        Shape {
            sentence: words(template, values),
            sentence_is_text: true,
            ..Shape::default()
        }
    }

    pub(super) fn line(&self, tag: &str) -> String {
        let mut s = String::new();
        if let Some(user) = self.user {
            s.push('(');
            s.push_str(&escape_controls(user));
            s.push_str(") ");
        }
        s.push_str(tag);
        if let Some(command) = self.command {
            s.push_str(" (");
            s.push_str(&command_for_log(command));
            s.push(')');
        }
        if !self.sentence.is_empty() {
            s.push(' ');
            write_segs(&mut s, &self.sentence, |v| v.escaped());
        }
        for field in &self.fields {
            match field {
                Field::Both(_, Val::Null) | Field::Json(..) => {}
                Field::Both(key, value) => {
                    let _ = write!(s, " {key}={}", value.key_value());
                }
                Field::Line(key, worded) => {
                    let _ = write!(s, " {key}={worded}");
                }
            }
        }
        if !self.tail.is_empty() {
            s.push_str(" | ");
            write_segs(&mut s, &self.tail, |v| v.escaped());
        }
        s
    }

    pub(super) fn fill_json(&self, m: &mut Map<String, Value>) {
        if let Some(user) = self.user {
            m.insert("user".into(), user.into());
        }
        if let Some(command) = self.command {
            m.insert("command".into(), cap_command(command).into());
        }
        // A value of the free text that is a field too (START's `runs_as`) is the same value
        // under the same key, so inserting it twice changes nothing.
        for seg in self.sentence.iter().chain(&self.tail) {
            if let Seg::Value(key, value) = seg {
                m.insert((*key).into(), value.json());
            }
        }
        if self.sentence_is_text {
            let mut text = String::new();
            write_segs(&mut text, &self.sentence, |v| v.raw());
            m.insert("text".into(), text.into());
        }
        for field in &self.fields {
            match field {
                Field::Both(key, value) => {
                    m.insert((*key).into(), value.json());
                }
                Field::Json(key, value) => {
                    m.insert((*key).into(), value.clone());
                }
                Field::Line(..) => {}
            }
        }
    }
}

fn write_segs<'v>(s: &mut String, segs: &'v [Seg<'_>], show: impl Fn(&'v Val<'_>) -> Cow<'v, str>) {
    for seg in segs {
        match seg {
            Seg::Word(w) => s.push_str(w),
            Seg::Value(_, v) => s.push_str(&show(v)),
        }
    }
}

impl Val<'_> {
    /// As the value is: what JSON's `text` shows.
    fn raw(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => Cow::Borrowed(s),
            Val::Num(n) => Cow::Owned(n.to_string()),
            Val::Null => Cow::Borrowed(""),
        }
    }

    /// As free text in a line shows it.
    fn escaped(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => escape_controls(s),
            v => v.raw(),
        }
    }

    /// As the value of a ` key=value` shows it.
    fn key_value(&self) -> Cow<'_, str> {
        match self {
            Val::Str(s) => kv(s),
            v => v.raw(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Val::Str(s) => Value::String(s.to_string()),
            Val::Num(n) => Value::Number(n.clone()),
            Val::Null => Value::Null,
        }
    }
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(s: &'a str) -> Val<'a> {
        Val::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Val<'_> {
    fn from(s: String) -> Self {
        Val::Str(Cow::Owned(s))
    }
}

/// A path as `Path::display` shows it.
impl<'a> From<&'a Path> for Val<'a> {
    fn from(p: &'a Path) -> Val<'a> {
        Val::Str(p.to_string_lossy())
    }
}

impl<'a> From<Option<&'a str>> for Val<'a> {
    fn from(s: Option<&'a str>) -> Val<'a> {
        s.map_or(Val::Null, Val::from)
    }
}

macro_rules! numbers_are_values {
    ($($t:ty),*) => {$(
        impl From<$t> for Val<'_> {
            fn from(n: $t) -> Self {
                Val::Num(n.into())
            }
        }
    )*};
}
numbers_are_values!(u32, u64, usize, i64);

#[cfg(test)]
mod tests {
    use super::*;

    fn sentence_line(template: &'static str, values: [(&'static str, Val); 2]) -> String {
        Shape::sentence(template, values).line("INFO")
    }

    #[test]
    fn templates_place_values_anywhere_and_never_expand_them_again() {
        let values = || [("a", "{b}".into()), ("b", 7u32.into())];
        assert_eq!(sentence_line("{a}{b}", values()), "INFO {b}7");
        assert_eq!(sentence_line("x {b}: {a} y", values()), "INFO x 7: {b} y");
        let mut m = Map::new();
        Shape::sentence("{a}:{b}", values()).fill_json(&mut m);
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"a": "{b}", "b": 7, "text": "{b}:7"})
        );
    }
}
