//! `application/x-www-form-urlencoded` decoding, shared by query strings and form bodies.

/// Decodes `%XX` escapes and `+` as space; malformed escapes stay as written, invalid UTF-8 is
/// replaced (never a panic).
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match bytes.get(i + 1..i + 3).and_then(hex_pair) {
                Some(v) => {
                    out.push(v);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_pair(pair: &[u8]) -> Option<u8> {
    let s = std::str::from_utf8(pair).ok()?;
    u8::from_str_radix(s, 16).ok()
}

/// Decoded `(name, value)` pairs in order; a name without `=` has the value `None`.
pub fn pairs(encoded: &str) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    encoded
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), Some(decode(v))),
            None => (decode(p), None),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_escapes_and_plus() {
        assert_eq!(decode("a%20b+c%2Bd"), "a b c+d");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz%4"), "%zz%4");
        assert_eq!(decode("%C3%A9"), "é");
        assert_eq!(decode("%FF"), "\u{fffd}");
    }

    #[test]
    fn pairs_keep_order_and_flag_missing_values() {
        let got: Vec<_> = pairs("a=1&&b&a=2&c=").collect();
        assert_eq!(
            got,
            [
                ("a".into(), Some("1".into())),
                ("b".into(), None),
                ("a".into(), Some("2".into())),
                ("c".into(), Some(String::new())),
            ]
        );
    }
}
