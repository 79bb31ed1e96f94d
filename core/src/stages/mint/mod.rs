//! Mint: tokens signed by the gateway for the upstream (x-custom-jwt and kong-upstream-jwt),
//! and the filter's own JWKS endpoint serving their public keys.

mod custom;
pub(crate) mod dn;
mod jti;
mod jwks_endpoint;
mod keys;
mod upstream;

pub use custom::{compile as compile_custom, CustomJwt, Minted};
pub use jwks_endpoint::{compile as compile_jwks_endpoint, JwksEndpoint};
pub use keys::{distinct_keys, Signer};
pub use upstream::{compile as compile_upstream, hex, UpstreamJwt};

/// Longest `expires_in` a stage mints with: a year, as the jwt stage's `maximum_expiration`.
pub const MAX_LIFETIME_SECONDS: u64 = 31_536_000;

/// `expires_in` checked: a token that expires as it is issued, or whose `exp` runs past any
/// clock, is a configuration error.
fn lifetime(seconds: u64, path: &str) -> Result<u64, crate::config::ConfigError> {
    if seconds == 0 || seconds > MAX_LIFETIME_SECONDS {
        return Err(crate::config::ConfigError::new(
            path,
            format!("must be from 1 to {MAX_LIFETIME_SECONDS} seconds"),
        ));
    }
    Ok(seconds)
}
