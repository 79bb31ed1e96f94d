//! How much of a body a stage may turn into values. Parsing builds a node in the VM's memory
//! for each JSON value or form field (a 7-byte `{"":0}` costs about 500 bytes as a
//! `serde_json::Value`), the checks parse a body more than once, and a VM's memory never
//! shrinks: one 8 MiB body of small objects took a VM from 1 MB to 575 MB, and a few larger
//! ones killed it (review). A body over the budget is refused (413) before anything is built.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use std::cell::Cell;
use std::fmt;

/// Most JSON values (a member's name counts as one) a read body may hold.
pub const MAX_BODY_VALUES: usize = 100_000;

/// Most urlencoded form fields a read body may hold. Each field's name is
/// looked up in ordered maps several times over (Kong's reading, the upstreams', PHP's
/// variables): a form of 99,000 distinct names cost 0.34 s of CPU natively per request. Kong
/// itself reads at most 1,000 fields (`kong.request.get_body`, 100 by default), as PHP,
/// Django and Express's body-parser take by default; Tomcat takes 10,000.
pub const MAX_FORM_FIELDS: usize = 10_000;

/// Most parts a read `multipart/*` body may hold. A part costs far more than a field: its head
/// is read as each framework reads it, three times over with `hide_credentials` (the check that
/// every reader reads it alike, Kong's reading, the cut), so 10,000 parts of five parameters
/// took 75 ms of CPU natively. Django refuses more than 1,000 fields in a multipart form, PHP
/// reads 1,000, Tomcat 50 parts.
pub const MAX_MULTIPART_PARTS: usize = 1_000;

/// How a body's fields are counted besides as JSON, by its media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape<'a> {
    /// Urlencoded, or untyped (Rack reads an untyped body as a form): fields split at `&` (a
    /// typed form holding `;` is refused as a separator; an untyped one is never split at it).
    Form,
    /// `multipart/*`: parts, each after a line starting `--` and the boundary (any line
    /// starting `--` when the type names none).
    Multipart(Option<&'a [u8]>),
    /// Anything else: JSON alone.
    Other,
}

/// The budget `bytes` passes, if any: more than [`MAX_BODY_VALUES`] JSON values, or, by its
/// [`Shape`], more than [`MAX_FORM_FIELDS`] form fields or [`MAX_MULTIPART_PARTS`] parts.
/// Counts without building
/// anything; a body that is not JSON stops the JSON count at its first error (the readings
/// that take it leniently only check it).
pub fn over_budget(shape: Shape<'_>, bytes: &[u8]) -> Option<usize> {
    let (fields, max) = match shape {
        Shape::Form => {
            let fields = bytes.iter().filter(|&&b| b == b'&').count();
            (fields.saturating_add(1), MAX_FORM_FIELDS)
        }
        Shape::Multipart(boundary) => (delimiters(bytes, boundary), MAX_MULTIPART_PARTS),
        Shape::Other => (0, 0),
    };
    if fields > max {
        return Some(max);
    }
    let json =
        json_values_over(bytes, MAX_BODY_VALUES) || lenient_json_over(bytes, MAX_BODY_VALUES);
    json.then_some(MAX_BODY_VALUES)
}

/// The lines of `bytes` that start `--` and go on with `boundary`: the delimiters after the
/// first, one per part. A file's own lines starting `--` (SQL comments, a patch, Markdown
/// rules) are not counted. Linear: a boundary holds no line feed, so no line feed starts within
/// a stretch compared with it.
fn delimiters(bytes: &[u8], boundary: Option<&[u8]>) -> usize {
    let opens = |at: usize| {
        let line = bytes.get(at..).unwrap_or_default();
        line.starts_with(b"\n--")
            && boundary.is_none_or(|b| line.get(3..).is_some_and(|rest| rest.starts_with(b)))
    };
    (0..bytes.len()).filter(|&at| opens(at)).count()
}

/// [`json_values_over`] for the text a lenient reader takes (`reconcile::call::json_like`'s:
/// a byte-order mark dropped, bytes that are not UTF-8 replaced, leading blanks trimmed), where
/// it differs from the bytes: a one-byte prefix must not take a body past the count (review: a
/// byte-order mark before a million objects was counted as no JSON at all).
fn lenient_json_over(bytes: &[u8], budget: usize) -> bool {
    let unmarked = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    let text = String::from_utf8_lossy(unmarked);
    let text = text.trim_start().as_bytes();
    text != bytes && json_values_over(text, budget)
}

/// True when the JSON in `bytes` holds more than `budget` values (it may be invalid after them).
fn json_values_over(bytes: &[u8], budget: usize) -> bool {
    let left = Cell::new(Some(budget));
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    // An error stops the count: a syntax error (not over), or the budget's end (over).
    let _ = Count { left: &left }.deserialize(&mut reader);
    left.get().is_none()
}

