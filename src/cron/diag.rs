//! Diagnostics: a message about a place in a crontab, and its rendering like a compiler's.
//!
//! A diagnostic stores the line, the column (1-based, in characters) and the width of what it
//! points at, so the same value serves `cronwright check` (with the source line and a caret),
//! the daemon's log (`file:line:col: message`) and `crontab`'s refusal to install; [`report`]
//! is the printer the first and last of those share.

use std::fmt;
use std::io::Write;

use super::crontab::Parsed;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Warning,
    Error,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// 1-based line number.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// How many characters the caret underlines (at least 1).
    pub width: u32,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic at byte range `start..start+len` of `line_text`.
    pub fn at(
        severity: Severity,
        line: u32,
        line_text: &str,
        start: usize,
        len: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        let start = floor_char_boundary(line_text, start.min(line_text.len()));
        let end = floor_char_boundary(line_text, (start + len).min(line_text.len()));
        Diagnostic {
            severity,
            line,
            column: line_text[..start].chars().count() as u32 + 1,
            width: (line_text[start..end].chars().count() as u32).max(1),
            message: message.into(),
        }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col: severity: message`, the one-line form used in logs.
    pub fn headline(&self, file: &str) -> String {
        format!(
            "{file}:{}:{}: {}: {}",
            self.line, self.column, self.severity, self.message
        )
    }

    /// The headline, then the source line with a caret under the columns it names.
    /// Tabs in the source are kept in the caret line so the caret stays aligned.
    pub fn render(&self, file: &str, source_line: &str) -> String {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        let shown: String = source_line
            .chars()
            .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
            .collect();
        let lead: String = shown
            .chars()
            .take(self.column as usize - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{}\n{pad} |\n{number} | {shown}\n{pad} | {lead}{}\n",
            self.headline(file),
            "^".repeat(self.width as usize)
        )
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// What `cronwright check` and `crontab` print for a file: every diagnostic rendered with its
/// source line and caret, then a summary that also names the lines that are fine.
pub fn report(
    name: &str,
    source: &str,
    parsed: &Parsed,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let lines: Vec<&str> = source
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    for d in &parsed.diagnostics {
        let text = lines.get(d.line as usize - 1).copied().unwrap_or("");
        writeln!(out, "{}", d.render(name, text))?;
    }
    // The policies in force, for each entry that has any: what the daemon will do beyond
    // cron's way is shown where the entry is checked.
    for entry in &parsed.crontab.entries {
        if !entry.policy.is_default() {
            let policy = super::policy::describe(&entry.policy);
            writeln!(out, "{name}:{}: policy: {policy}", entry.line)?;
        }
    }
    let fine: Vec<u32> = parsed.crontab.entries.iter().map(|e| e.line).collect();
    let entries = match fine.len() {
        0 => "no entries".to_string(),
        1 => format!("1 entry fine (line {})", ranges(&fine)),
        n => format!("{n} entries fine (lines {})", ranges(&fine)),
    };
    let (errors, warnings) = (
        parsed.count(Severity::Error),
        parsed.count(Severity::Warning),
    );
    if errors + warnings == 0 {
        writeln!(out, "{name}: ok, {entries}")
    } else {
        writeln!(
            out,
            "{name}: {}, {}; {entries}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    }
}

fn plural(n: usize, word: &str) -> String {
    format!("{n} {word}{}", if n == 1 { "" } else { "s" })
}

/// `1, 3-5, 9` from sorted line numbers.
fn ranges(lines: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let mut j = i;
        while j + 1 < lines.len() && lines[j + 1] == lines[j] + 1 {
            j += 1;
        }
        parts.push(if i == j {
            lines[i].to_string()
        } else {
            format!("{}-{}", lines[i], lines[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_headline_source_and_caret() {
        let line = "0 0 1 jna * /bin/true";
        let d = Diagnostic::at(Severity::Error, 7, line, 6, 3, "unknown month name 'jna'");
        assert_eq!(
            d.render("web", line),
            "web:7:7: error: unknown month name 'jna'\n  |\n7 | 0 0 1 jna * /bin/true\n  |       ^^^\n"
        );
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let line = "# é\t5";
        let d = Diagnostic::at(Severity::Warning, 1, line, line.len() - 1, 1, "x");
        assert_eq!(d.column, 5);
        assert!(d.render("f", line).ends_with("|    \t^\n"));
    }

    #[test]
    fn ranges_compress_runs() {
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
    }
}
