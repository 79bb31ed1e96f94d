//! The one error type of configuration loading: a JSON path and what is wrong there.

use std::fmt;

/// A configuration problem, located by its JSON path (`reconcile.method`, `consumers[2].jwt_secrets[0].key`).
///
/// `on_configure` logs it as `<path>: <problem>` and refuses the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// Dotted JSON path of the offending field; `.` for the document itself.
    pub path: String,
    /// What is wrong, in words a user can act on. Never contains secret values.
    pub problem: String,
}

impl ConfigError {
    /// An error at `path`.
    pub fn new(path: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            problem: problem.into(),
        }
    }

    /// Converts a serde error with its tracked path (which already ends in an unknown field's
    /// name), so the message reads `reconcile.methd: unknown field`.
    pub(crate) fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let base = err.path().to_string();
        let inner = err.inner();
        let text = inner.to_string();
        let problem = strip_position(&text);
        if problem.starts_with("unknown field `") {
            return Self::new(base, "unknown field");
        }
        if inner.is_syntax() || inner.is_eof() {
            return Self::new(".", format!("malformed JSON: {text}"));
        }
        Self::new(base, problem)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// serde_json appends ` at line L column C`; the path already says where.
fn strip_position(text: &str) -> &str {
    match text.rfind(" at line ") {
        Some(i) => text.get(..i).unwrap_or(text),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_position_removes_serde_location() {
        assert_eq!(
            strip_position("expected `,` at line 1 column 9"),
            "expected `,`"
        );
        assert_eq!(strip_position("no location"), "no location");
    }
}
