//! Configuration as the user writes it: serde wire types for each section (`*Section`), their
//! defaults and validation. The stages compile it once, in `on_configure`, into the runtime
//! [`crate::stages::Pipeline`]. Every problem is a [`ConfigError`] naming the JSON path.
//!
//! Defaults are written once, in the `Default` impl of each section.

mod consumers;
mod credentials;
mod error;
mod jwt;
mod locate;
mod mint;
#[cfg(test)]
mod paths_tests;
mod reconcile;
#[cfg(test)]
mod schema;
mod secret;
mod section;

pub use consumers::{
    BasicAuthCredentialSection, ConsumerSection, JwtSecretSection, KeyAuthCredentialSection,
};
pub use credentials::{BasicAuthSection, KeyAuthSection};
pub use error::ConfigError;
pub use jwt::{ClaimToHeader, JwksUriSection, JwtSection, RegisteredClaim};
pub use mint::{
    CustomJwtSection, EmptyBodyHash, JwksEndpointSection, UpstreamJwtSection, X5cFormat,
};
pub use reconcile::{CallMethod, ReconcileSection};
pub use secret::Secret;

use section::section;
use serde::Deserialize;

/// Default cap on a request body the filter reads (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

section! {
    /// The whole filter configuration as written by the user: one JSON object, every section optional.
    #[derive(Debug, Clone, Default)]
    #[cfg_attr(test, derive(serde::Serialize))]
    pub struct RawConfig {
        /// Kong's declarative `_transform`: `false` (as `kong config db_export` writes it)
        /// means the `basicauth_credentials` passwords are Kong's stored hashes, not plaintext.
        pub _transform: Option<bool>,
        /// Consumers and their credentials, as in Kong's declarative `kong.yml`.
        pub consumers: Vec<ConsumerSection>,
        /// Kong jwt plugin.
        pub jwt: Option<JwtSection>,
        /// Kong key-auth plugin.
        pub key_auth: Option<KeyAuthSection>,
        /// Kong basic-auth plugin.
        pub basic_auth: Option<BasicAuthSection>,
        /// jwt-reconcile plugin.
        pub reconcile: Option<ReconcileSection>,
        /// x-custom-jwt plugin.
        pub custom_jwt: Option<CustomJwtSection>,
        /// kong-upstream-jwt plugin.
        pub upstream_jwt: Option<UpstreamJwtSection>,
        /// The filter's own JWKS endpoint.
        pub jwks_endpoint: Option<JwksEndpointSection>,
        /// Proxy-Wasm metrics: `true` on every host, `false` on none; unset (or `null`) on
        /// Envoy only, since Kong's engine before 3.8 traps on the metric calls.
        pub metrics: Option<bool>,
    }
}

/// Parses the plugin configuration bytes. Empty input is refused: a host sends nothing when the
/// filter was given no configuration (Envoy without `configuration`, a Kong filter without
/// `config`), and taking that for `{}` would pass every request through unjudged. `{}` says so
/// on purpose.
pub fn parse(bytes: &[u8]) -> Result<RawConfig, ConfigError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return Err(ConfigError::new(
                ".",
                "is empty (`{}` is the configuration that passes every request through)",
            ))
        }
        // serde would also build a struct from a JSON array of its fields.
        Some(b'{') => {}
        Some(_) => return Err(ConfigError::new(".", "must be a JSON object")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw = RawConfig::deserialize(&mut de).map_err(|e| ConfigError::from_serde(&e, bytes))?;
    de.end()
        .map_err(|e| ConfigError::new(".", format!("malformed JSON: {e}")))?;
    Ok(raw)
}

