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

/// The two [`Readings`] of `query`; the second is empty when the query holds no `;` (it would
/// repeat the first).
pub fn readings(query: &str) -> Readings {
    let split = match query.contains(';') {
        true => pairs(&query.replace(';', "&")).collect(),
        false => Vec::new(),
    };
    (pairs(query).collect(), split)
}

/// True when an upstream framework files the query or form parameter `key` (decoded) under
/// `name`, though Kong reads it as another parameter: PHP (`$_GET`: the key up to a NUL, leading
/// spaces dropped, ` ` and `.` as `_`, an unclosed `[` as `_`, a closed `[` starting array
/// indices: `+jwt`, `jwt%00x`, `access.token` and `jwt[]` are `jwt` / `access_token`) or Rack 2
/// (leading `[`/`]` dropped, the name up to the next bracket: `[jwt]`, `jwt]`). The array
/// forms count too: an upstream reading the name may get the array.
pub fn files_under(key: &str, name: &str) -> bool {
    Filed::of(key).has(name)
}

/// True when some upstream framework reads the query or form parameter `key` (decoded) as
/// `name`: [`files_under`] (PHP, Rack), also once both are case-folded ([`fold`]: ASP.NET and
/// Spring bind names ignoring case), and Spring's default-value field `!name`. Where key-auth looks for a second key or hides one.
pub fn reads_as(key: &str, name: &str) -> bool {
    KeyReadings::of(key).reads_as(name)
}

/// The names [`files_under`] finds a key filed under: as written, by Rack 2, by PHP.
#[derive(Debug)]
pub struct Filed {
    key: String,
    rack: String,
    php: Option<String>,
}

impl Filed {
    fn of(key: &str) -> Self {
        let rack = key.trim_start_matches(['[', ']']);
        let rack = rack.split(['[', ']']).next().unwrap_or_default();
        let php = php_variable(key).map(|(mut v, _)| {
            v.truncate(v.find('\0').unwrap_or(v.len()));
            v
        });
        Self {
            key: key.to_string(),
            rack: rack.to_string(),
            php,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.key == name || self.rack == name || self.php.as_deref() == Some(name)
    }
}

/// One query or form key's readings, computed once and compared with each configured name: a
/// long query of many arguments cost a few µs per argument and name while each comparison
/// worked the key out again (review: 126 ms for 25,000 arguments and three names).
pub enum KeyReadings<'a> {
    /// An ASCII key without a byte any framework reads specially (`[`, `]`, space, `.`, `!`,
    /// NUL): every reading is the key itself, in some case. Nothing to work out or allocate.
    Plain(&'a str),
    /// Any other key.
    Worked {
        /// [`files_under`]'s readings of the key.
        filed: Filed,
        /// Those of the key without Spring's `!` (`None`: no `!`), as written and case-folded
        /// (`None`: the fold changes nothing) ([`reads_as`]).
        bare: Option<Filed>,
        folded: Option<Filed>,
    },
}

impl<'a> KeyReadings<'a> {
    /// The readings of `key` (decoded).
    pub fn of(key: &'a str) -> Self {
        let special = |b: u8| !b.is_ascii() || matches!(b, b'[' | b']' | b' ' | b'.' | b'!' | 0);
        if !key.bytes().any(special) {
            return Self::Plain(key);
        }
        let bare = key.strip_prefix('!');
        let unbanged = bare.unwrap_or(key);
        let folded = fold(unbanged);
        Self::Worked {
            filed: Filed::of(key),
            bare: bare.map(Filed::of),
            folded: (folded != unbanged).then(|| Filed::of(&folded)),
        }
    }

    /// [`files_under`] for this key.
    pub fn files_under(&self, name: &str) -> bool {
        match self {
            Self::Plain(key) => *key == name,
            Self::Worked { filed, .. } => filed.has(name),
        }
    }

    /// [`reads_as`] for this key.
    pub fn reads_as(&self, name: &str) -> bool {
        // Most names are lower-case ASCII already: no fold to make.
        let plain = name
            .bytes()
            .all(|b| b.is_ascii() && !b.is_ascii_uppercase());
        let folded_name = || match plain {
            true => name.to_string(),
            false => fold(name),
        };
        match self {
            // The key's fold is its ASCII lower case: a plain key again.
            Self::Plain(key) => match plain {
                true => key.eq_ignore_ascii_case(name),
                false => key.eq_ignore_ascii_case(&fold(name)),
            },
            Self::Worked {
                filed,
                bare,
                folded,
            } => {
                let as_is = bare.as_ref().unwrap_or(filed);
                as_is.has(name) || folded.as_ref().unwrap_or(as_is).has(&folded_name())
            }
        }
    }
}

/// Names as binders that ignore case compare them (ASP.NET's `OrdinalIgnoreCase`, Java's
/// `equalsIgnoreCase`, Go's `EqualFold`): ASCII lower case; the four letters outside ASCII
/// whose simple case mapping some reader takes to an ASCII letter, `İ` and `ı` (Java, .NET:
/// `i`), `ſ` (`s`) and the Kelvin sign (`k`); and the upper-case letters of Latin-1, Latin
/// Extended-A, Greek, Cyrillic, Armenian and full-width Latin to their lower case ([`lower`]).
/// Other scripts compare as written. No Unicode tables: the module's size (the standard
/// library's lower case took 12 KB).
pub fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\u{130}' | '\u{131}' => 'i',
            '\u{17f}' => 's',
            '\u{212a}' => 'k',
            c => lower(c),
        })
        .collect()
}

