//! Configured values that travel as header values (the consumer and credential headers, the
//! challenges' `realm`) are checked at load: a CR or LF in one would split the header (a
//! `realm` of `r\r\nX-Injected: 1` added a response header on Envoy), and a control character
//! makes the host refuse every request of that consumer.

use super::super::headers::is_safe_value;
use crate::config::{ConfigError, RawConfig};

/// Refuses, with its path, a configured header value holding a control character.
pub fn check(raw: &RawConfig) -> Result<(), ConfigError> {
    for (i, c) in raw.consumers.iter().enumerate() {
        let own = [
            ("id", &c.id),
            ("username", &c.username),
            ("custom_id", &c.custom_id),
        ];
        for (field, value) in own {
            value_ok(value.as_deref(), || format!("consumers[{i}].{field}"))?;
        }
        // The values `X-Credential-Identifier` carries.
        let lists: [(&str, &str, &mut dyn Iterator<Item = &Option<String>>); 3] = [
            (
                "jwt_secrets",
                "key",
                &mut c.jwt_secrets.iter().map(|s| &s.key),
            ),
            (
                "keyauth_credentials",
                "id",
                &mut c.keyauth_credentials.iter().map(|k| &k.id),
            ),
            (
                "basicauth_credentials",
                "username",
                &mut c.basicauth_credentials.iter().map(|b| &b.username),
            ),
        ];
        for (list, field, values) in lists {
            for (j, value) in values.enumerate() {
                value_ok(value.as_deref(), || {
                    format!("consumers[{i}].{list}[{j}].{field}")
                })?;
            }
        }
    }
    let realms = [
        (
            "jwt.realm",
            raw.jwt.as_ref().and_then(|s| s.realm.as_deref()),
        ),
        (
            "key_auth.realm",
            raw.key_auth.as_ref().and_then(|s| s.realm.as_deref()),
        ),
        (
            "basic_auth.realm",
            raw.basic_auth.as_ref().map(|s| s.realm.as_str()),
        ),
    ];
    // A `"` or `\` is written as Kong writes it (unescaped): it cannot split the header.
    for (path, realm) in realms {
        value_ok(realm, || path.into())?;
    }
    Ok(())
}

fn value_ok(value: Option<&str>, path: impl Fn() -> String) -> Result<(), ConfigError> {
    match value {
        Some(v) if !is_safe_value(v) => Err(ConfigError::new(
            path(),
            "must not contain control characters (it is sent as a header value)",
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn problem(config: serde_json::Value) -> Option<String> {
        let raw = crate::config::parse(config.to_string().as_bytes()).unwrap();
        check(&raw).err().map(|e| e.to_string())
    }

    #[test]
    fn header_values_with_control_characters_are_refused_with_their_path() {
        let control = "must not contain control characters (it is sent as a header value)";
        let cases = [
            (
                json!({"consumers": [{"id": "c\r\nX-Injected: 1"}]}),
                "consumers[0].id",
            ),
            (
                json!({"consumers": [{"id": "c", "username": "a\u{0}"}]}),
                "consumers[0].username",
            ),
            (
                json!({"consumers": [{"id": "c", "custom_id": "a\n"}]}),
                "consumers[0].custom_id",
            ),
            (
                json!({"consumers": [{"id": "c", "jwt_secrets": [{"key": "k\r", "secret": "s"}]}]}),
                "consumers[0].jwt_secrets[0].key",
            ),
            (
                json!({"consumers": [{"id": "c", "keyauth_credentials": [{"id": "i\u{7f}", "key": "k"}]}]}),
                "consumers[0].keyauth_credentials[0].id",
            ),
            (
                json!({"consumers": [{"id": "c", "basicauth_credentials": [{"username": "u\n", "password": "p"}]}]}),
                "consumers[0].basicauth_credentials[0].username",
            ),
            (
                json!({"key_auth": {"realm": "r\r\nX-Resp-Injected: 1"}}),
                "key_auth.realm",
            ),
            (json!({"basic_auth": {"realm": "r\n"}}), "basic_auth.realm"),
            (json!({"jwt": {"realm": "r\u{1b}"}}), "jwt.realm"),
        ];
        for (config, path) in cases {
            assert_eq!(
                problem(config),
                Some(format!("{path}: {control}")),
                "{path}"
            );
        }
        // Kong loads and writes these as they are.
        assert_eq!(
            problem(json!({"key_auth": {"realm": "CORP\\api \"x\""}})),
            None
        );
        // A tab is a header value's own whitespace; text of any script passes.
        let fine = json!({"consumers": [{"id": "c\t1", "username": "Zoë"}],
                          "basic_auth": {"realm": "service ünïcode"}});
        assert_eq!(problem(fine), None);
    }
}
