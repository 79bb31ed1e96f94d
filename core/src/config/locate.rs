//! The JSON path at a byte offset of the configuration: where serde_json stopped when it refused
//! a value, named as `consumers[1].jwt_secrets[0].key`.
//!
//! serde_json reports the line and column of a data error: the last byte it consumed (a wrong
//! value, an unknown key) or the byte it looked at next (the `}` of an object that lacks a
//! field). Walking the text up to there with a stack of the members being read gives the path
//! without tracking it through every deserializer. serde_path_to_error did that tracking: it
//! doubled the configuration's deserialization code, about 55 KB of the module and a few
//! percent of the time an engine takes to compile it. The paths are the same (a test compares
//! the two on every value of full configurations, each replaced by values of other types).
//!
//! Only text serde_json has already read is walked, so it is valid JSON up to the offset; on
//! anything else the walk still ends, with the path it has.

use std::fmt::Write as _;

/// The path at `offset` (0-based byte index into `doc`), `.` for the document itself. With
/// `key_counts` (an unknown field), a position on an object's key or between the key and its
/// value names the key; otherwise it names the object.
pub(crate) fn path_at(doc: &[u8], offset: usize, key_counts: bool) -> String {
    let mut walk = Walk::default();
    let mut at = 0;
    while at < doc.len() {
        let end = token_end(doc, at);
        if (at..end).contains(&offset) {
            return walk.path_within(doc, at, end, key_counts);
        }
        walk.pass(doc, at, end);
        at = end;
    }
    walk.path(false)
}

/// Byte offset of serde_json's 1-based `line` and `column`: the column counts bytes, and column
/// 0 (a position right after a line feed) is the line feed itself. `None` without a position.
pub(crate) fn offset_of(doc: &[u8], line: usize, column: usize) -> Option<usize> {
    if line == 0 {
        return None;
    }
    let line_start = if line == 1 {
        0
    } else {
        doc.iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(line - 2)
            .map(|(i, _)| i + 1)?
    };
    Some((line_start + column).saturating_sub(1))
}

/// The first byte after `at` that is not whitespace: the value serde_json peeked at when it
/// stopped at `at`.
pub(crate) fn next_value(doc: &[u8], at: usize) -> usize {
    let mut i = at + 1;
    while doc.get(i).is_some_and(u8::is_ascii_whitespace) {
        i += 1;
    }
    i
}

/// The `[` of an array serde_json refused where an object goes: it reports the array's first
/// element, or the byte after an empty array's `]`. `at` itself when no `[` is found there.
pub(crate) fn array_start(doc: &[u8], at: usize) -> usize {
    let mut i = at;
    let mut closed = false;
    loop {
        match doc.get(i) {
            Some(b'[') => return i,
            _ if i == at => {}
            Some(b']') if !closed => closed = true,
            Some(b) if b.is_ascii_whitespace() => {}
            _ => return at,
        }
        match i.checked_sub(1) {
            Some(before) => i = before,
            None => return at,
        }
    }
}

/// Where the walk is inside one container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Before a key (objects) or an element (arrays).
    Expecting,
    /// An object's key is read, its value not begun.
    AfterKey,
    /// Inside the current member's value (a nested container being walked).
    InValue,
    /// The current member's value is complete.
    AfterValue,
}

#[derive(Debug)]
enum Step {
    Key(String),
    Index(usize),
}

#[derive(Debug)]
struct Frame {
    /// The current member: the last key read, or the current element's index.
    step: Step,
    phase: Phase,
}

impl Frame {
    fn object() -> Self {
        Self {
            step: Step::Key(String::new()),
            phase: Phase::Expecting,
        }
    }

    fn array() -> Self {
        Self {
            step: Step::Index(0),
            phase: Phase::Expecting,
        }
    }
}

/// The containers open at the current position, outermost first.
#[derive(Debug, Default)]
struct Walk {
    frames: Vec<Frame>,
}

