//! The README's configuration reference covers every field the filter accepts: each field of
//! the generated schema (itself tested against the Rust types) is named in README.md.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod support;

use serde_json::Value;

fn read(name: &str) -> String {
    std::fs::read_to_string(support::repo().join(name)).unwrap()
}

#[test]
fn readme_names_every_config_field_of_the_schema() {
    let readme = read("README.md");
    let meta: Value = serde_json::from_str(&read("filters/jwt_relay.meta.json")).unwrap();
    let sections = meta["config_schema"]["properties"].as_object().unwrap();
    let mut checked = 0;
    for (section, schema) in sections {
        assert!(
            readme.contains(&format!("`{section}`")),
            "README lacks section {section}"
        );
        // A top-level scalar (`_transform`) is a field of its own, named above.
        let Some(fields) = schema["properties"]
            .as_object()
            .or_else(|| schema["items"]["properties"].as_object())
        else {
            assert!(schema["type"] != "object", "{section} has no fields");
            continue;
        };
        for field in fields.keys().filter(|f| *f != "tags") {
            let named = readme.contains(&format!("`{field}"))
                || readme.contains(&format!("`{section}.{field}`"));
            assert!(named, "README lacks {section}.{field}");
            checked += 1;
        }
    }
    assert!(checked > 70, "only {checked} fields checked");
}
