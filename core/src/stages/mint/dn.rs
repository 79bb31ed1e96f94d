//! The client certificate's subject DN as x-custom-jwt writes it for `client_id`.
//!
//! Both hosts give the DN in RFC 2253 form (Envoy's `connection.subject_peer_certificate`,
//! nginx's `$ssl_client_s_dn`): the last entry first (inside a multi-valued RDN too), `,`
//! between RDNs, `+` inside a multi-valued RDN, special characters escaped. The plugin iterates the certificate's name entries instead:
//! first RDN first, every attribute `key=value` with the raw value, joined by `", "`
//! (`C=US, ST=California, O=Kong Inc., OU=Konnect, CN=kong, emailAddress=…`). Upstreams compare
//! these strings, so the filter rewrites the host's form into the plugin's.

/// `rfc2253` in the plugin's order and separators, values unescaped.
pub fn plugin_form(rfc2253: &str) -> String {
    let mut attributes: Vec<String> = Vec::new();
    // OpenSSL's RFC 2253 form reverses every entry, those of a multi-valued RDN too
    // (`UID=js+CN=Smith,O=Acme,C=GB` for a certificate of C, O, then CN and UID in one RDN).
    for rdn in split_unescaped(rfc2253, ',').into_iter().rev() {
        for attribute in split_unescaped(rdn, '+').into_iter().rev() {
            attributes.push(unescape(attribute.trim_start()));
        }
    }
    attributes.join(", ")
}

/// `text` split at every `sep` not preceded by an escaping backslash.
fn split_unescaped(text: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            c if c == sep => {
                parts.push(text.get(start..i).unwrap_or_default());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text.get(start..).unwrap_or_default());
    parts
}

/// RFC 2253 §2.4 escapes undone: `\` + two hex digits is that byte, `\` + a character is the
/// character. Bytes that do not form UTF-8 are replaced (the claim must be a JSON string).
fn unescape(text: &str) -> String {
    let mut out: Vec<u8> = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b != b'\\' {
            out.push(b);
            i += 1;
            continue;
        }
        let hex = bytes
            .get(i + 1..i + 3)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (hex, bytes.get(i + 1)) {
            (Some(byte), _) => {
                out.push(byte);
                i += 3;
            }
            (None, Some(&next)) => {
                out.push(next);
                i += 2;
            }
            (None, None) => i += 1,
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_form_reverses_rdns_and_joins_with_comma_space() {
        // What Envoy and nginx report for the plugin's own example certificate.
        let host =
            "emailAddress=contact@konghq.com,CN=kong,OU=Konnect,O=Kong Inc.,ST=California,C=US";
        assert_eq!(
            plugin_form(host),
            "C=US, ST=California, O=Kong Inc., OU=Konnect, CN=kong, emailAddress=contact@konghq.com"
        );
    }

    #[test]
    fn plugin_form_unescapes_values_and_flattens_multi_valued_rdns() {
        // `openssl x509 -nameopt RFC2253` of a certificate whose subject is C, O, then CN and
        // UID in one RDN (`-multivalue-rdn -subj /C=GB/O=Acme/CN=Smith+UID=js`).
        assert_eq!(
            plugin_form("UID=js+CN=Smith,O=Acme,C=GB"),
            "C=GB, O=Acme, CN=Smith, UID=js"
        );
        assert_eq!(
            plugin_form(r"UID=js+CN=Smith\, John,O=A\+B \3C1\3E,C=GB"),
            "C=GB, O=A+B <1>, CN=Smith, John, UID=js"
        );
        assert_eq!(plugin_form(r"CN=\#hash\\slash"), r"CN=#hash\slash");
        assert_eq!(plugin_form("CN=caf\\C3\\A9"), "CN=café");
        assert_eq!(plugin_form("CN=trailing\\"), "CN=trailing");
        assert_eq!(plugin_form("CN=one"), "CN=one");
        assert_eq!(plugin_form(""), "");
    }
}
