//! JWS algorithms (RFC 7518 §3, RFC 8037 §3.1): the thirteen names this crate knows.
//!
//! `none` is not an algorithm here: parsing it is an error, so an unsecured JWS can never be
//! produced or accepted.

use std::fmt;
use std::str::FromStr;

use super::JoseError;

/// A JWS `alg` value supported by jwt-relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC with SHA-256.
    HS256,
    /// HMAC with SHA-384.
    HS384,
    /// HMAC with SHA-512.
    HS512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RS384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RS512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, 32-byte salt.
    PS256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, 48-byte salt.
    PS384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, 64-byte salt.
    PS512,
    /// ECDSA on P-256 with SHA-256, raw R||S signature (64 bytes).
    ES256,
    /// ECDSA on P-384 with SHA-384, raw R||S signature (96 bytes).
    ES384,
    /// ECDSA on P-521 with SHA-512, raw R||S signature (132 bytes).
    ES512,
    /// Edwards-curve signature on Ed25519 or Ed448 (RFC 8037); the key picks the curve.
    EdDSA,
}

/// The key family an algorithm belongs to; a key only ever serves its own family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// HMAC: a shared secret (JWK `kty: oct`).
    Hmac,
    /// RSA, PKCS#1 v1.5 or PSS padding (JWK `kty: RSA`).
    Rsa,
    /// ECDSA on a NIST curve (JWK `kty: EC`).
    Ec,
    /// EdDSA on Ed25519 or Ed448 (JWK `kty: OKP`).
    Ed,
}

/// The SHA-2 hash an algorithm uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sha {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

/// The elliptic curves of the ES* algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcCurve {
    /// NIST P-256 (secp256r1), for ES256.
    P256,
    /// NIST P-384 (secp384r1), for ES384.
    P384,
    /// NIST P-521 (secp521r1), for ES512.
    P521,
}

impl EcCurve {
    /// The JWK `crv` name (`P-256`, `P-384`, `P-521`).
    pub fn jwk_name(self) -> &'static str {
        match self {
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_jwk_name(name: &str) -> Option<Self> {
        match name {
            "P-256" => Some(Self::P256),
            "P-384" => Some(Self::P384),
            "P-521" => Some(Self::P521),
            _ => None,
        }
    }

    /// Length in bytes of one coordinate or scalar (and of R and S in a JWS signature).
    pub fn field_len(self) -> usize {
        match self {
            Self::P256 => 32,
            Self::P384 => 48,
            Self::P521 => 66,
        }
    }

    /// The one algorithm that uses this curve.
    pub fn algorithm(self) -> Algorithm {
        match self {
            Self::P256 => Algorithm::ES256,
            Self::P384 => Algorithm::ES384,
            Self::P521 => Algorithm::ES512,
        }
    }
}

impl Algorithm {
    /// All thirteen algorithms, in RFC 7518 order then EdDSA.
    pub const ALL: [Algorithm; 13] = [
        Self::HS256,
        Self::HS384,
        Self::HS512,
        Self::RS256,
        Self::RS384,
        Self::RS512,
        Self::PS256,
        Self::PS384,
        Self::PS512,
        Self::ES256,
        Self::ES384,
        Self::ES512,
        Self::EdDSA,
    ];

    /// The exact JOSE name, as it appears in a header's `alg`.
    pub fn name(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::HS384 => "HS384",
            Self::HS512 => "HS512",
            Self::RS256 => "RS256",
            Self::RS384 => "RS384",
            Self::RS512 => "RS512",
            Self::PS256 => "PS256",
            Self::PS384 => "PS384",
            Self::PS512 => "PS512",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::ES512 => "ES512",
            Self::EdDSA => "EdDSA",
        }
    }

    /// The key family this algorithm needs.
    pub fn family(self) -> Family {
        match self {
            Self::HS256 | Self::HS384 | Self::HS512 => Family::Hmac,
            Self::RS256 | Self::RS384 | Self::RS512 | Self::PS256 | Self::PS384 | Self::PS512 => {
                Family::Rsa
            }
            Self::ES256 | Self::ES384 | Self::ES512 => Family::Ec,
            Self::EdDSA => Family::Ed,
        }
    }

    /// The hash this algorithm uses (EdDSA hashes internally and returns `None`).
    pub fn sha(self) -> Option<Sha> {
        match self {
            Self::HS256 | Self::RS256 | Self::PS256 | Self::ES256 => Some(Sha::Sha256),
            Self::HS384 | Self::RS384 | Self::PS384 | Self::ES384 => Some(Sha::Sha384),
            Self::HS512 | Self::RS512 | Self::PS512 | Self::ES512 => Some(Sha::Sha512),
            Self::EdDSA => None,
        }
    }

    /// The curve an ES* algorithm requires; `None` for the others.
    pub fn ec_curve(self) -> Option<EcCurve> {
        match self {
            Self::ES256 => Some(EcCurve::P256),
            Self::ES384 => Some(EcCurve::P384),
            Self::ES512 => Some(EcCurve::P521),
            _ => None,
        }
    }

    /// True for the RSASSA-PSS algorithms (PS256/384/512).
    pub fn is_pss(self) -> bool {
        matches!(self, Self::PS256 | Self::PS384 | Self::PS512)
    }
}

impl FromStr for Algorithm {
    type Err = JoseError;

    /// Exact, case-sensitive JOSE names only; `none` and anything else is
    /// [`JoseError::InvalidAlg`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or(JoseError::InvalidAlg)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_str_every_name_round_trips() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.name().parse::<Algorithm>(), Ok(alg));
        }
    }

    #[test]
    fn from_str_none_or_other_case_rejected() {
        for bad in [
            "none", "None", "hs256", "RS1", "", "EdDSA ", "ES256K", "Ed25519",
        ] {
            assert_eq!(
                bad.parse::<Algorithm>(),
                Err(JoseError::InvalidAlg),
                "{bad}"
            );
        }
    }

    #[test]
    fn family_and_curve_consistent() {
        for alg in Algorithm::ALL {
            assert_eq!(alg.ec_curve().is_some(), alg.family() == Family::Ec);
            if let Some(c) = alg.ec_curve() {
                assert_eq!(c.algorithm(), alg);
                assert_eq!(EcCurve::from_jwk_name(c.jwk_name()), Some(c));
            }
        }
    }
}
