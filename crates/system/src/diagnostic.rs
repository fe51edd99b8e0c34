//! Mistakes in a system file, each with file, line, column, what is wrong and what would be right.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::types::Location;

#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub location: Location,
    /// What is wrong.
    pub message: String,
    /// What would be right, when we can say.
    pub hint: Option<String>,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: {}", self.file.display(), self.location.line, self.location.column, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every mistake found in one system file, in file order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl Diagnostics {
    pub fn len(&self) -> usize {
        self.0.len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }
}

/// Turns byte offsets of the system file into lines and columns, and collects diagnostics.
pub(crate) struct Reporter<'a> {
    file: &'a Path,
    text: &'a str,
    line_starts: Vec<usize>,
    pub(crate) found: Vec<Diagnostic>,
}

impl<'a> Reporter<'a> {
    pub(crate) fn new(file: &'a Path, text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { file, text, line_starts, found: Vec::new() }
    }

    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    pub(crate) fn location(&self, offset: usize) -> Location {
        let offset = offset.min(self.text.len());
        let line = self.line_starts.partition_point(|&start| start <= offset);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset].chars().count() + 1;
        Location { line, column }
    }

    pub(crate) fn at(&mut self, span: Range<usize>, message: impl Into<String>, hint: Option<String>) {
        let location = self.location(span.start);
        self.at_location(location, message, hint);
    }

    pub(crate) fn at_location(&mut self, location: Location, message: impl Into<String>, hint: Option<String>) {
        self.found.push(Diagnostic { file: self.file.to_path_buf(), location, message: message.into(), hint });
    }

    pub(crate) fn finish(mut self) -> Result<(), Diagnostics> {
        if self.found.is_empty() {
            return Ok(());
        }
        self.found.sort_by_key(|d| (d.location.line, d.location.column));
        Err(Diagnostics(self.found))
    }
}

/// A diagnostic about a system file that is not tied to a place in it (unreadable file).
pub fn whole_file(file: &Path, message: impl Into<String>, hint: Option<String>) -> Diagnostics {
    Diagnostics(vec![Diagnostic {
        file: file.to_path_buf(),
        location: Location { line: 1, column: 1 },
        message: message.into(),
        hint,
    }])
}

/// Suggests the closest of `candidates` to `given`, for "did you mean" hints.
pub fn closest<'c>(given: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(given, c), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 3))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_one_based_lines_and_columns() {
        let r = Reporter::new(Path::new("x.toml"), "ab\ncdé\nf");
        assert_eq!(r.location(0), Location { line: 1, column: 1 });
        assert_eq!(r.location(3), Location { line: 2, column: 1 });
        assert_eq!(r.location(7), Location { line: 2, column: 4 });
        assert_eq!(r.location(8), Location { line: 3, column: 1 });
    }

    #[test]
    fn closest_suggests_near_names_only() {
        assert_eq!(closest("url_lenght", ["url_length", "num_dots"]), Some("url_length"));
        assert_eq!(closest("zzz", ["url_length", "num_dots"]), None);
    }
}
