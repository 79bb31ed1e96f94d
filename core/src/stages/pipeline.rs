//! The runtime pipeline: every configured stage compiled from the wire configuration
//! ([`crate::config::RawConfig`]), keys parsed and references resolved once, at configure time.

use super::auth::Authenticator;
use super::auth::CONSUMER_HEADERS;
use super::headers::{canonical, kong_header_name, same_header};
use super::mint::{self as mint_stage, CustomJwt, JwksEndpoint, UpstreamJwt};
use super::reconcile::{
    self as reconcile_stage, Reconcile, ENVOY_PREFIX, FAILURE_MODE_HEADER, NEVER_INJECTED,
};
use crate::config::{parse, process_env, ConfigError, Env, RawConfig};

/// The runtime configuration: everything a request needs, validated and keys pre-parsed.
#[derive(Debug, Clone, Default)]
pub struct Pipeline {
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
    /// The configuration's `metrics`: `Some` decides; `None` means on Envoy only.
    pub metrics: Option<bool>,
}

impl Pipeline {
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

    /// What loads but deserves a warning in the log (`path: problem` each).
    pub fn warnings(&self) -> Vec<String> {
        let auth = self.auth.as_ref().map(|a| a.warnings()).unwrap_or_default();
        let signers = self
            .custom_jwt
            .iter()
            .map(|c| &c.signer)
            .chain(self.upstream_jwt.iter().map(|u| &u.signer));
        let keys = signers.filter_map(|s| s.warning.clone());
        let unverified = self
            .custom_jwt
            .as_ref()
            .filter(|c| c.allow_unverified)
            .map(|_| {
                "custom_jwt.allow_unverified_credentials: insecure: a Bearer payload, a Basic \
                 user or an API key nobody verified becomes the minted token's identity"
                    .to_string()
            });
        auth.iter().cloned().chain(keys).chain(unverified).collect()
    }

    /// True when no stage is configured: every request passes through untouched.
    pub fn is_pass_through(&self) -> bool {
        self.auth.is_none()
            && self.reconcile.is_none()
            && self.custom_jwt.is_none()
            && self.upstream_jwt.is_none()
            && self.jwks_endpoint.is_none()
    }
}

impl Pipeline {
    /// Parses and compiles the configuration, reading named environment variables from
    /// [`process_env`]: what `on_configure` calls.
    pub fn load(bytes: &[u8]) -> Result<Self, ConfigError> {
        Self::load_with_env(bytes, &process_env)
    }

    /// [`Self::load`] with the environment variables of `env`.
    pub fn load_with_env(bytes: &[u8], env: Env) -> Result<Self, ConfigError> {
        Self::compile_with_env(&parse(bytes)?, env)
    }

    /// Turns the wire form into the runtime form: keys parsed, references resolved, environment
    /// variables read from [`process_env`].
    pub fn compile(raw: &RawConfig) -> Result<Self, ConfigError> {
        Self::compile_with_env(raw, &process_env)
    }

    /// [`Self::compile`] with the environment variables of `env`.
    pub fn compile_with_env(raw: &RawConfig, env: Env) -> Result<Self, ConfigError> {
        check_set_names(raw)?;
        let mut custom_jwt = raw
            .custom_jwt
            .as_ref()
            .map(mint_stage::compile_custom)
            .transpose()?;
        let upstream_jwt = raw
            .upstream_jwt
            .as_ref()
            .map(|section| mint_stage::compile_upstream(section, env))
            .transpose()?;
        if let (Some(custom), Some(upstream)) = (custom_jwt.as_mut(), upstream_jwt.as_ref()) {
            mint_stage::distinct_keys(&custom.signer, &upstream.signer)?;
            custom.reserve(upstream.own_claims());
        }
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
        Ok(Self {
            auth: Authenticator::compile(raw)?,
            // The reconcile stage learns the headers the other stages set: an answer never
            // overwrites them.
            reconcile: reconcile_stage::compile_in(raw)?,
            custom_jwt,
            upstream_jwt,
            jwks_endpoint,
            metrics: raw.metrics,
        })
    }
}

