//! The configuration's error paths (`locate`) against serde_path_to_error's tracked paths, which
//! the filter used before: every value of full configurations replaced by values of other
//! types, every object given an unknown key and stripped of each key in turn, each written
//! compactly and pretty-printed. Both must refuse the same documents with the same error.

use super::{parse, ConfigError, RawConfig};
use serde_json::{json, Value};

const SEEDS: [&str; 5] = [
    include_str!("../../../fuzz/corpus/config/full.json"),
    include_str!("../../../fuzz/corpus/config/envoy-demo.json"),
    include_str!("../../../fuzz/corpus/config/jwks.json"),
    include_str!("../../../fuzz/corpus/config/keys.json"),
    include_str!("../../../fuzz/corpus/config/env-x5c.json"),
];

/// What the filter answered with serde_path_to_error (its former `ConfigError::from_serde`).
fn tracked(text: &str) -> Result<(), ConfigError> {
    if !text.trim_start().starts_with('{') {
        return Err(ConfigError::new(".", "must be a JSON object"));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let err = match serde_path_to_error::deserialize::<_, RawConfig>(&mut de) {
        Ok(_) => {
            return de
                .end()
                .map_err(|e| ConfigError::new(".", format!("malformed JSON: {e}")))
        }
        Err(err) => err,
    };
    let path = err.path().to_string();
    let text = err.inner().to_string();
    let problem = text.rfind(" at line ").map_or(&text[..], |i| &text[..i]);
    if problem.starts_with("unknown field `") {
        if !super::error::plausible_field(problem) {
            let hidden = "unknown field (its name is not shown: it may be a secret)";
            return Err(ConfigError::new(parent(err.path()), hidden));
        }
        return Err(ConfigError::new(path, "unknown field"));
    }
    if err.inner().is_syntax() || err.inner().is_eof() {
        return Err(ConfigError::new(".", format!("malformed JSON: {text}")));
    }
    Err(ConfigError::new(path, super::error::without_value(problem)))
}

/// `path` without its last segment, as serde_path_to_error writes a path (`.` for the root).
fn parent(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    let mut out = String::new();
    for segment in segments.iter().take(segments.len().saturating_sub(1)) {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Enum { variant } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(variant);
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    if out.is_empty() {
        ".".to_owned()
    } else {
        out
    }
}

fn replacements() -> Vec<Value> {
    vec![
        json!(5),
        json!(-1),
        json!(1.5),
        json!(18446744073709551615u64),
        json!("x"),
        json!("é\"\\ \u{1F600}"),
        json!(true),
        json!(null),
        json!([]),
        json!([1, "a"]),
        json!({}),
        json!({"zz": 1}),
        json!([{"zz": [true]}]),
    ]
}

/// Every document one change away from `doc`.
fn mutations(doc: &Value, out: &mut Vec<Value>) {
    let mut pointers = Vec::new();
    collect_pointers(doc, String::new(), &mut pointers);
    for pointer in &pointers {
        for value in replacements() {
            let mut changed = doc.clone();
            if let Some(slot) = changed.pointer_mut(pointer) {
                *slot = value;
                out.push(changed);
            }
        }
        if let Some(Value::Object(map)) = doc.pointer(pointer) {
            let mut changed = doc.clone();
            if let Some(Value::Object(m)) = changed.pointer_mut(pointer) {
                m.insert("zz_unknown\"é".into(), json!(1));
            }
            out.push(changed);
            for key in map.keys() {
                let mut changed = doc.clone();
                if let Some(Value::Object(m)) = changed.pointer_mut(pointer) {
                    m.remove(key);
                }
                out.push(changed);
            }
        }
    }
}

fn collect_pointers(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let escaped = k.replace('~', "~0").replace('/', "~1");
                collect_pointers(child, format!("{at}/{escaped}"), out);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                collect_pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

fn check(text: &str) -> bool {
    let ours = parse(text.as_bytes()).map(|_| ());
    assert_eq!(ours, tracked(text), "{text}");
    ours.is_err()
}

#[test]
fn every_mutation_of_the_seeds_gets_the_tracked_path() {
    let mut refused = 0;
    let mut total = 0;
    for seed in SEEDS {
        let doc: Value = serde_json::from_str(seed).unwrap();
        let mut docs = vec![doc.clone()];
        mutations(&doc, &mut docs);
        for d in &docs {
            for text in [
                serde_json::to_string(d).unwrap(),
                serde_json::to_string_pretty(d).unwrap(),
            ] {
                total += 1;
                refused += usize::from(check(&text));
            }
        }
    }
    // The mutations must reach deep, refused values, or the comparison proves little.
    assert!(total > 2000 && refused > total / 2, "{refused} of {total}");
}

#[test]
fn hand_written_documents_get_the_tracked_path() {
    for text in [
        r#"{"jwt": {"anonymous": "a", "anonymous": "b"}}"#,
        r#"{"jwt" : {"claims_to_verify" : ["exp" , "iat"]}}"#,
        "{\"consumers\":[{\"id\":\"c\"},\r\n {\"jwt_secrets\":[{\"key\":\"k\",\r\n\"kee\":1}]}]}",
        r#"{"consumers": [{"jwt_secrets": [{"key": "é€😀", "secret": 7}]}]}"#,
        r#"{"reconcile": {"method": "PUT"}}"#,
        r#"{"reconcile": {"timeout": 1e400}}"#,
        r#"{"reconcile": {"timeout": -0}}"#,
        r#"{"jwt": [true]}"#,
        r#"{"jwt": []}"#,
        r#"{"jwt": [ ], "key_auth": {}}"#,
        r#"{"jwt": [[1]]}"#,
        r#"{"jwt": [{"realm": "r"}]}"#,
        r#"{"consumers": [[]]}"#,
        r#"{"consumers": [{"id": "c", "jwt_secrets": [ [ ] ]}]}"#,
        r#"{"reconcile": {"url": "http://a", "method": {"GET": null}}}"#,
        r#"{"jwt": {"claims_to_verify": [{"exp": null}]}}"#,
        r#"{"upstream_jwt": {"x5c_format": "pem"}}"#,
        r#"{"jwt": {"claims_to_headers": [{"claim": "sub"}]}}"#,
        r#"{"jwt": {"claims_to_headers": [{"claim": "sub", "header": 1}]}}"#,
        r#"{"a\u0062c": 1}"#,
        "{\"jwt\":\n{\n\"key_claim_name\":\nfalse\n}\n}",
        r#"{"jwt": {"#,
        r#"{"jwt": {}} trailing"#,
        r#"{"jwt": {"header_names": ["a",]}}"#,
    ] {
        check(text);
    }
}
