//! The runtime pipeline: every configured stage compiled from the wire configuration
//! ([`crate::config::RawConfig`]), keys parsed and references resolved once, at configure time.

use super::auth::Authenticator;
use super::mint::{self as mint_stage, CustomJwt, JwksEndpoint, UpstreamJwt};
use super::reconcile::{self as reconcile_stage, Reconcile};
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
        Ok(Self {
            auth: Authenticator::compile(raw)?,
            // The reconcile stage learns the headers the other stages set: an answer never
            // overwrites them.
            reconcile: reconcile_stage::compile_in(raw)?,
            custom_jwt,
            upstream_jwt,
            jwks_endpoint,
        })
    }
}
