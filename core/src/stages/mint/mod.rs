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
pub use keys::Signer;
pub use upstream::{compile as compile_upstream, hex, UpstreamJwt};
