//! The one error type of configuration loading: a JSON path and what is wrong there.

use super::locate;
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

    /// Converts serde_json's refusal of `doc`, located by its line and column, so the message
    /// reads `reconcile.methd: unknown field` or `jwt.run_on_preflight: invalid type: ...`.
    pub(crate) fn from_serde(err: &serde_json::Error, doc: &[u8]) -> Self {
        let text = err.to_string();
        let problem = strip_position(&text);
        let unknown = problem.starts_with("unknown field `");
        if !unknown && (err.is_syntax() || err.is_eof()) {
            return Self::new(".", format!("malformed JSON: {text}"));
        }
        let mut offset = locate::offset_of(doc, err.line(), err.column());
        // serde_json refuses an object or an array where it looked at its first byte without
        // reading it: its position is then the byte before the value.
        if ["invalid type: map,", "invalid type: sequence,"]
            .iter()
            .any(|p| problem.starts_with(p))
        {
            offset = offset.map(|at| locate::next_value(doc, at));
        }
        let path = offset.map_or_else(|| ".".to_owned(), |at| locate::path_at(doc, at, unknown));
        if unknown {
            return Self::new(path, "unknown field");
        }
        Self::new(path, problem)
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