impl Walk {
    /// Moves past the token `doc[at..end]`.
    fn pass(&mut self, doc: &[u8], at: usize, end: usize) {
        match doc.get(at) {
            Some(b'{') => self.open(Frame::object()),
            Some(b'[') => self.open(Frame::array()),
            Some(b'}' | b']') => {
                self.frames.pop();
                self.set_phase(Phase::AfterValue);
            }
            Some(b',') => {
                if let Some(frame) = self.frames.last_mut() {
                    if let Step::Index(i) = &mut frame.step {
                        *i += 1;
                    }
                    frame.phase = Phase::Expecting;
                }
            }
            Some(b'"') if self.expects_key() => {
                let key = decode_key(doc.get(at..end).unwrap_or_default());
                if let Some(frame) = self.frames.last_mut() {
                    frame.step = Step::Key(key);
                    frame.phase = Phase::AfterKey;
                }
            }
            Some(c) if c.is_ascii_whitespace() || *c == b':' => {}
            // A string value or a scalar.
            Some(_) => self.set_phase(Phase::AfterValue),
            None => {}
        }
    }

    /// The path when the offset falls inside the token `doc[at..end]`.
    fn path_within(&mut self, doc: &[u8], at: usize, end: usize, key_counts: bool) -> String {
        match doc.get(at) {
            // A container's brackets belong to it: its path, not its members'.
            Some(b'{' | b'[') => {
                self.pass(doc, at, end);
                self.path(false)
            }
            Some(b'"') if self.expects_key() => {
                self.pass(doc, at, end);
                self.path(key_counts)
            }
            Some(c) if c.is_ascii_whitespace() || matches!(c, b':' | b',' | b'}' | b']') => {
                self.path(key_counts)
            }
            // A string value or a scalar: the member it is the value of.
            Some(_) => {
                self.set_phase(Phase::InValue);
                self.path(false)
            }
            None => self.path(false),
        }
    }

    fn open(&mut self, frame: Frame) {
        self.set_phase(Phase::InValue);
        self.frames.push(frame);
    }

    fn set_phase(&mut self, phase: Phase) {
        if let Some(frame) = self.frames.last_mut() {
            frame.phase = phase;
        }
    }

    fn expects_key(&self) -> bool {
        matches!(
            self.frames.last(),
            Some(Frame {
                step: Step::Key(_),
                phase: Phase::Expecting
            })
        )
    }

    /// serde_path_to_error's notation: `.` alone for the root, `a.b[2].c` below it. A frame's
    /// member counts while its value is being read, and a key just read when `key_counts`.
    fn path(&self, key_counts: bool) -> String {
        let mut out = String::new();
        for frame in &self.frames {
            let counts = match frame.phase {
                Phase::InValue => true,
                Phase::AfterKey => key_counts,
                Phase::Expecting | Phase::AfterValue => false,
            };
            if !counts {
                continue;
            }
            match &frame.step {
                Step::Key(key) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(key);
                }
                Step::Index(i) => {
                    let _ = write!(out, "[{i}]");
                }
            }
        }
        if out.is_empty() {
            out.push('.');
        }
        out
    }
}

/// End (exclusive) of the token starting at `at`: a whole string with its quotes, a whole
/// scalar, or one structural or whitespace byte. Always past `at`, so the walk advances.
fn token_end(doc: &[u8], at: usize) -> usize {
    match doc.get(at) {
        Some(b'"') => {
            let mut i = at + 1;
            while let Some(&b) = doc.get(i) {
                i += 1;
                match b {
                    b'\\' => i += 1,
                    b'"' => return i,
                    _ => {}
                }
            }
            doc.len().max(at + 1)
        }
        Some(c) if is_scalar_byte(*c) => {
            let mut i = at + 1;
            while doc.get(i).is_some_and(|b| is_scalar_byte(*b)) {
                i += 1;
            }
            i
        }
        _ => at + 1,
    }
}

/// Bytes of numbers, `true`, `false` and `null` (and of anything else that is not JSON's
/// punctuation or whitespace).
fn is_scalar_byte(b: u8) -> bool {
    !(b.is_ascii_whitespace() || matches!(b, b'{' | b'}' | b'[' | b']' | b',' | b':' | b'"'))
}

