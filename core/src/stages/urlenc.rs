//! `application/x-www-form-urlencoded` decoding, shared by query strings and form bodies.

/// Decodes one component (a name, or a value without `&`): `%XX` escapes and `+` as space;
/// malformed escapes stay as written, invalid UTF-8 is replaced (never a panic).
pub fn decode(text: &str) -> String {
    // A component has no `&`; `parse` splits its one pair at the first `=`, so the name is the
    // whole component only when there is none: put it back.
    match form_urlencoded::parse(text.as_bytes()).next() {
        Some((name, value)) if text.contains('=') => format!("{name}={value}"),
        Some((name, _)) => name.into_owned(),
        None => String::new(),
    }
}

/// Decoded `(name, value)` pairs in order; a name without `=` has the value `None` (Kong reads
/// `?jwt` as `true`, not as an empty value).
pub fn pairs(encoded: &str) -> impl Iterator<Item = (String, Option<String>)> + '_ {
    encoded
        .split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| {
            let (name, value) = form_urlencoded::parse(p.as_bytes()).next()?;
            let value = p.contains('=').then(|| value.into_owned());
            Some((name.into_owned(), value))
        })
}

/// A query's [`pairs`] as Kong reads it, and as Rack 2, Python before 3.9.2 and Go before 1.17
/// read it, split on `;` too (`a=1;b=2` is one pair, then two): where a credential is read, a
/// second one in the other reading would reach such an upstream.
pub type Readings = (Vec<(String, Option<String>)>, Vec<(String, Option<String>)>);

/// The two [`Readings`] of `query`.
pub fn readings(query: &str) -> Readings {
    (
        pairs(query).collect(),
        pairs(&query.replace(';', "&")).collect(),
    )
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
        // A sign is no hex digit: "%+1" is not the byte 1.
        assert_eq!(decode("%+1"), "% 1");
        assert_eq!(decode("a=b%3D"), "a=b=");
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
