//! Diagnostics: a message about a place in a crontab, and its rendering like a compiler's.
//!
//! A diagnostic stores the line, the column (1-based, in characters) and the width of what it
//! points at, so the same value serves `cronwright check` (with the source line and a caret),
//! the daemon's log (`file:line:col: message`) and `crontab`'s refusal to install.

use std::fmt;

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
}