/// The header names the stages set, each refused at load unless it is a header name
/// (RFC 9110 token characters) the filter may set: never framing, hop-by-hop or `X-Envoy-*`
/// (which would desynchronise or steer the upstream request), and for claims never a consumer
/// header (authentication's word on the caller).
fn check_set_names(raw: &RawConfig) -> Result<(), ConfigError> {
    // Every request header a stage sets, with its path: no two may name one header (the later
    // stage would overwrite the other's value without a word), nor a consumer header.
    let mut request: Vec<(String, &str)> = Vec::new();
    if let Some(jwt) = &raw.jwt {
        for (i, c) in jwt.claims_to_headers.iter().enumerate() {
            request.push((format!("jwt.claims_to_headers[{i}].header"), &c.header));
        }
    }
    if let Some(custom) = &raw.custom_jwt {
        // x-custom-jwt's schema takes these as Kong's `typedefs.header_name`.
        let path = "custom_jwt.upstream_custom_jwt_header";
        kong_header_name(&custom.upstream_custom_jwt_header)
            .map_err(|problem| ConfigError::new(path, problem))?;
        request.push((path.into(), &custom.upstream_custom_jwt_header));
        if let Some(down) = &custom.downstream_custom_jwt_header {
            let path = "custom_jwt.downstream_custom_jwt_header";
            kong_header_name(down).map_err(|problem| ConfigError::new(path, problem))?;
            settable(down).map_err(|problem| ConfigError::new(path, problem))?;
        }
    }
    if let Some(upstream) = &raw.upstream_jwt {
        request.push(("upstream_jwt.header".into(), &upstream.header));
    }
    for (i, (path, name)) in request.iter().enumerate() {
        settable(name).map_err(|problem| ConfigError::new(path, problem))?;
        let normal = canonical(name);
        // A claim there would be read as a credential: a consumer's own token with
        // `"sub": "Basic YWRtaW46…"` would speak for another user upstream.
        if path.starts_with("jwt.claims_to_headers") && carries_credentials(raw, &normal) {
            return Err(ConfigError::new(path, "is a credential header"));
        }
        if CONSUMER_HEADERS.contains(&normal.as_str()) {
            return Err(ConfigError::new(
                path,
                "is a consumer header the filter sets",
            ));
        }
        // Only the filter says the auth service was down (`failure_mode_allow`).
        if normal == FAILURE_MODE_HEADER {
            return Err(ConfigError::new(path, "is reconcile's failure-mode marker"));
        }
        let earlier = request
            .iter()
            .take(i)
            .find(|(_, other)| same_header(name, other));
        if let Some((other, _)) = earlier {
            return Err(ConfigError::new(
                path,
                format!("names the header {other} sets"),
            ));
        }
    }
    Ok(())
}

/// True when `normal` (in [`canonical`] form) carries credentials: `Authorization`,
/// `Proxy-Authorization`, `Cookie`, or a configured token or key header.
fn carries_credentials(raw: &RawConfig, normal: &str) -> bool {
    let tokens = raw.jwt.iter().flat_map(|j| j.header_names.iter());
    let keys = raw.key_auth.iter().flat_map(|k| k.key_names.iter());
    ["authorization", "proxy-authorization", "cookie"].contains(&normal)
        || tokens.chain(keys).any(|n| canonical(n) == normal)
}