/// Counts values down from `left`; `None` once a value came with none left, which fails.
#[derive(Clone, Copy)]
struct Count<'a> {
    left: &'a Cell<Option<usize>>,
}

impl Count<'_> {
    fn take<E: de::Error>(self) -> Result<(), E> {
        let left = self.left.get().and_then(|n| n.checked_sub(1));
        self.left.set(left);
        left.map(|_| ()).ok_or_else(|| E::custom("too many values"))
    }
}

impl<'de> DeserializeSeed<'de> for Count<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, reader: D) -> Result<(), D::Error> {
        reader.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Count<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.take()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.take()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.take()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.take()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.take()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.take()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<(), A::Error> {
        self.take()?;
        while items.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<(), A::Error> {
        self.take()?;
        while members.next_key_seed(self)?.is_some() {
            members.next_value_seed(self)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_every_value_and_member_name() {
        // [ {  "" 0 } , {  "" 0 } ] : the array, two objects, two names, two numbers.
        let body = br#"[{"":0},{"":0}]"#;
        assert!(!json_values_over(body, 7));
        assert!(json_values_over(body, 6));
        // The object, its name, the array and its five values.
        assert!(!json_values_over(br#"{"a": [1, "x", null, true, 2.5]}"#, 8));
        assert!(json_values_over(br#"{"a": [1, "x", null, true, 2.5]}"#, 7));
    }

    #[test]
    fn a_body_that_is_no_json_stops_the_count_at_its_error() {
        assert!(!json_values_over(b"\x89PNG\r\n,,,,[[[[{{{{", 1));
        assert!(!json_values_over(b"[1, 2, x", 3));
        // Invalid after the budget: over all the same (the values were there to build).
        assert!(json_values_over(b"[1, 2, 3, x", 3));
    }

    #[test]
    fn a_prefix_or_a_bad_byte_does_not_hide_the_values_from_the_count() {
        let array = format!("[{}]", vec!["0"; MAX_BODY_VALUES].join(","));
        for prefix in ["\u{feff}", "\u{c}", "\u{a0}", "\u{feff} "] {
            let body = format!("{prefix}{array}");
            assert!(
                over_budget(Shape::Other, body.as_bytes()).is_some(),
                "{prefix:?}"
            );
        }
        let mut bad = array.clone().into_bytes();
        bad.splice(1..2, *b"\"\xff\"");
        assert!(over_budget(Shape::Other, &bad).is_some());
        // Below the budget, the lenient reading passes too.
        let small = format!("\u{feff}[{}]", ["0"; 10].join(","));
        assert!(over_budget(Shape::Other, small.as_bytes()).is_none());
    }

    #[test]
    fn the_limit_itself_passes_and_one_more_is_refused() {
        let array = |n: usize| format!("[{}]", vec!["0"; n].join(","));
        let over = |shape, body: String| over_budget(shape, body.as_bytes()).is_some();
        assert!(!over(Shape::Other, array(MAX_BODY_VALUES - 1)));
        assert!(over(Shape::Other, array(MAX_BODY_VALUES)));
        let form = |n: usize| vec!["a=1"; n].join("&");
        assert!(!over(Shape::Form, form(MAX_FORM_FIELDS)));
        assert_eq!(
            over_budget(Shape::Form, form(MAX_FORM_FIELDS + 1).as_bytes()),
            Some(MAX_FORM_FIELDS)
        );
        // Separators count only where the body is read as a form, and `;` never (review).
        assert!(!over(Shape::Other, form(MAX_FORM_FIELDS + 1)));
        assert!(!over(Shape::Form, vec!["x"; MAX_FORM_FIELDS + 1].join(";")));
        let parts = |n: usize| {
            let part = "--B\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n";
            format!("{}--B--\r\n", part.repeat(n))
        };
        let typed = Shape::Multipart(Some(b"B"));
        for shape in [typed, Shape::Multipart(None)] {
            assert!(!over(shape, parts(MAX_MULTIPART_PARTS)));
            assert_eq!(
                over_budget(shape, parts(MAX_MULTIPART_PARTS + 1).as_bytes()),
                Some(MAX_MULTIPART_PARTS)
            );
        }
        // A file of lines starting `--` is one part (review: an SQL script of 1,001 comment
        // lines was refused); without a boundary each such line counts.
        let comments = "-- a comment\r\n".repeat(MAX_MULTIPART_PARTS + 1);
        let file = format!(
            "--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.sql\"\r\n\r\n\r\n{comments}--B--\r\n"
        );
        assert!(!over(typed, file.clone()));
        assert!(over(Shape::Multipart(None), file));
        // Lines of another boundary than the type's are no delimiters of this body.
        assert!(!over(
            Shape::Multipart(Some(b"C")),
            parts(MAX_MULTIPART_PARTS + 1)
        ));
    }
}
