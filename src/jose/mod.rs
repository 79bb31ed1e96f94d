//! JOSE: RFC 7515/7517/7518/7519 only (base64url, compact JWS, JWK/JWKS, algorithms, keys).
//! Pure Rust, no proxy-wasm, so it builds and tests on the host target.