/// Looks an environment variable up by name (`None` when it is not set): how the configuration
/// reads `upstream_jwt.private_key_env` and `certificate_env`. Tests pass their own; the filter
/// passes [`process_env`].
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The process environment. In the filter (wasm32-wasip1) that is the VM's WASI environment:
/// on Envoy what `vm_config.environment_variables` gives it, on Kong's engine the variables
/// nginx keeps (its `env` directives).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse(text.as_bytes()).unwrap_err().to_string()
    }

    #[test]
    fn parse_empty_object_gives_defaults() {
        let raw = parse(b"{}").unwrap();
        assert!(raw.jwt.is_none() && raw.consumers.is_empty());
        assert!(crate::stages::Pipeline::load(b"{}")
            .unwrap()
            .is_pass_through());
    }

    /// Each plugin's `config` as Kong's Admin API returns it (and `deck` exports it): every
    /// field, `null` where Kong's schema has no default. Pasted as a section, each loads, with
    /// Kong's meaning (a review found `"claims_to_verify": null` refused).
    #[test]
    fn plugin_configs_as_kong_exports_them_load() {
        let config = serde_json::json!({
            "consumers": [{"id": "c-1", "username": "anon"}],
            "jwt": {"uri_param_names": ["jwt"], "cookie_names": [], "key_claim_name": "iss",
                    "secret_is_base64": false, "claims_to_verify": null, "anonymous": null,
                    "run_on_preflight": true, "maximum_expiration": 0,
                    "header_names": ["authorization"], "realm": null},
            "key_auth": {"key_names": ["apikey"], "hide_credentials": false, "anonymous": null,
                         "key_in_header": true, "key_in_query": true, "key_in_body": false,
                         "run_on_preflight": true, "realm": null},
            "basic_auth": {"anonymous": null, "hide_credentials": false, "realm": "service"}
        });
        let raw = parse(config.to_string().as_bytes()).unwrap();
        assert_eq!(raw.jwt.unwrap().claims_to_verify, None);
        crate::stages::Pipeline::load(config.to_string().as_bytes()).unwrap();
        // jwt-reconcile's schema misspells copy_headers' default (`ture`: nil in Lua), so Kong
        // exports the field as null, which the plugin reads as false; absent, it is true.
        let reconcile = |copy: Option<serde_json::Value>| {
            let mut section = serde_json::json!({"url": "http://auth:8080", "method": "POST",
                "path": "/api/v1/auth/reconcile", "connect_timeout": 5000, "send_timeout": 10000,
                "read_timeout": 10000, "forward_path": false, "forward_query": false,
                "forward_headers": false, "forward_body": false,
                "inject_body_response_into_header": true, "injected_header_prefix": "",
                "streamdown_injected_headers": false});
            if let Some(copy) = copy {
                section["copy_headers"] = copy;
            }
            let doc = serde_json::json!({ "reconcile": section }).to_string();
            parse(doc.as_bytes())
                .unwrap()
                .reconcile
                .unwrap()
                .copy_headers
        };
        assert_eq!(reconcile(Some(serde_json::Value::Null)), None);
        assert_eq!(reconcile(None), Some(true));
        assert_eq!(reconcile(Some(false.into())), Some(false));
    }

    /// Kong hands over `config` encoded by cjson, which writes an empty Lua table as `{}`, and
    /// a configuration read back from its database or declarative cache has lost the marks of
    /// its empty arrays (review: Kong's export of the jwt plugin, `cookie_names: []`, was
    /// refused). Every list reads an empty object as empty; an object with members stays no list.
    #[test]
    fn an_empty_object_reads_as_an_empty_list_wherever_a_list_goes() {
        let with = |empty: &str| {
            let text = r#"{"consumers": [{"id": "c", "tags": @, "jwt_secrets": @,
                "keyauth_credentials": @, "basicauth_credentials": @}],
              "jwt": {"uri_param_names": @, "cookie_names": @, "header_names": @,
                "claims_to_verify": @, "issuers": @, "audiences": @, "claims_to_headers": @},
              "key_auth": {"key_names": @}, "reconcile": {"url": "http://a", "allowed_headers": @},
              "jwks_endpoint": {"previous_keys": @}}"#
                .replace('@', empty);
            serde_json::to_value(parse(text.as_bytes()).unwrap()).unwrap()
        };
        assert_eq!(with("{}"), with("[]"));
        assert_eq!(with(" { \n } "), with("[]"));
        assert_eq!(with("{}")["jwt"]["cookie_names"], serde_json::json!([]));
        assert_eq!(
            err(r#"{"jwt": {"cookie_names": {"a": 1}}}"#),
            "jwt.cookie_names: invalid type: map, expected a sequence"
        );
        assert_eq!(
            err(r#"{"consumers": {"c": {}}}"#),
            "consumers: invalid type: map, expected a sequence"
        );
        // `{}` at the top of the configuration, and for a section, is still an object.
        assert!(parse(br#"{"jwt": {}}"#).unwrap().jwt.is_some());
    }

    #[test]
    fn parse_refuses_an_empty_configuration() {
        // No configuration is not `{}`: a filter given none must not pass requests unjudged.
        let empty = ".: is empty (`{}` is the configuration that passes every request through)";
        assert_eq!(err(""), empty);
        assert_eq!(err("  \n\t"), empty);
    }

    #[test]
    fn parse_unknown_section_field_names_path() {
        assert_eq!(
            err(r#"{"reconcile": {"url": "http://a", "methd": "GET"}}"#),
            "reconcile.methd: unknown field"
        );
    }

    #[test]
    fn parse_unknown_top_level_field_names_field() {
        assert_eq!(err(r#"{"jwtt": {}}"#), "jwtt: unknown field");
    }

    /// Review: a key pasted as a member's name was logged with the path.
    #[test]
    fn parse_unknown_field_that_reads_as_no_field_name_is_not_shown() {
        let hidden = "unknown field (its name is not shown: it may be a secret)";
        for name in [
            "a3f19c0d5e7b2a4c6e8f0a1b3c5d7e9f",
            "LEAKED-KEY-7781",
            "Secret Value",
            "k1e2y3",
        ] {
            let config = serde_json::json!({"consumers": [{"id": "c", "keyauth_credentials": [{name: true}]}]});
            let got = err(&config.to_string());
            assert_eq!(
                got,
                format!("consumers[0].keyauth_credentials[0]: {hidden}"),
                "{name}"
            );
        }
        assert_eq!(
            err(r#"{"upstream_jwt": {"x5c_formats": "plugin"}}"#),
            "upstream_jwt.x5c_formats: unknown field"
        );
    }

    #[test]
    fn parse_unknown_field_in_array_item_names_index() {
        assert_eq!(
            err(r#"{"consumers": [{"id": "a"}, {"id": "b", "jwt_secrets": [{"kee": "x"}]}]}"#),
            "consumers[1].jwt_secrets[0].kee: unknown field"
        );
    }

    #[test]
    fn parse_wrong_type_names_path_and_type() {
        assert_eq!(
            err(r#"{"jwt": {"run_on_preflight": "yes"}}"#),
            "jwt.run_on_preflight: invalid type: string, expected a boolean"
        );
    }

    #[test]
    fn parse_bad_enum_value_names_variants() {
        assert_eq!(
            err(r#"{"reconcile": {"method": "PUT"}}"#),
            "reconcile.method: unknown variant `PUT`, expected `POST` or `GET`"
        );
    }

    #[test]
    fn parse_malformed_json_is_refused() {
        assert!(err(r#"{"jwt": {"#).starts_with(".: malformed JSON: EOF while parsing"));
        assert!(
            err(r#"{"jwt": {}} trailing"#).starts_with(".: malformed JSON: trailing characters")
        );
    }

    #[test]
    fn parse_non_object_is_refused() {
        assert_eq!(err("[]"), ".: must be a JSON object");
        assert_eq!(err(" \"{}\""), ".: must be a JSON object");
    }

    #[test]
    fn parse_section_defaults_match_kong() {
        let raw = parse(br#"{"jwt": {}, "reconcile": {}, "custom_jwt": {}, "upstream_jwt": {}}"#)
            .unwrap();
        let jwt = raw.jwt.unwrap();
        assert_eq!(jwt.uri_param_names, ["jwt"]);
        assert_eq!(jwt.header_names, ["authorization"]);
        assert_eq!(jwt.key_claim_name, "iss");
        assert!(jwt.run_on_preflight);
        let rec = raw.reconcile.unwrap();
        assert_eq!(rec.path, "/api/v1/auth/reconcile");
        assert_eq!(rec.method, CallMethod::Post);
        assert_eq!(
            rec.message_403,
            "You don't have enough permissions to access"
        );
        assert_eq!(raw.custom_jwt.unwrap().expires_in, 1800);
        let up = raw.upstream_jwt.unwrap();
        assert_eq!((up.header.as_str(), up.expires_in), ("JWT", 60));
    }

    #[test]
    fn compile_custom_jwt_without_key_is_refused() {
        assert_eq!(
            crate::stages::Pipeline::load(br#"{"custom_jwt": {}}"#)
                .unwrap_err()
                .to_string(),
            "custom_jwt.private_jwk: missing field"
        );
    }

    #[test]
    fn debug_of_consumer_secret_is_redacted() {
        let raw = parse(
            br#"{"consumers": [{"id": "c", "jwt_secrets": [{"key": "k", "secret": "s3cr3t"}]}]}"#,
        )
        .unwrap();
        assert!(!format!("{raw:?}").contains("s3cr3t"));
    }
}
