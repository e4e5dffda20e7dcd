//! "Did you mean …?": the known name closest to a mistyped one, for messages about crontab
//! names (months, days, macros) and configuration keys.

/// The name of `known` that `typed` most likely meant, if one is close: within one edit
/// (a transposition counts as one) for short names, two for longer ones, compared without
/// case; or the name `typed` spells out in full (`monday` for `mon`). `None` when `typed`
/// is itself known, or nothing is close.
pub fn closest<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    let mut best: Option<(usize, &str)> = None;
    for name in known {
        let lower = name.to_ascii_lowercase();
        if lower == typed {
            return None;
        }
        let distance = if typed.len() > lower.len() && typed.starts_with(&lower) && lower.len() >= 3
        {
            1
        } else {
            strsim::damerau_levenshtein(&typed, &lower)
        };
        let limit = if lower.len() <= 4 { 1 } else { 2 };
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

/// `"; did you mean 'x'?"` for [`closest`], or nothing, to end a message with.
pub fn did_you_mean<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    match closest(typed, known) {
        Some(name) => format!("; did you mean '{name}'?"),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_names_are_suggested_and_far_ones_are_not() {
        let months = ["jan", "feb", "mar", "jun", "jul"];
        assert_eq!(closest("jna", months), Some("jan"));
        assert_eq!(closest("JNA", months), Some("jan"));
        assert_eq!(closest("january", months), Some("jan"));
        assert_eq!(closest("xyz", months), None);
        assert_eq!(closest("jan", months), None);
        let macros = ["@daily", "@hourly", "@weekly"];
        assert_eq!(closest("@dialy", macros), Some("@daily"));
        assert_eq!(closest("@every", macros), None);
        let keys = ["sources", "log", "mail"];
        assert_eq!(closest("source", keys), Some("sources"));
        assert_eq!(did_you_mean("sourcse", keys), "; did you mean 'sources'?");
    }
}
