//! Configuration: serde wire types for each section (`*Section`), compiled once in `on_configure`
//! into the runtime [`Config`]. Every problem is a [`ConfigError`] naming the JSON path.
//!
//! Defaults are written once, in the `Default` impl of each section.

mod consumers;
mod credentials;
mod error;
mod jwt;
mod mint;
mod reconcile;
#[cfg(test)]
mod schema;
mod secret;

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

use crate::stages::auth::Authenticator;
use crate::stages::mint::{self as mint_stage, CustomJwt, JwksEndpoint, UpstreamJwt};
use crate::stages::reconcile::{self as reconcile_stage, Reconcile};
use serde::Deserialize;

/// Default cap on a request body the filter reads (8 MiB).
pub const DEFAULT_MAX_BODY_BYTES: u64 = 8 * 1024 * 1024;

/// The whole filter configuration as written by the user: one JSON object, every section optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
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
}

/// The runtime configuration: everything a request needs, validated and keys pre-parsed.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// The authentication stages (`jwt`, `key_auth`, `basic_auth` over `consumers`).
    pub auth: Option<Authenticator>,
    /// The call to the auth service.
    pub reconcile: Option<Reconcile>,
    /// x-custom-jwt.
    pub custom_jwt: Option<CustomJwt>,
    /// kong-upstream-jwt.
    pub upstream_jwt: Option<UpstreamJwt>,
    /// The filter's own JWKS endpoint.
    pub jwks_endpoint: Option<JwksEndpoint>,
}

impl Config {
    /// Signs one throwaway message with each minting key, so V8 compiles the signing code at
    /// configure time instead of on the first request (10-17 ms for RSA in wasm).
    pub fn warm_up(&self) {
        let signers = self
            .custom_jwt
            .iter()
            .map(|c| &c.signer)
            .chain(self.upstream_jwt.iter().map(|u| &u.signer));
        for signer in signers {
            let _ = signer.key.sign(signer.alg, b"warm-up");
        }
    }

    /// True when no stage is configured: every request passes through untouched.
    /// What loads but deserves a warning in the log (`path: problem` each).
    pub fn warnings(&self) -> &[String] {
        self.auth.as_ref().map(|a| a.warnings()).unwrap_or_default()
    }

    pub fn is_pass_through(&self) -> bool {
        self.auth.is_none()
            && self.reconcile.is_none()
            && self.custom_jwt.is_none()
            && self.upstream_jwt.is_none()
            && self.jwks_endpoint.is_none()
    }
}

/// Parses the plugin configuration bytes. Empty input means `{}` (Envoy sends nothing when the
/// filter has no `configuration`).
pub fn parse(bytes: &[u8]) -> Result<RawConfig, ConfigError> {
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        None => return Ok(RawConfig::default()),
        // serde would also build a struct from a JSON array of its fields.
        Some(b'{') => {}
        Some(_) => return Err(ConfigError::new(".", "must be a JSON object")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let raw: RawConfig =
        serde_path_to_error::deserialize(&mut de).map_err(ConfigError::from_serde)?;
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

/// Parses and compiles the configuration, reading named environment variables from
/// [`process_env`]: what `on_configure` calls.
pub fn load(bytes: &[u8]) -> Result<Config, ConfigError> {
    load_with_env(bytes, &process_env)
}

/// [`load`] with the environment variables of `env`.
pub fn load_with_env(bytes: &[u8], env: Env) -> Result<Config, ConfigError> {
    compile_with_env(&parse(bytes)?, env)
}

/// Turns the wire form into the runtime form: keys parsed, references resolved, environment
/// variables read from [`process_env`].
pub fn compile(raw: &RawConfig) -> Result<Config, ConfigError> {
    compile_with_env(raw, &process_env)
}

/// [`compile`] with the environment variables of `env`.
pub fn compile_with_env(raw: &RawConfig, env: Env) -> Result<Config, ConfigError> {
    let custom_jwt = raw
        .custom_jwt
        .as_ref()
        .map(mint_stage::compile_custom)
        .transpose()?;
    let upstream_jwt = raw
        .upstream_jwt
        .as_ref()
        .map(|section| mint_stage::compile_upstream(section, env))
        .transpose()?;
    let signers: Vec<&mint_stage::Signer> = custom_jwt
        .iter()
        .map(|c| &c.signer)
        .chain(upstream_jwt.iter().map(|u| &u.signer))
        .collect();
    let jwks_endpoint = raw
        .jwks_endpoint
        .as_ref()
        .map(|s| mint_stage::compile_jwks_endpoint(s, &signers))
        .transpose()?;
    Ok(Config {
        auth: Authenticator::compile(raw)?,
        reconcile: raw
            .reconcile
            .as_ref()
            .map(reconcile_stage::compile)
            .transpose()?,
        custom_jwt,
        upstream_jwt,
        jwks_endpoint,
    })
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
        assert!(load(b"{}").unwrap().is_pass_through());
    }

    #[test]
    fn parse_empty_bytes_is_empty_object() {
        assert!(parse(b"").unwrap().reconcile.is_none());
        assert!(parse(b"  \n").unwrap().reconcile.is_none());
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
            "jwt.run_on_preflight: invalid type: string \"yes\", expected a boolean"
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
            load(br#"{"custom_jwt": {}}"#).unwrap_err().to_string(),
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