/// The simple lower case of `c` in the blocks [`fold`] names, by their layout: runs shifted by
/// a constant, and runs of upper/lower pairs (upper on the even or on the odd code point).
fn lower(c: char) -> char {
    let u = u32::from(c);
    let even_pair = |u: u32| if u.is_multiple_of(2) { u + 1 } else { u };
    let odd_pair = |u: u32| if u.is_multiple_of(2) { u } else { u + 1 };
    let l = match u {
        0x41..=0x5a | 0xc0..=0xd6 | 0xd8..=0xde => u + 0x20,
        0xb5 => 0x3bc,
        0x100..=0x12f | 0x132..=0x137 | 0x14a..=0x177 => even_pair(u),
        0x139..=0x148 | 0x179..=0x17e => odd_pair(u),
        0x178 => 0xff,
        0x386 => 0x3ac,
        0x388..=0x38a => u + 0x25,
        0x38c => 0x3cc,
        0x38e | 0x38f => u + 0x3f,
        0x391..=0x3a1 | 0x3a3..=0x3ab => u + 0x20,
        0x3c2 => 0x3c3,
        0x400..=0x40f => u + 0x50,
        0x410..=0x42f => u + 0x20,
        0x460..=0x481 | 0x48a..=0x4bf | 0x4d0..=0x52f => even_pair(u),
        0x4c0 => 0x4cf,
        0x4c1..=0x4ce => odd_pair(u),
        0x531..=0x556 => u + 0x30,
        0xff21..=0xff3a => u + 0x20,
        _ => u,
    };
    char::from_u32(l).unwrap_or(c)
}

/// The variable PHP 8 files the query or form key `key` under (`php_register_variable_ex`):
/// its name and indices joined by NUL (which no key holds once PHP ended it at one), cut at the
/// first empty index, and whether there was one; `None` when PHP drops the key. Shared by the
/// duplicate-credential check ([`files_under`]) and reconcile's `renamed_alike`.
pub fn php_variable(key: &str) -> Option<(String, bool)> {
    let key = key.split('\0').next().unwrap_or_default();
    let key = key.trim_start_matches(' ').as_bytes();
    let mut out = Vec::with_capacity(key.len());
    let mut append = false;
    let mut at = key.iter().position(|&b| b == b'[').unwrap_or(key.len());
    let name = key.get(..at).unwrap_or_default();
    if name.is_empty() {
        return None;
    }
    let closed = |from: usize| key.get(from..).is_some_and(|rest| rest.contains(&b']'));
    let unclosed = at < key.len() && !closed(at);
    let mapped = if unclosed { key } else { name };
    for &b in mapped {
        let swap = b == b' ' || b == b'.' || unclosed && b == b'[';
        out.push(if swap { b'_' } else { b });
    }
    while !unclosed && key.get(at) == Some(&b'[') && closed(at) {
        let rest = key.get(at + 1..).unwrap_or_default();
        let len = rest.iter().position(|&b| b == b']').unwrap_or(rest.len());
        let index = rest.get(..len).unwrap_or_default();
        if index.is_empty() || index == b" " {
            append = true;
            break;
        }
        out.push(0);
        out.extend_from_slice(index);
        at += len + 2;
    }
    // Only ASCII bytes were replaced: still UTF-8.
    Some((String::from_utf8_lossy(&out).into_owned(), append))
}

