//! PEM text (RFC 7468) to DER, and X.509 certificate helpers.
//!
//! The PEM reader is deliberately lax about layout, because operators paste keys into YAML and
//! Kong's admin API (OpenSSL reads them): surrounding text, `\r\n`, indentation and any line
//! width are accepted. The base64 body uses the standard alphabet with correct padding.
//! Encapsulated headers (`Proc-Type:`, legacy encrypted PEM) are rejected.

use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use zeroize::Zeroizing;

use super::JoseError;

/// Bound on the PEM text accepted, in bytes (a 16-certificate chain of 8192-bit RSA fits).
pub const MAX_PEM_LEN: usize = 256 * 1024;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block, decoded.
pub struct PemBlock {
    /// The label, e.g. `PUBLIC KEY`, `RSA PRIVATE KEY`, `CERTIFICATE`.
    pub label: String,
    /// The decoded DER bytes; zeroized on drop since they may be a private key.
    pub der: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for PemBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PemBlock")
            .field("label", &self.label)
            .field("der_len", &self.der.len())
            .finish()
    }
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

fn end_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----END ")?.strip_suffix("-----")
}

/// Decodes every PEM block in `text`, in order. Text outside blocks is ignored; an unterminated
/// block, a mismatched END label, a header line or bad base64 is an error; no block at all is an
/// error too.
pub fn parse_blocks(text: &str) -> Result<Vec<PemBlock>, JoseError> {
    if text.len() > MAX_PEM_LEN {
        return Err(JoseError::InvalidKey("PEM text too large"));
    }
    let mut blocks = Vec::new();
    let mut current: Option<(&str, Zeroizing<String>)> = None;
    for raw in text.lines() {
        let line = raw.trim();
        match current.take() {
            None => {
                if let Some(label) = begin_label(line) {
                    current = Some((label, Zeroizing::new(String::new())));
                }
            }
            Some((label, mut body)) => {
                if let Some(end) = end_label(line) {
                    if end != label {
                        return Err(JoseError::InvalidKey("PEM END label does not match BEGIN"));
                    }
                    let der = STANDARD
                        .decode(body.as_bytes())
                        .map_err(|_| JoseError::InvalidKey("PEM body is not base64"))?;
                    blocks.push(PemBlock {
                        label: label.to_owned(),
                        der: Zeroizing::new(der),
                    });
                } else if line.contains(':') {
                    return Err(JoseError::UnsupportedKey(
                        "PEM with headers (legacy encrypted key)",
                    ));
                } else {
                    body.push_str(line);
                    current = Some((label, body));
                }
            }
        }
    }
    if current.is_some() {
        return Err(JoseError::InvalidKey("PEM block without END line"));
    }
    if blocks.is_empty() && text.contains("-----BEGIN") && text.contains("\\n") {
        // A PEM pasted into one line of an env file or YAML with its breaks written `\n`.
        return Err(JoseError::InvalidKey(
            "no PEM block found: the text has a literal \\n where a line break belongs",
        ));
    }
    if blocks.is_empty() {
        return Err(JoseError::InvalidKey("no PEM block found"));
    }
    Ok(blocks)
}