/// A key token with its quotes, unescaped as serde hands it to a deserializer.
fn decode_key(token: &[u8]) -> String {
    serde_json::from_slice::<String>(token).unwrap_or_else(|_| {
        let inner = token
            .strip_prefix(b"\"")
            .and_then(|t| t.strip_suffix(b"\""))
            .unwrap_or(token);
        String::from_utf8_lossy(inner).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(doc: &str, needle: &str, key_counts: bool) -> String {
        let offset = doc.find(needle).unwrap();
        path_at(doc.as_bytes(), offset, key_counts)
    }

    #[test]
    fn values_name_their_member() {
        let doc = r#"{"a": {"b": [1, {"c": "x"}], "d": true}}"#;
        assert_eq!(at(doc, "1", false), "a.b[0]");
        assert_eq!(at(doc, "\"x\"", false), "a.b[1].c");
        assert_eq!(at(doc, "x\"", false), "a.b[1].c");
        assert_eq!(at(doc, "rue", false), "a.d");
        assert_eq!(at(doc, "{\"c", false), "a.b[1]");
        assert_eq!(at(doc, "[1", false), "a.b");
    }

    #[test]
    fn punctuation_names_the_container() {
        let doc = r#"{"a": {"b": 1, "c": 2}}"#;
        assert_eq!(at(doc, "}}", false), "a");
        assert_eq!(at(doc, ", \"c", false), "a");
        assert_eq!(path_at(doc.as_bytes(), doc.len() - 1, false), ".");
        assert_eq!(path_at(doc.as_bytes(), 0, false), ".");
    }

    #[test]
    fn keys_count_only_when_asked() {
        let doc = r#"{"a": {"bad\"key": 1}}"#;
        assert_eq!(at(doc, "key\"", true), "a.bad\"key");
        assert_eq!(at(doc, ": 1", true), "a.bad\"key");
        assert_eq!(at(doc, ": 1", false), "a");
    }

    #[test]
    fn offsets_from_lines_and_columns() {
        let doc = b"{\n  \"a\": 1\n}";
        assert_eq!(offset_of(doc, 1, 1), Some(0));
        assert_eq!(offset_of(doc, 2, 3), Some(4));
        assert_eq!(offset_of(doc, 3, 1), Some(11));
        assert_eq!(offset_of(doc, 2, 0), Some(1));
        assert_eq!(offset_of(doc, 0, 0), None);
        assert_eq!(offset_of(doc, 9, 1), None);
    }

    #[test]
    fn next_value_skips_whitespace_after_the_position() {
        let doc = b"{\"a\": \n {}}";
        assert_eq!(next_value(doc, 4), 8);
        assert_eq!(next_value(doc, 7), 8);
        assert_eq!(next_value(doc, 8), 9);
        assert_eq!(next_value(doc, 20), 21);
    }

    proptest::proptest! {
        /// Configuration-like text with a byte changed anywhere: parsing answers (an error
        /// names some path), and the walk ends at any offset.
        #[test]
        fn broken_documents_get_an_answer(
            at in 0usize..200,
            byte in proptest::prelude::any::<u8>(),
            offset in 0usize..220,
        ) {
            let mut doc = br#"{"consumers": [{"id": "c", "jwt_secrets": [{"key": "k", "secret": "s"}]}], "jwt": {"claims_to_verify": ["exp"], "maximum_expiration": 5}}"#.to_vec();
            if let Some(b) = doc.get_mut(at % 140) {
                *b = byte;
            }
            if let Err(e) = crate::config::parse(&doc) {
                proptest::prop_assert!(!e.path.is_empty());
            }
            proptest::prop_assert!(!path_at(&doc, offset, byte % 2 == 0).is_empty());
        }
    }

    #[test]
    fn any_bytes_end_the_walk() {
        for doc in [
            &b"{\"a"[..],
            b"\"\\",
            b"}}]]",
            b"{\"a\":[[[",
            b"\xff\xfe",
            b"",
        ] {
            for offset in 0..=doc.len() + 1 {
                assert!(!path_at(doc, offset, true).is_empty());
            }
        }
    }
}
