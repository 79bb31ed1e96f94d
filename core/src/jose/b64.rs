//! base64url (RFC 4648 §5) as JOSE uses it (RFC 7515 §2).
//!
//! Output is always unpadded base64url. Input leniency, chosen to match Kong's `jwt` parser
//! without going further: unpadded base64url is accepted, and so is base64url that carries the
//! correct trailing `=` padding (Kong pads before decoding, so padded tokens pass there).
//! Everything else is rejected: the standard alphabet's `+` and `/`, whitespace, misplaced or
//! excess `=`, and non-zero trailing bits (a non-canonical encoding).

use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine as _;

use super::JoseError;

/// How nginx's decoders read base64 (`ngx.decode_base64`, `ngx.decode_base64url`), which Kong
/// uses for `secret_is_base64` secrets and Basic credentials, not for tokens: `=` padding
/// optional, the unused bits of the last character ignored.
pub const NGINX_LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);

/// Encodes `bytes` as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url (unpadded, or with correct `=` padding); see the module doc for what is
/// rejected. The error carries no input.
pub fn decode(text: impl AsRef<[u8]>) -> Result<Vec<u8>, JoseError> {
    let text = text.as_ref();
    let outcome = if text.last() == Some(&b'=') {
        // Padded form: the `URL_SAFE` engine requires complete, canonical padding.
        URL_SAFE.decode(text)
    } else {
        URL_SAFE_NO_PAD.decode(text)
    };
    outcome.map_err(|_| JoseError::InvalidBase64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_bytes_has_no_padding() {
        assert_eq!(encode(b"a"), "YQ");
        assert_eq!(encode([0xfb, 0xff]), "-_8");
    }

    #[test]
    fn decode_unpadded_and_padded_both_accepted() {
        assert_eq!(decode("YQ").unwrap(), b"a");
        assert_eq!(decode("YQ==").unwrap(), b"a");
        assert_eq!(decode("-_8").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode("").unwrap(), b"");
    }

    #[test]
    fn decode_standard_alphabet_rejected() {
        assert_eq!(decode("+/8"), Err(JoseError::InvalidBase64));
    }

    #[test]
    fn decode_whitespace_or_bad_padding_rejected() {
        assert!(decode("Y Q").is_err());
        assert!(decode("YQ\n").is_err());
        assert!(decode("YQ=").is_err());
        assert!(decode("YQ===").is_err());
        assert!(decode("Y").is_err());
    }

    #[test]
    fn decode_noncanonical_trailing_bits_rejected() {
        // "YR" has non-zero bits past the single decoded byte.
        assert!(decode("YR").is_err());
    }
}
