//! Strict JSON for JOSE headers and JWT claims: a member name repeated in any object, at any
//! nesting level, makes the whole document an error.
//!
//! RFC 7515 §5.2 and RFC 7519 §4 let a parser either refuse duplicate names or keep the last
//! one; `serde_json` keeps the last. A token is read by more than one parser (this filter, the
//! issuer, the upstream, a log pipeline), and any two that resolve a duplicate differently see two
//! different tokens under one signature: `{"alg":"none","alg":"HS256"}`, or two `iss`, one for
//! the gateway and one for the application. Refusing is the only answer every reader agrees with.
//!
//! Nesting depth stays bounded by `serde_json`'s recursion limit (128), which its deserializer
//! enforces whatever the visitor, so a deeply nested document is an error, never a stack overflow.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};

/// Parses one JSON document (surrounding whitespace allowed, nothing else after it), refusing
/// any object that names a member twice. Names are compared after unescaping, so `"a"` and
/// `"\u0061"` are the same name.
pub fn from_slice(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    parse(bytes, StrictValue { exact: false })
}

/// [`from_slice`], also refusing any float of magnitude 2^63 or more: `serde_json` reads an
/// integer beyond `i64`/`u64` as the nearest float, so `18446744073709551617` would be shown to
/// another reader as `1.8446744073709552e19`, which Python finds equal to
/// `18446744073709551616`. A float literal that large (`1e19`) is refused too: the two cannot be
/// told apart. Smaller numbers read as upstreams read them (integers exactly, floats as the
/// nearest double).
pub fn from_slice_exact(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    parse(bytes, StrictValue { exact: true })
}

fn parse(bytes: &[u8], seed: StrictValue) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = seed.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Builds a [`Value`] like `serde_json`'s own `Deserialize`, except for repeated names (and,
/// when `exact`, numbers read inexactly).
#[derive(Clone, Copy)]
struct StrictValue {
    exact: bool,
}

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value without duplicate member names")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        if self.exact && v.abs() >= 9_223_372_036_854_775_808.0 {
            return Err(de::Error::custom("inexact number"));
        }
        // The parser never yields a non-finite number; map one to null as serde_json does.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut members = Map::new();
        while let Some(name) = map.next_key::<String>()? {
            // One search of the map per member, for the check and the insertion.
            match members.entry(name) {
                // The name is not echoed: it came from an attacker and errors reach logs.
                Entry::Occupied(_) => return Err(de::Error::custom("duplicate member name")),
                Entry::Vacant(slot) => {
                    slot.insert(map.next_value_seed(self)?);
                }
            }
        }
        Ok(Value::Object(members))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(text: &str) -> Result<Value, serde_json::Error> {
        from_slice(text.as_bytes())
    }

    #[test]
    fn from_slice_duplicate_top_level_name_refused() {
        for doc in [
            r#"{"iss":"a","iss":"b"}"#,
            r#"{"exp":1,"exp":2}"#,
            r#"{"alg":"none","alg":"HS256"}"#,
            r#"{"a":1,"b":2,"a":1}"#,
        ] {
            assert!(strict(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn from_slice_duplicate_nested_name_refused() {
        for doc in [
            r#"{"org":{"id":1,"id":2}}"#,
            r#"{"list":[{"x":1},{"y":1,"y":1}]}"#,
            r#"[[{"k":{"k":{"z":0,"z":0}}}]]"#,
        ] {
            assert!(strict(doc).is_err(), "{doc}");
        }
    }

    #[test]
    fn from_slice_escaped_duplicate_name_refused() {
        // Same name once unescaped: a reader comparing raw bytes would miss it.
        assert!(strict(r#"{"iss":"a","\u0069ss":"b"}"#).is_err());
    }

    #[test]
    fn from_slice_same_name_in_sibling_objects_accepted() {
        let doc = r#"{"a":{"id":1},"b":{"id":2},"id":3}"#;
        assert_eq!(
            strict(doc).unwrap(),
            serde_json::from_str::<Value>(doc).unwrap()
        );
    }

    #[test]
    fn from_slice_matches_serde_json_without_duplicates() {
        for doc in [
            r#"{"s":"x\n\u00e9","n":-1,"u":18446744073709551615,"f":1.5e3,"b":true,"z":null,"a":[1,[2],{}]}"#,
            "[]",
            " 42 ",
            r#""text""#,
        ] {
            assert_eq!(
                strict(doc).unwrap(),
                serde_json::from_str::<Value>(doc).unwrap(),
                "{doc}"
            );
        }
    }

    #[test]
    fn from_slice_trailing_data_or_invalid_json_refused() {
        for doc in [r#"{"a":1}x"#, r#"{"a":1}{}"#, "{", "", r#"{"a":1,}"#] {
            assert!(strict(doc).is_err(), "{doc:?}");
        }
    }

    #[test]
    fn from_slice_deep_nesting_is_an_error_not_an_overflow() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        assert!(strict(&doc).is_err());
        let doc = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
        assert!(strict(&doc).is_err());
    }

    #[test]
    fn from_slice_exact_refuses_numbers_read_inexactly_and_only_those() {
        for doc in [
            "18446744073709551616",
            r#"{"a":[-9223372036854775809]}"#,
            r#"[1e19]"#,
            r#"{"a":{"b":-1.5e300}}"#,
        ] {
            assert!(from_slice_exact(doc.as_bytes()).is_err(), "{doc}");
            // Claims and JOSE headers still read them, as Kong does.
            assert!(strict(doc).is_ok(), "{doc}");
        }
        let doc = r#"[18446744073709551615,-9223372036854775808,9.2e18,0.1,{"a":{"a":1}}]"#;
        let value = from_slice_exact(doc.as_bytes()).unwrap();
        assert_eq!(value, serde_json::from_str::<Value>(doc).unwrap());
        assert!(from_slice_exact(br#"{"a":1,"a":2}"#).is_err());
    }
}