/// Why the filter may not set a header named `name`, if it may not.
fn settable(name: &str) -> Result<(), &'static str> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err("must be a header name (letters, digits and !#$%&'*+-.^_`|~)");
    }
    let name = canonical(name);
    if NEVER_INJECTED.contains(&name.as_str()) || name.starts_with(ENVOY_PREFIX) {
        return Err("is a framing, hop-by-hop, control or X-Envoy- header the filter must not set");
    }
    if reconcile_stage::is_override(&name) {
        return Err(
            "overrides the request's method or URL where frameworks read it: the filter \
             must not set it",
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Pipeline;

    fn refusal(config: &str) -> String {
        Pipeline::load(config.as_bytes()).unwrap_err().to_string()
    }

    const NOT_A_NAME: &str = "must be a header name (letters, digits and !#$%&'*+-.^_`|~)";
    const NOT_SETTABLE: &str =
        "is a framing, hop-by-hop, control or X-Envoy- header the filter must not set";

    /// One key for both mint stages is refused: a custom token, whose claims a consumer chose,
    /// would verify as an upstream token even where that key is pinned (review). Whatever
    /// the algorithm each stage signs with, and for an HMAC secret too.
    #[test]
    fn one_key_for_both_mint_stages_is_refused() {
        let pem = include_str!("../../../tests/fixtures/jose/ec_p256_pkcs8.pem");
        let other = include_str!("../../../tests/fixtures/jose/ed25519_pkcs8.pem");
        let rsa = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        let jwk = |k: &str, alg: &str| serde_json::json!({"kty": "oct", "alg": alg, "k": k});
        let secret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        let config = |custom: serde_json::Value, upstream: &str, alg: &str| {
            serde_json::json!({"custom_jwt": {"private_jwk": custom, "k_verbatim": false},
                "upstream_jwt": {"private_key": upstream, "algorithm": alg, "x5c": false}})
            .to_string()
        };
        let same = "custom_jwt.private_jwk: is upstream_jwt's signing key: a custom token would \
            verify as an upstream token; give each stage its own key";
        let up_hmac = jwk(secret, "HS512").to_string();
        assert_eq!(
            refusal(&config(jwk(secret, "HS256"), &up_hmac, "HS512")),
            same
        );
        let other_secret = jwk("b3RoZXItc2VjcmV0LW90aGVyLXNlY3JldC1vdGhlcg", "HS256");
        assert!(Pipeline::load(config(other_secret, &up_hmac, "HS512").as_bytes()).is_ok());
        // The same EC key as a private JWK for one stage and a PEM for the other.
        let key = crate::jose::SigningKey::parse_pem(pem).unwrap();
        let jwk_of = crate::jose::Jwk::from_keys(key.verifying_key(), Some(key));
        let mut private = serde_json::Value::Object(jwk_of.to_private_json().unwrap());
        private["alg"] = "ES256".into();
        assert_eq!(refusal(&config(private.clone(), pem, "ES256")), same);
        assert_eq!(
            refusal(&config(private.clone(), &private.to_string(), "ES256")),
            same
        );
        assert!(Pipeline::load(config(jwk(secret, "HS256"), other, "EdDSA").as_bytes()).is_ok());
        assert!(Pipeline::load(config(jwk(secret, "HS256"), rsa, "PS256").as_bytes()).is_ok());
    }

    /// Two stages setting one request header: the later would overwrite the other's value
    /// (the custom token lost under `upstream_jwt`'s), or a token would stand in for the
    /// verified consumer id. Spellings an upstream reads as one header count as one.
    #[test]
    fn set_headers_may_not_collide_nor_be_consumer_headers() {
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        let jwk = serde_json::json!({"kty": "oct", "alg": "HS256",
            "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"});
        let upstream =
            |header: &str| serde_json::json!({"private_key": pem, "x5c": false, "header": header});
        let custom = |header: &str| serde_json::json!({"private_jwk": jwk, "upstream_custom_jwt_header": header});
        let claims = |a: &str, b: &str| {
            serde_json::json!({"claims_to_headers": [
            {"claim": "sub", "header": a}, {"claim": "iss", "header": b}]})
        };
        let config = |v: serde_json::Value| v.to_string();
        for (c, expected) in [
            (config(serde_json::json!({"custom_jwt": custom("JWT"), "upstream_jwt": upstream("jwt")})),
             "upstream_jwt.header: names the header custom_jwt.upstream_custom_jwt_header sets"),
            (config(serde_json::json!({"custom_jwt": custom("x_token"), "upstream_jwt": upstream("X-Token")})),
             "upstream_jwt.header: names the header custom_jwt.upstream_custom_jwt_header sets"),
            (config(serde_json::json!({"jwt": claims("x-sub", "X_SUB")})),
             "jwt.claims_to_headers[1].header: names the header jwt.claims_to_headers[0].header sets"),
            (config(serde_json::json!({"jwt": claims("x-iss", "x-a"), "upstream_jwt": upstream("X-Iss")})),
             "upstream_jwt.header: names the header jwt.claims_to_headers[0].header sets"),
            (config(serde_json::json!({"upstream_jwt": upstream("X-Consumer-ID")})),
             "upstream_jwt.header: is a consumer header the filter sets"),
            (config(serde_json::json!({"custom_jwt": custom("x_credential_identifier")})),
             "custom_jwt.upstream_custom_jwt_header: is a consumer header the filter sets"),
            (
                config(serde_json::json!({"upstream_jwt": upstream("X-Reconcile-Failure-Mode-Allowed")})),
                "upstream_jwt.header: is reconcile's failure-mode marker",
            ),
            (
                config(serde_json::json!({"jwt": claims("x_reconcile_failure_mode_allowed", "x-b")})),
                "jwt.claims_to_headers[0].header: is reconcile's failure-mode marker",
            ),
        ] {
            assert_eq!(refusal(&c), expected, "{c}");
        }
        let apart = serde_json::json!({"custom_jwt": custom("X-Custom-JWT"), "upstream_jwt": upstream("JWT"),
            "jwt": claims("x-sub", "x-iss")});
        assert!(Pipeline::load(apart.to_string().as_bytes()).is_ok());
    }

    /// A claim copied into a credential header would be read as a credential upstream (and
    /// by the auth service): a consumer signing `"sub": "Basic YWRtaW46…"` with its own key
    /// would speak for another user (review). A minted token may still go there.
    #[test]
    fn claims_never_go_to_a_credential_header() {
        let claim = |header: &str, more: &str| {
            refusal(&format!(
                r#"{{"jwt": {{"header_names": ["x-token"], "claims_to_headers": [{{"claim": "sub", "header": {header:?}}}]}}{more}}}"#
            ))
        };
        let refused = "jwt.claims_to_headers[0].header: is a credential header";
        for name in ["Authorization", "proxy_authorization", "COOKIE", "X-Token"] {
            assert_eq!(claim(name, ""), refused, "{name}");
        }
        assert_eq!(
            claim("x-api", r#", "key_auth": {"key_names": ["X_Api"]}"#),
            refused
        );
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        let minted = serde_json::json!({"upstream_jwt": {"private_key": pem, "x5c": false,
            "header": "Authorization", "include_credential_type": true}});
        assert!(Pipeline::load(minted.to_string().as_bytes()).is_ok());
    }

    #[test]
    fn claim_headers_must_be_names_the_filter_may_set() {
        let claim = |header: &str| {
            refusal(&format!(
                r#"{{"jwt": {{"claims_to_headers": [{{"claim": "a", "header": "x-a"}},
                    {{"claim": "sub", "header": {header:?}}}]}}}}"#
            ))
        };
        let at = "jwt.claims_to_headers[1].header: ";
        for bad in ["", "x sub", "x-sub\r\nx-admin: 1", ":path", "x-süb"] {
            assert_eq!(claim(bad), format!("{at}{NOT_A_NAME}"), "{bad:?}");
        }
        for framing in [
            "Host",
            "content-length",
            "Transfer_Encoding",
            "x-envoy-retry-on",
            "Expect",
        ] {
            assert_eq!(claim(framing), format!("{at}{NOT_SETTABLE}"), "{framing}");
        }
        let overriding = "overrides the request's method or URL where frameworks read it: the \
            filter must not set it";
        for name in ["X-HTTP-Method-Override", "x_original_url", "X-Rewrite-URL"] {
            assert_eq!(claim(name), format!("{at}{overriding}"), "{name}");
        }
        assert_eq!(
            upstream_header_refusal("X-Method-Override"),
            format!("upstream_jwt.header: {overriding}")
        );
        for consumer in [
            "X-Consumer-ID",
            "x_anonymous_consumer",
            "X-Credential-Identifier",
        ] {
            assert_eq!(
                claim(consumer),
                format!("{at}is a consumer header the filter sets"),
                "{consumer}"
            );
        }
        let fine = r#"{"jwt": {"claims_to_headers": [{"claim": "sub", "header": "X-User_Id"}]}}"#;
        assert!(Pipeline::load(fine.as_bytes()).is_ok());
    }

    fn upstream_header_refusal(header: &str) -> String {
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        let config = serde_json::json!({"upstream_jwt": {
            "private_key": pem, "x5c": false, "header": header}});
        refusal(&config.to_string())
    }

    #[test]
    fn minted_token_headers_must_be_names_the_filter_may_set() {
        let upstream = upstream_header_refusal;
        assert_eq!(
            upstream("J W T"),
            format!("upstream_jwt.header: {NOT_A_NAME}")
        );
        assert_eq!(
            upstream("Content-Length"),
            format!("upstream_jwt.header: {NOT_SETTABLE}")
        );
        let jwk = r#"{"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA", "alg": "HS256"}"#;
        let custom = |field: &str, header: &str| {
            refusal(&format!(
                r#"{{"custom_jwt": {{"private_jwk": {jwk}, "{field}": {header:?}}}}}"#
            ))
        };
        assert_eq!(
            custom("upstream_custom_jwt_header", "connection"),
            format!("custom_jwt.upstream_custom_jwt_header: {NOT_SETTABLE}")
        );
        // x-custom-jwt's schema: Kong's `typedefs.header_name`, Kong's words.
        let kong = "allowed characters are A-Z, a-z, 0-9, '_', and '-'";
        assert_eq!(
            custom("downstream_custom_jwt_header", "x-jwt\n"),
            format!("custom_jwt.downstream_custom_jwt_header: bad header name 'x-jwt\\n', {kong}")
        );
        assert_eq!(
            custom("upstream_custom_jwt_header", "x.custom.jwt"),
            format!(
                "custom_jwt.upstream_custom_jwt_header: bad header name 'x.custom.jwt', {kong}"
            )
        );
        // upstream_jwt's header is any token (Optum's schema takes any string).
        let pem = include_str!("../../../tests/fixtures/jose/rsa2048_pkcs8.pem");
        let config = serde_json::json!({"upstream_jwt": {"private_key": pem, "x5c": false, "header": "x.jwt"}});
        assert!(Pipeline::load(config.to_string().as_bytes()).is_ok());
    }

    /// A signing JWK whose `use` or `key_ops` (RFC 7517 §4.2, §4.3) rule out signing loads with
    /// a warning and signs, as x-custom-jwt signs with any JWK; `key_ops` naming `sign` (and
    /// `use: sig`) loads without one.
    #[test]
    fn signing_jwk_not_meant_for_signing_loads_with_a_warning() {
        let k = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        let warnings = |extra: &str| {
            let jwk = format!(r#"{{"kty": "oct", "k": "{k}", "alg": "HS256"{extra}}}"#);
            let config = format!(r#"{{"custom_jwt": {{"private_jwk": {jwk}}}}}"#);
            Pipeline::load(config.as_bytes()).unwrap().warnings()
        };
        let warned = "custom_jwt.private_jwk: its \"use\" is not \"sig\" or its \"key_ops\" \
            lack \"sign\": it signs all the same, as x-custom-jwt does";
        for extra in [
            r#", "key_ops": ["verify"]"#,
            r#", "key_ops": []"#,
            r#", "use": "enc""#,
            r#", "use": "sig", "key_ops": ["encrypt"]"#,
        ] {
            assert_eq!(warnings(extra), [warned], "{extra}");
        }
        for extra in [
            "",
            r#", "key_ops": ["sign"]"#,
            r#", "use": "sig", "key_ops": ["sign", "verify"]"#,
        ] {
            assert!(warnings(extra).is_empty(), "{extra}");
        }
        let insecure = r#"{"custom_jwt": {"private_jwk": {"kty": "oct", "alg": "HS256",
            "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA"}, "allow_unverified_credentials": true}}"#;
        assert_eq!(
            Pipeline::load(insecure.as_bytes()).unwrap().warnings(),
            ["custom_jwt.allow_unverified_credentials: insecure: a Bearer payload, a Basic user \
              or an API key nobody verified becomes the minted token's identity"]
        );
        // A short HMAC minting key: the client that gets the token back can guess it offline.
        let short = r#"{"custom_jwt": {"private_jwk": {"kty": "oct", "k": "YQ", "alg": "HS256"}}}"#;
        assert_eq!(
            Pipeline::load(short.as_bytes()).unwrap().warnings(),
            ["custom_jwt.private_jwk: HMAC secret shorter than the 32 bytes RFC 7518 asks for HS256"]
        );
    }
}
