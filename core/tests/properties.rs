//! Property tests (proptest): base64url, `dasherize`, the header-name matcher and JWS
//! sign → parse → verify round trips, over generated inputs instead of chosen examples.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use jwt_relay_core::jose::{b64, jws, Algorithm, JwsHeader, SigningKey};
use jwt_relay_core::stages::headers::{canonical, covering_spellings, same_header};
use jwt_relay_core::stages::reconcile::dasherize;
use jwt_relay_core::stages::{HeaderEdit, HeaderEdits, Request};
use proptest::prelude::*;
use serde_json::{Map, Value};

// ---------------------------------------------------------------------------------------------
// base64url

/// The base64url alphabet, without padding.
fn is_b64url_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-' || c == '_'
}

proptest! {
    #[test]
    fn b64_round_trips_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = b64::encode(&bytes);
        prop_assert!(text.chars().all(is_b64url_char), "{text}");
        prop_assert_eq!(text.len(), (bytes.len() * 4).div_ceil(3));
        prop_assert_eq!(b64::decode(&text).unwrap(), bytes);
    }

    #[test]
    fn b64_accepts_exactly_the_correct_padding(bytes in prop::collection::vec(any::<u8>(), 1..100)) {
        let text = b64::encode(&bytes);
        let pad = (4 - text.len() % 4) % 4;
        let padded = format!("{text}{}", "=".repeat(pad));
        prop_assert_eq!(b64::decode(&padded).unwrap(), bytes.clone());
        // One `=` too many is refused.
        let overpadded = format!("{padded}=");
        prop_assert!(b64::decode(&overpadded).is_err());
    }

    #[test]
    fn b64_decodes_only_its_own_encodings(text in "[A-Za-z0-9_+/=-]{0,40}") {
        // Whatever decodes is canonical: encoding it back gives the input, less its padding.
        if let Ok(bytes) = b64::decode(&text) {
            prop_assert_eq!(b64::encode(bytes), text.trim_end_matches('='));
            prop_assert!(!text.contains('+') && !text.contains('/'));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// dasherize

/// jwt-reconcile's Lua, step by step over bytes (the C locale: letters are ASCII):
/// `gsub('(%l)(%u)', '%1-%2')`, `gsub('%W+', '-')`, `lower`, then the first letter of each
/// `-`-separated word upper-cased.
fn dasherize_model(name: &str) -> String {
    let bytes = name.as_bytes();
    let mut step1 = Vec::new();
    for (i, &b) in bytes.iter().enumerate() {
        if i > 0 && bytes[i - 1].is_ascii_lowercase() && b.is_ascii_uppercase() {
            step1.push(b'-');
        }
        step1.push(b);
    }
    let mut step2 = Vec::new();
    for &b in &step1 {
        if b.is_ascii_alphanumeric() {
            step2.push(b);
        } else if step2.last() != Some(&b'-') {
            // A `-` last in `step2` always ends a run of non-alphanumerics: step 1 inserts its
            // `-` between two letters only.
            step2.push(b'-');
        }
    }
    let lower = String::from_utf8(step2).unwrap().to_ascii_lowercase();
    lower
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

proptest! {
    #[test]
    fn dasherize_matches_the_lua_steps(name in "[a-zA-Z0-9_ .-]{0,24}") {
        prop_assert_eq!(dasherize(&name), dasherize_model(&name));
    }

    #[test]
    fn dasherize_matches_the_lua_steps_on_any_text(name in any::<String>()) {
        prop_assert_eq!(dasherize(&name), dasherize_model(&name));
    }

    #[test]
    fn dasherize_gives_a_header_name(name in any::<String>()) {
        let dashed = dasherize(&name);
        prop_assert!(dashed.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'), "{dashed}");
        prop_assert_eq!(dashed.is_empty(), name.is_empty());
        prop_assert!(!dashed.contains("--"), "{dashed}");
        // A header name it made is its own dasherized form.
        prop_assert_eq!(dasherize(&dashed), dashed.clone());
    }
}

// ---------------------------------------------------------------------------------------------
// The header-name matcher

/// A header name and a client's re-spelling of it: each letter's case and each `-`/`_` chosen
/// at random.
fn name_and_spelling() -> impl Strategy<Value = (String, String)> {
    "[a-z][a-z0-9-]{0,12}".prop_flat_map(|name| {
        let len = name.len();
        (
            Just(name),
            prop::collection::vec(any::<(bool, bool)>(), len),
        )
            .prop_map(|(name, flips)| {
                let spelling = name
                    .chars()
                    .zip(flips)
                    .map(|(c, (upper, underscore))| match c {
                        '-' if underscore => '_',
                        c if upper => c.to_ascii_uppercase(),
                        c => c,
                    })
                    .collect();
                (name, spelling)
            })
    })
}

/// The host's header map as Envoy keeps it: names matched case-insensitively.
fn apply_as_host(headers: &[(String, String)], edits: &HeaderEdits) -> Vec<(String, String)> {
    let mut out = headers.to_vec();
    for edit in &edits.0 {
        match edit {
            HeaderEdit::Remove(name) => out.retain(|(n, _)| !n.eq_ignore_ascii_case(name)),
            HeaderEdit::Set(name, value) => {
                out.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
                out.push((name.clone(), value.clone()));
            }
        }
    }
    out
}

proptest! {
    #[test]
    fn same_header_is_equality_of_canonical_names(a in "[a-zA-Z_-]{0,8}", b in "[a-zA-Z_-]{0,8}") {
        prop_assert_eq!(same_header(&a, &b), canonical(&a) == canonical(&b));
        prop_assert_eq!(same_header(&a, &b), same_header(&b, &a));
        prop_assert!(same_header(&a, &a));
    }

    #[test]
    fn same_header_matches_every_spelling((name, spelling) in name_and_spelling()) {
        prop_assert!(same_header(&name, &spelling));
        prop_assert_eq!(canonical(&spelling), name.clone());
        let longer = format!("{spelling}x");
        prop_assert!(!same_header(&name, &longer));
    }

    /// After `covering_spellings`, no spelling of a name the filter sets or removes survives
    /// beside the filter's own value, on a host that matches names case-insensitively; the
    /// stage's edits are kept, in order, and pseudo-headers are left alone.
    #[test]
    fn covering_spellings_leaves_no_client_spelling(
        pairs in prop::collection::vec(name_and_spelling(), 1..5),
        sets in prop::collection::vec(any::<bool>(), 5),
        others in prop::collection::vec("[a-z]{1,6}", 0..3),
    ) {
        let mut headers: Vec<(String, String)> = pairs
            .iter()
            .map(|(_, spelling)| (spelling.clone(), "client".to_owned()))
            .collect();
        headers.extend(others.iter().map(|o| (format!("other-{o}"), "keep".to_owned())));
        let request = Request { headers: headers.clone(), ..Request::default() };
        let mut edits = HeaderEdits::default();
        for ((name, _), set) in pairs.iter().zip(&sets) {
            if *set {
                edits.set(name.clone(), "filter");
            } else {
                edits.remove(name.clone());
            }
        }
        edits.set(":path", "/p");
        let covered = covering_spellings(&request, edits.clone());
        // The original edits are a subsequence; everything added is a removal.
        let mut originals = edits.0.iter();
        let mut next = originals.next();
        for edit in &covered.0 {
            if Some(edit) == next {
                next = originals.next();
            } else {
                prop_assert!(matches!(edit, HeaderEdit::Remove(n) if !n.starts_with(':')));
            }
        }
        prop_assert!(next.is_none(), "an edit was lost");
        let upstream = apply_as_host(&headers, &covered);
        for (name, value) in &upstream {
            let guarded = pairs.iter().any(|(n, _)| same_header(n, name));
            prop_assert!(!guarded || value == "filter", "{name}: {value} survived");
        }
        for (other, _) in headers.iter().filter(|(n, _)| n.starts_with("other-")) {
            prop_assert!(upstream.iter().any(|(n, _)| n == other));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JWS round trips

/// Claims: up to six members of strings, integers, booleans, null and small nested objects
/// and arrays (no floats: their text is not kept byte for byte).
fn claims() -> impl Strategy<Value = Map<String, Value>> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<String>().prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    let value = leaf.prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,5}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map(any::<String>(), value, 0..6).prop_map(|m| m.into_iter().collect())
}

fn round_trip(
    key: &SigningKey,
    alg: Algorithm,
    claims: &Map<String, Value>,
    kid: &Option<String>,
    flip: usize,
) -> Result<(), TestCaseError> {
    let mut header = JwsHeader::new(alg);
    if let Some(kid) = kid {
        header = header.with_kid(kid.clone());
    }
    let token = jws::sign(&header, claims, key).unwrap();
    let parsed = jws::parse(&token).unwrap();
    prop_assert_eq!(parsed.header().alg(), alg);
    prop_assert_eq!(parsed.header().kid(), kid.as_deref());
    prop_assert_eq!(parsed.claims(), claims);
    let public = key.verifying_key();
    prop_assert!(parsed.verify(&public).is_ok());
    // Any other character in the signing input breaks the token.
    let input_len = parsed.signing_input().len();
    let at = flip % input_len;
    let mut bytes = token.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let verified = jws::parse(&tampered).map(|t| t.verify(&public).is_ok());
    prop_assert!(
        !verified.unwrap_or(false),
        "tampered at {at} still verifies"
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn hs256_sign_parse_verify(
        secret in prop::collection::vec(any::<u8>(), 32..64),
        claims in claims(),
        kid in proptest::option::of("[a-z0-9-]{1,8}"),
        flip in any::<usize>(),
    ) {
        let key = SigningKey::hmac(&secret).unwrap();
        round_trip(&key, Algorithm::HS256, &claims, &kid, flip)?;
    }

    #[test]
    fn es256_sign_parse_verify(
        claims in claims(),
        kid in proptest::option::of("[a-z0-9-]{1,8}"),
        flip in any::<usize>(),
    ) {
        let key = SigningKey::generate(Algorithm::ES256).unwrap();
        round_trip(&key, Algorithm::ES256, &claims, &kid, flip)?;
    }

    #[test]
    fn eddsa_sign_parse_verify(
        claims in claims(),
        kid in proptest::option::of("[a-z0-9-]{1,8}"),
        flip in any::<usize>(),
    ) {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        round_trip(&key, Algorithm::EdDSA, &claims, &kid, flip)?;
    }
}
