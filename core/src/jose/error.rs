//! The one error type of the JOSE core.
//!
//! Every variant has a stable, client-safe [`JoseError::message`]. The token-parse variants carry
//! exactly the texts of Kong's `jwt` plugin decoder (`kong/plugins/jwt/jwt_parser.lua`), so the
//! filter can reproduce Kong's answers; the others are ours. No variant holds key material, a
//! token or any input text: details are `&'static str` reasons chosen by this crate.

use std::fmt;

/// Everything that can go wrong in `jose`: token parsing, key import and sign/verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoseError {
    /// The token is longer than [`crate::jose::jws::MAX_TOKEN_LEN`]; nothing was decoded.
    TokenTooLarge,
    /// Fewer than three segments, or a header/claims segment that is not base64url JSON
    /// (or a header that is not a JSON object). Kong: `invalid JSON`.
    InvalidJson,
    /// `header.alg` is missing, not a string, or not one of the 13 supported names
    /// (`none` included). Kong: `invalid alg`.
    InvalidAlg,
    /// The claims segment is JSON but not a JSON object. Kong: `invalid claims`.
    InvalidClaims,
    /// The signature segment is not base64url. Kong: `invalid signature`.
    InvalidSignatureEncoding,
    /// The header has a `crit` member (RFC 7515 §4.1.11). No extension is understood here, so
    /// any `crit`, well formed or not, makes the token invalid. `unsupported crit`.
    UnsupportedCrit,
    /// The header has a `b64` member other than `true` (RFC 7797): the payload would not be
    /// base64url, which this crate does not implement. `unsupported b64`.
    UnsupportedB64,
    /// A value that should be base64url (no padding, or correct `=` padding) is not.
    InvalidBase64,
    /// The key may not be used with this algorithm (wrong family, wrong curve, or an HMAC
    /// secret asked for an asymmetric algorithm and vice versa).
    AlgorithmMismatch,
    /// The signature is well formed for the algorithm but does not verify, or has the wrong
    /// length for it.
    SignatureMismatch,
    /// The key can verify but not sign (a public key was given where a private key is needed).
    NotASigningKey,
    /// Key material (PEM, DER, JWK members) is malformed or out of bounds; the reason is static.
    InvalidKey(&'static str),
    /// The key is well formed but of a type or curve this crate does not support.
    UnsupportedKey(&'static str),
    /// A JWK or JWKS document is malformed; the reason is static.
    InvalidJwk(&'static str),
    /// The crypto backend failed to produce a signature (e.g. no randomness available).
    SigningFailed,
}

impl JoseError {
    /// The stable, client-safe text of this error (without the static detail, if any).
    pub fn message(&self) -> &'static str {
        match self {
            Self::TokenTooLarge => "token too large",
            Self::InvalidJson => "invalid JSON",
            Self::InvalidAlg => "invalid alg",
            Self::InvalidClaims => "invalid claims",
            Self::InvalidSignatureEncoding => "invalid signature",
            Self::UnsupportedCrit => "unsupported crit",
            Self::UnsupportedB64 => "unsupported b64",
            Self::InvalidBase64 => "invalid base64url",
            Self::AlgorithmMismatch => "algorithm not allowed for this key",
            Self::SignatureMismatch => "signature verification failed",
            Self::NotASigningKey => "key cannot sign",
            Self::InvalidKey(_) => "invalid key",
            Self::UnsupportedKey(_) => "unsupported key",
            Self::InvalidJwk(_) => "invalid JWK",
            Self::SigningFailed => "signing failed",
        }
    }

    /// The static detail of key/JWK errors (never derived from input), if any.
    pub fn detail(&self) -> Option<&'static str> {
        match self {
            Self::InvalidKey(d) | Self::UnsupportedKey(d) | Self::InvalidJwk(d) => Some(d),
            _ => None,
        }
    }
}

impl fmt::Display for JoseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.detail() {
            Some(d) => write!(f, "{}: {}", self.message(), d),
            None => f.write_str(self.message()),
        }
    }
}

impl std::error::Error for JoseError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_parse_variants_match_kong_texts() {
        assert_eq!(JoseError::InvalidJson.message(), "invalid JSON");
        assert_eq!(JoseError::InvalidAlg.message(), "invalid alg");
        assert_eq!(JoseError::InvalidClaims.message(), "invalid claims");
        assert_eq!(
            JoseError::InvalidSignatureEncoding.message(),
            "invalid signature"
        );
    }

    #[test]
    fn display_with_detail_appends_static_reason() {
        let e = JoseError::InvalidKey("RSA modulus too small");
        assert_eq!(e.to_string(), "invalid key: RSA modulus too small");
        assert_eq!(JoseError::InvalidAlg.to_string(), "invalid alg");
    }
}
