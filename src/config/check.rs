//! Checking the configuration's values, key by key, with errors that point at them:
//! `file:line:column: what (in 'table.key')`, and a value in the crontab's own words read as a
//! crontab line reads it. [`Checker`] turns each raw value into its final one; `super` keeps
//! the types and the order in which keys are read.

use super::*;

pub(super) struct Checker<'a> {
    pub(super) text: &'a str,
    pub(super) origin: &'a Path,
    /// Reading the text again with an unquoted word quoted (see [`Checker::unquoted`]): a
    /// second unquoted word is not looked into, so a file of them costs two reads, not one
    /// per word.
    pub(super) retry: bool,
}

impl Checker<'_> {
    /// A job policy's default (`overlap = "skip"`), read as the crontab line reads it.
    pub(super) fn policy<T>(
        &self,
        key: &str,
        value: Text,
        default: T,
        parse: impl Fn(&str, &str) -> Result<T, String>,
    ) -> Result<T, ConfigError> {
        match value {
            None => Ok(default),
            Some(v) => parse(&format!("'{key}'"), v.get_ref()).map_err(|e| self.error(v.span(), e)),
        }
    }

    pub(super) fn error(&self, span: Range<usize>, message: String) -> ConfigError {
        let (line, column) = line_column(self.text, span.start);
        ConfigError::Invalid {
            path: self.origin.to_path_buf(),
            line,
            column,
            message,
        }
    }

    /// A path key where `""` means none; unset gives `default` (which may be `""`).
    pub(super) fn optional(
        &self,
        key: &str,
        value: Text,
        default: &str,
    ) -> Result<Option<PathBuf>, ConfigError> {
        let Some(value) = value else {
            return Ok(Some(PathBuf::from(default)).filter(|p| !p.as_os_str().is_empty()));
        };
        if value.get_ref().is_empty() {
            return Ok(None);
        }
        let path = Path::new(value.get_ref());
        if path.is_absolute() {
            return Ok(Some(path.to_path_buf()));
        }
        let dir = match self.origin.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        // Absolute now, because the daemon may change directory before it uses the path.
        let base = std::path::absolute(dir).map_err(|e| {
            let msg = format!("cannot resolve '{}' for '{key}': {e}", path.display());
            self.error(value.span(), msg)
        })?;
        let joined = base.join(path);
        Ok(Some(
            joined
                .components()
                .filter(|c| *c != Component::CurDir)
                .collect(),
        ))
    }

    /// A path key that must name something.
    pub(super) fn path(
        &self,
        key: &str,
        value: Text,
        default: &str,
    ) -> Result<PathBuf, ConfigError> {
        let span = value.as_ref().map(|v| v.span()).unwrap_or(0..0);
        self.optional(key, value, default)?
            .ok_or_else(|| self.error(span, format!("empty path for '{key}'")))
    }

    pub(super) fn paths(
        &self,
        key: &str,
        values: Paths,
        default: &[&str],
    ) -> Result<Vec<PathBuf>, ConfigError> {
        match values {
            None => Ok(default.iter().map(PathBuf::from).collect()),
            Some(values) => values
                .into_iter()
                .map(|v| self.path(key, Some(v), ""))
                .collect(),
        }
    }

    pub(super) fn number<T: TryFrom<i64>>(
        &self,
        key: &str,
        value: Number,
        default: T,
        min: i64,
    ) -> Result<T, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let n = *value.get_ref();
        let problem = match T::try_from(n) {
            _ if n < min => format!("'{key}' must be at least {min}, found {n}"),
            Ok(n) => return Ok(n),
            Err(_) => format!("'{key}' is too large: {n}"),
        };
        Err(self.error(value.span(), problem))
    }

    /// `key = word` on the line of byte `at`, with `word` an unquoted name (`no`, `yes`,
    /// `/var/log`…) that TOML has no value for: the key, the word, and where the word starts.
    fn bare_word(&self, at: usize) -> Option<(&str, &str, usize)> {
        let start = self.text[..at.min(self.text.len())]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        let line = self.text[start..].split('\n').next().unwrap_or_default();
        let (key, value) = line.split_once('=')?;
        let key = key.trim();
        let word = value
            .trim()
            .split('#')
            .next()
            .unwrap_or_default()
            .trim_end();
        let bare = !key.is_empty()
            && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && word
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'/' || b == b'.')
            && !matches!(word, "true" | "false" | "inf" | "nan")
            && !word.contains(['"', '\'', '[', '{', ' ']);
        bare.then(|| {
            let offset = line.find('=').unwrap_or(0) + 1;
            let in_value = value.find(word).unwrap_or(0);
            (key, word, start + offset + in_value)
        })
    }

    /// What an unquoted `word` for `key` should have been: the type the key wants (found by
    /// reading the file again with the word quoted), or the string in quotes.
    /// Another error about the key (an unknown key) is that error, at the key.
    fn unquoted(&self, key: &str, word: &str, at: usize) -> ConfigError {
        // The key alone under its table header, with the word quoted: what the key wants is
        // then the only thing the reading can complain about.
        let line_start = self.text[..at].rfind('\n').map_or(0, |i| i + 1);
        let header = self.text[..line_start]
            .lines()
            .rev()
            .find(|l| l.trim_start().starts_with('['))
            .unwrap_or_default();
        let alone = format!("{header}\n{key} = \"{word}\"\n");
        let retry = Checker {
            text: &alone,
            origin: self.origin,
            retry: true,
        };
        let found = toml::from_str::<RawConfig>(&alone).map_err(|e| retry.toml_error(&e));
        let (span, message) = match found {
            Err(ConfigError::Invalid { message, .. })
                if message.starts_with(&format!("wrong type for '{key}'")) =>
            {
                let expected = message
                    .split_once("expected ")
                    .map_or("", |(_, rest)| rest.split(", found").next().unwrap_or(rest));
                let message = match expected {
                    "a boolean" => {
                        format!("'{key}' takes a boolean: write true or false, not {word}")
                    }
                    expected => format!("'{key}' takes {expected}, not {word}"),
                };
                (at..at + word.len(), message)
            }
            Err(ConfigError::Invalid {
                line: 2, message, ..
            }) => {
                let key_at = line_start + self.text[line_start..].find(key).unwrap_or(0);
                (key_at..key_at + key.len(), message)
            }
            _ => (
                at..at + word.len(),
                format!("a string is quoted in TOML: write {key} = \"{word}\""),
            ),
        };
        self.error(span, message)
    }

    /// Rewords a toml/serde error as a compiler-style message at its span.
    pub(super) fn toml_error(&self, e: &toml::de::Error) -> ConfigError {
        // toml keeps the keys leading to the failing value private, but shows them ("in `a.b`")
        // when it has no input to quote.
        let mut bare = e.clone();
        bare.set_input(None);
        let shown = bare.to_string();
        let keys: Vec<&str> = match shown.trim_end().rsplit_once("\nin `") {
            Some((_, keys)) => keys.trim_end_matches('`').split('.').collect(),
            None => Vec::new(),
        };
        let span = e.span().unwrap_or(0..0);
        let message = e.message();
        let text = if let Some(rest) = message.strip_prefix("unknown field `") {
            // Reported on the key itself, so `keys` is the path to its table.
            let mut quoted = rest.split('`').step_by(2);
            let name = quoted.next().unwrap_or_default();
            let known: Vec<&str> = quoted.filter(|k| !k.is_empty()).collect();
            let place = match keys.join(".") {
                table if table.is_empty() => String::new(),
                table => format!(" in [{table}]"),
            };
            format!(
                "unknown key '{name}'{place} (expected one of {}){}",
                known.join(", "),
                crate::suggest::did_you_mean(name, known.iter().copied())
            )
        } else if let (Some(rest), Some(key)) =
            (message.strip_prefix("invalid type: "), keys.last())
        {
            let (found, expected) = rest.rsplit_once(", expected ").unwrap_or((rest, "?"));
            // A date-time reaches serde as a map too; only a table starts with a bracket.
            let at = self.text.get(span.clone()).unwrap_or_default();
            let found = match found {
                "map" if !at.starts_with(['{', '[']) => "a date-time",
                found => in_toml_words(found),
            };
            let expected = in_toml_words(expected);
            format!("wrong type for '{key}': expected {expected}, found {found}")
        } else if message == "duplicate key" {
            let at = self.text.get(span.clone()).unwrap_or_default();
            format!("duplicate key '{at}'")
        } else if let Some((key, word, at)) = self.bare_word(span.start).filter(|_| !self.retry) {
            return self.unquoted(key, word, at);
        } else if keys.is_empty() {
            format!("invalid TOML: {message}")
        } else {
            format!("{message} (in '{}')", keys.join("."))
        };
        self.error(span, text)
    }
}

/// 1-based line and column (in characters, as `cron::diag` counts) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (before.matches('\n').count() + 1, column)
}

/// Serde's words for a type or a value (`a sequence`, `i64`, `string "x"`), in TOML's.
fn in_toml_words(serde: &str) -> &str {
    let bare = serde.trim_start_matches("a ").trim_start_matches("an ");
    let words = [
        ("bool", "a boolean"),
        ("integer", "an integer"),
        ("i64", "an integer"),
        ("floating point", "a float"),
        ("string", "a string"),
        ("sequence", "an array"),
        ("map", "a table"),
        ("table", "a table"),
    ];
    words
        .iter()
        .find(|(theirs, _)| bare.starts_with(theirs))
        .map_or(serde, |(_, ours)| ours)
}