/// `path` (with its query) without every `&`-separated argument that holds, also when split on
/// `;`, a name `drop` picks; `?` goes too when nothing is left. A path with nothing to drop is
/// returned as it came.
pub fn path_without(path: &str, drop: impl Fn(&str) -> bool) -> String {
    let Some((only, query)) = path.split_once('?') else {
        return path.to_string();
    };
    let named = |piece: &str| decode(piece.split('=').next().unwrap_or_default());
    let dropped = |arg: &&str| arg.split(';').any(|p| drop(&named(p)));
    if !query.split('&').any(|arg| dropped(&arg)) {
        return path.to_string();
    }
    let kept: Vec<&str> = query
        .split('&')
        .filter(|arg| !arg.is_empty() && !dropped(arg))
        .collect();
    match kept.is_empty() {
        true => only.to_string(),
        false => format!("{only}?{}", kept.join("&")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain key's shortcut answers as working its readings out would.
    #[test]
    fn a_plain_keys_readings_are_its_worked_readings() {
        let worked = |key: &str| {
            let folded = fold(key);
            KeyReadings::Worked {
                filed: Filed::of(key),
                bare: None,
                folded: (folded != key).then(|| Filed::of(&folded)),
            }
        };
        let keys = [
            "jwt", "JWT", "Jwt", "apikey", "API_KEY", "api-key", "session", "x", "", "jwt2",
        ];
        let names = [
            "jwt",
            "JWT",
            "apikey",
            "api_key",
            "API_KEY",
            "\u{17f}ession",
            "\u{130}d",
            "x",
        ];
        for key in keys {
            assert!(
                matches!(KeyReadings::of(key), KeyReadings::Plain(_)),
                "{key}"
            );
            for name in names {
                let (plain, full) = (KeyReadings::of(key), worked(key));
                assert_eq!(plain.reads_as(name), full.reads_as(name), "{key} {name}");
                assert_eq!(
                    plain.files_under(name),
                    full.files_under(name),
                    "{key} {name}"
                );
            }
        }
        // `ſession` folds to `session`: a binder ignoring case reads `SESSION` as it.
        assert!(KeyReadings::of("SESSION").reads_as("\u{17f}ession"));
        assert!(!KeyReadings::of("SESSION").files_under("session"));
    }

    #[test]
    fn the_split_reading_is_empty_without_a_semicolon() {
        assert_eq!(readings("a=1&b=2").1, []);
        assert_eq!(readings("a=1;b=2").1.len(), 2);
    }

    #[test]
    fn files_under_php_and_rack_names() {
        for key in [
            "jwt",
            " jwt",
            "jwt\0x",
            "jwt[]",
            "jwt[0]",
            "jwt[a][b]",
            "[jwt]",
            "jwt]",
            "]jwt",
        ] {
            assert!(files_under(key, "jwt"), "{key:?}");
        }
        for key in [
            "access.token",
            "access token",
            "access[token",
            " access.token",
        ] {
            assert!(files_under(key, "access_token"), "{key:?}");
        }
        for key in ["jwtx", "xjwt", "jw t", "jwt.", "j[wt]", "", "access[token]"] {
            assert!(
                !files_under(key, "jwt") && !files_under(key, "access_token"),
                "{key:?}"
            );
        }
    }

    /// Names ASP.NET, Spring or Go read as the key name, besides PHP's and Rack's.
    #[test]
    fn reads_as_folds_case_and_springs_default_prefix() {
        for key in [
            "apikey",
            "APIKEY",
            "ApiKey",
            "!apikey",
            "!APIKEY[]",
            "api\u{212a}ey",
            " ApiKey",
            "[APIKEY]",
        ] {
            assert!(reads_as(key, "apikey"), "{key:?}");
        }
        assert!(reads_as("x_api_key", "X_Api_Key") && reads_as("\u{17f}id", "SID"));
        assert!(reads_as("AP\u{130}KEY", "apikey") && reads_as("ap\u{131}key", "apikey"));
        assert!(reads_as("ROL\u{c9}", "rol\u{e9}") && reads_as("\u{394}\u{3a3}", "\u{3b4}\u{3c2}"));
        for key in ["apikeys", "!!apikey", "_apikey", "api key", ""] {
            assert!(!reads_as(key, "apikey"), "{key:?}");
        }
    }

    /// Each folded letter against the standard library's lower case (Java and .NET agree on
    /// these), and what stays as written.
    #[test]
    fn fold_matches_unicode_lower_case_in_its_blocks() {
        let blocks = [
            0x41..=0x5a,
            0xc0..=0x17e,
            0x386..=0x3ab,
            0x400..=0x556,
            0xff21..=0xff3a,
        ];
        for u in blocks.into_iter().flatten() {
            let Some(c) = char::from_u32(u) else { continue };
            let mut std = c.to_lowercase();
            let want = match (std.next(), std.next()) {
                (Some(l), None) if !matches!(u, 0x130 | 0x131) => l,
                _ => continue,
            };
            assert_eq!(fold(&c.to_string()), want.to_string(), "U+{u:04X}");
        }
        assert_eq!(
            fold("\u{b5}\u{3c2}\u{178}\u{1e9e}\u{4e2d}"),
            "\u{3bc}\u{3c3}\u{ff}\u{1e9e}\u{4e2d}"
        );
    }

    #[test]
    fn path_without_drops_every_reading_of_a_name() {
        let drop = |name: &str| files_under(name, "jwt");
        assert_eq!(path_without("/p?a=1&jwt=x&b=2", drop), "/p?a=1&b=2");
        assert_eq!(path_without("/p?a=1;jwt=x&b=2&+jwt=y", drop), "/p?b=2");
        assert_eq!(path_without("/p?jwt[]=x", drop), "/p");
        assert_eq!(path_without("/p", drop), "/p");
        assert_eq!(path_without("/p?", drop), "/p?");
        assert_eq!(path_without("/p?a=1&&b", drop), "/p?a=1&&b");
    }

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
