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
        if problem.starts_with("invalid type: sequence, expected struct") {
            // A section refuses the array form serde's derive reads (the schema Kong validates
            // with refuses it): serde_json has read the `[`, or an empty array whole.
            offset = offset.map(|at| locate::array_start(doc, at));
        } else if ["invalid type: map,", "invalid type: sequence,"]
            .iter()
            .any(|p| problem.starts_with(p))
        {
            offset = offset.map(|at| locate::next_value(doc, at));
        }
        if unknown && !plausible_field(problem) {
            // The name is logged with the path: one that reads as no field name (a key pasted
            // where a member's name goes) is left out, the object it is in shown instead.
            let path = offset.map_or_else(|| ".".to_owned(), |at| locate::path_at(doc, at, false));
            return Self::new(
                path,
                "unknown field (its name is not shown: it may be a secret)",
            );
        }
        let path = offset.map_or_else(|| ".".to_owned(), |at| locate::path_at(doc, at, unknown));
        if unknown {
            return Self::new(path, "unknown field");
        }
        Self::new(path, without_value(problem))
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// Whether serde's `unknown field `NAME`, expected …` names something that reads as a
/// misspelt field rather than a secret: at most 32 bytes of lower-case letters, digits and `_`,
/// with at most two digits (`x5c`, `rsa_public_key`; not `a3f19c0d5e7b2a4c`).
pub(crate) fn plausible_field(problem: &str) -> bool {
    let name = problem
        .strip_prefix("unknown field `")
        .and_then(|rest| rest.split('`').next())
        .unwrap_or_default();
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_';
    let digits = name.bytes().filter(u8::is_ascii_digit).count();
    !name.is_empty() && name.len() <= 32 && name.bytes().all(allowed) && digits <= 2
}

/// serde's `invalid type: string "…", expected …` quotes the value, which may be a secret in
/// the wrong place (an API key given as a credential object, a numeric password): the problem
/// keeps its kind only. A number out of range for a numeric field keeps its value.
pub(crate) fn without_value(problem: &str) -> String {
    // `unknown variant `X`, expected …`: the value stays when it reads as a misspelt variant
    // (`PUT`, `iat`), not when it may be a secret given in the wrong field (review helper-109).
    if let Some(rest) = problem.strip_prefix("unknown variant `") {
        let (value, expected) = rest.rsplit_once("`, expected").unwrap_or((rest, ""));
        let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'-';
        let digits = value.bytes().filter(u8::is_ascii_digit).count();
        if value.len() > 16 || !value.bytes().all(allowed) || digits > 3 {
            return format!("unknown variant (not shown: it may be a secret), expected{expected}");
        }
    }
    let value_may_be_secret = |unexpected: &str| {
        problem.starts_with("invalid type: ") || unexpected.starts_with("string")
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        let Some(rest) = problem.strip_prefix(prefix) else {
            continue;
        };
        let Some(end) = rest.find(", expected") else {
            continue;
        };
        let (unexpected, expected) = rest.split_at(end);
        if !value_may_be_secret(unexpected) {
            break;
        }
        let kind = unexpected.split(['`', '"']).next().unwrap_or_default();
        return format!("{prefix}{}{expected}", kind.trim_end());
    }
    problem.to_owned()
}

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

    /// A value in the wrong place may be a secret (an API key where a credential object goes,
    /// a numeric password): its kind is named, never the value (review).
    #[test]
    fn a_refused_value_is_named_by_its_kind_only() {
        for (problem, kept) in [
            (
                "invalid type: string \"LEAKED-KEY\", expected struct KeyAuthCredentialSection",
                "invalid type: string, expected struct KeyAuthCredentialSection",
            ),
            (
                "invalid type: integer `90817263`, expected a string",
                "invalid type: integer, expected a string",
            ),
            (
                "invalid type: floating point `1.5`, expected a string",
                "invalid type: floating point, expected a string",
            ),
            (
                "invalid value: string \"s3cret\", expected a key",
                "invalid value: string, expected a key",
            ),
            (
                "invalid value: integer `-1`, expected u64",
                "invalid value: integer `-1`, expected u64",
            ),
            (
                "invalid type: map, expected a string",
                "invalid type: map, expected a string",
            ),
            (
                "unknown variant `PUT`, expected `POST` or `GET`",
                "unknown variant `PUT`, expected `POST` or `GET`",
            ),
            (
                "unknown variant `c2VjcmV0c2VjcmV0`, expected `HS256` or `RS256`",
                "unknown variant (not shown: it may be a secret), expected `HS256` or `RS256`",
            ),
            (
                "unknown variant `my secret`, expected `exp` or `nbf`",
                "unknown variant (not shown: it may be a secret), expected `exp` or `nbf`",
            ),
        ] {
            assert_eq!(without_value(problem), kept);
        }
    }

    #[test]
    fn strip_position_removes_serde_location() {
        assert_eq!(
            strip_position("expected `,` at line 1 column 9"),
            "expected `,`"
        );
        assert_eq!(strip_position("no location"), "no location");
    }
}