/// Encodes DER as one PEM block (RFC 7468 strict form: 64-column base64 lines, `\n` endings,
/// a final newline). The text holds whatever `der` holds: wrap it in `Zeroizing` for keys.
pub fn encode(label: &str, der: &[u8]) -> String {
    let body = Zeroizing::new(STANDARD.encode(der));
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        // base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Decodes exactly one PEM block (more than one is an error: a key PEM holds one key). An
/// `EC PARAMETERS` block is passed over, as OpenSSL passes it: `openssl ecparam -genkey` writes
/// the curve's before the key, which names its curve itself.
pub fn parse_single(text: &str) -> Result<PemBlock, JoseError> {
    let mut blocks = parse_blocks(text)?;
    blocks.retain(|block| block.label != "EC PARAMETERS");
    match (blocks.pop(), blocks.is_empty()) {
        (Some(block), true) => Ok(block),
        _ => Err(JoseError::InvalidKey("expected exactly one PEM block")),
    }
}

/// Parses a PEM certificate chain (leaf first, as `x5c` wants it) into DER certificates. Every
/// block must be a `CERTIFICATE` that parses as X.509.
pub fn parse_certificate_chain(text: &str) -> Result<Vec<Vec<u8>>, JoseError> {
    parse_blocks(text)?
        .into_iter()
        .map(|block| {
            if block.label != "CERTIFICATE" {
                return Err(JoseError::InvalidKey(
                    "certificate chain holds a non-certificate",
                ));
            }
            certificate_spki(&block.der)?;
            Ok(block.der.to_vec())
        })
        .collect()
}

/// The DER SubjectPublicKeyInfo of a DER X.509 certificate (see `certificate` for what is
/// checked).
pub fn certificate_spki(cert_der: &[u8]) -> Result<Vec<u8>, JoseError> {
    super::certificate::subject_public_key_info(cert_der)
        .map(<[u8]>::to_vec)
        .ok_or(JoseError::InvalidKey("malformed X.509 certificate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_blocks_lax_layout_accepted() {
        let text = "junk before\r\n  -----BEGIN TEST-----\r\n  AAEC\r\nAw==\r\n-----END TEST-----\ntrailing";
        let blocks = parse_blocks(text).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "TEST");
        assert_eq!(blocks[0].der.as_slice(), &[0, 1, 2, 3]);
    }

    #[test]
    fn parse_blocks_mismatched_end_rejected() {
        let text = "-----BEGIN A-----\nAAEC\n-----END B-----\n";
        assert!(parse_blocks(text).is_err());
    }

    #[test]
    fn parse_blocks_unterminated_or_empty_rejected() {
        assert!(parse_blocks("-----BEGIN A-----\nAAEC\n").is_err());
        assert!(parse_blocks("no pem here").is_err());
    }

    #[test]
    fn parse_blocks_encrypted_header_rejected() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAEC\n-----END RSA PRIVATE KEY-----\n";
        assert_eq!(
            parse_blocks(text).unwrap_err(),
            JoseError::UnsupportedKey("PEM with headers (legacy encrypted key)")
        );
    }

    #[test]
    fn parse_single_two_blocks_rejected() {
        let text =
            "-----BEGIN A-----\nAA==\n-----END A-----\n-----BEGIN A-----\nAA==\n-----END A-----\n";
        assert!(parse_single(text).is_err());
    }

    /// `openssl ecparam -name prime256v1 -genkey` writes the curve's parameters before the
    /// key; OpenSSL (so Kong's plugins) reads the key, and so does the filter (review: it was
    /// refused as two blocks). Only that block is passed over.
    #[test]
    fn parse_single_passes_over_ec_parameters() {
        let sec1 = include_str!("../../../tests/fixtures/jose/ec_p256_sec1.pem");
        let params =
            "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n";
        let both = format!("{params}{sec1}");
        assert_eq!(
            parse_single(&both).unwrap().der,
            parse_single(sec1).unwrap().der
        );
        let key = crate::jose::SigningKey::parse_pem(&both).unwrap();
        let alone = crate::jose::SigningKey::parse_pem(sec1).unwrap();
        assert_eq!(
            key.verifying_key().to_spki_der().unwrap(),
            alone.verifying_key().to_spki_der().unwrap()
        );
        assert_eq!(
            parse_single(params).unwrap_err(),
            JoseError::InvalidKey("expected exactly one PEM block")
        );
    }

    /// A PEM squeezed onto one line with its breaks written `\n` says so.
    #[test]
    fn a_pem_with_literal_backslash_n_says_so() {
        let sec1 = include_str!("../../../tests/fixtures/jose/ec_p256_sec1.pem");
        let one_line = sec1.replace('\n', "\\n");
        assert_eq!(
            parse_blocks(&one_line).unwrap_err(),
            JoseError::InvalidKey(
                "no PEM block found: the text has a literal \\n where a line break belongs"
            )
        );
    }

    #[test]
    fn encode_long_der_wraps_at_64_and_parses_back() {
        let der: Vec<u8> = (0..=255u8).collect();
        let text = encode("TEST", &der);
        assert!(text.starts_with("-----BEGIN TEST-----\n"));
        assert!(text.ends_with("-----END TEST-----\n"));
        assert!(text.lines().all(|l| l.len() <= 64));
        let block = parse_single(&text).unwrap();
        assert_eq!(
            (block.label.as_str(), block.der.as_slice()),
            ("TEST", der.as_slice())
        );
    }

    #[test]
    fn encode_empty_der_has_no_body_line() {
        assert_eq!(encode("X", &[]), "-----BEGIN X-----\n-----END X-----\n");
    }

    #[test]
    fn debug_block_hides_der() {
        let block = PemBlock {
            label: "PRIVATE KEY".into(),
            der: Zeroizing::new(vec![0x42; 4]),
        };
        let shown = format!("{block:?}");
        assert!(!shown.contains("66"), "{shown}");
        assert!(shown.contains("der_len: 4"));
    }
}
