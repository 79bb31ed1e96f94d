//! `application/x-www-form-urlencoded` decoding, shared by query strings and form bodies.

use std::borrow::Cow;

/// Decodes one component (a name, or a value without `&`): `%XX` escapes and `+` as space;
/// malformed escapes stay as written, invalid UTF-8 is replaced (never a panic). `text` is
/// borrowed when it holds nothing to decode (no `%`, no `+`): most names.
pub fn decoded(text: &str) -> Cow<'_, str> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text);
    }
    // A component has no `&`; `parse` splits its one pair at the first `=`, so the name is the
    // whole component only when there is none: put it back.
    match form_urlencoded::parse(text.as_bytes()).next() {
        Some((name, value)) if text.contains('=') => Cow::Owned(format!("{name}={value}")),
        Some((name, _)) => Cow::Owned(name.into_owned()),
        None => Cow::Borrowed(""),
    }
}

/// One decoded pair: its name, and its value (`None` without `=`).
pub type Pair<'a> = (Cow<'a, str>, Option<Cow<'a, str>>);

/// Decoded `(name, value)` pairs in order; a name without `=` has the value `None` (Kong reads
/// `?jwt` as `true`, not as an empty value). A name or value with nothing to decode is
/// borrowed ([`decoded`]).
pub fn pairs(encoded: &str) -> impl Iterator<Item = Pair<'_>> + '_ {
    encoded.split('&').filter(|p| !p.is_empty()).map(pair)
}

/// One `&`-separated piece (not empty) as a [`Pair`]: split at its first `=`.
fn pair(piece: &str) -> Pair<'_> {
    match piece.split_once('=') {
        Some((name, value)) => (decoded(name), Some(decoded(value))),
        None => (decoded(piece), None),
    }
}

/// A query's [`pairs`] as Kong reads it, and as Rack 2, Python before 3.9.2 and Go before 1.17
/// read it, split on `;` too (`a=1;b=2` is one pair, then two): where a credential is read, a
/// second one in the other reading would reach such an upstream.
pub type Readings<'a> = (Vec<Pair<'a>>, Vec<Pair<'a>>);

/// The two [`Readings`] of `query`; the second is empty when the query holds no `;` (it would
/// repeat the first).
pub fn readings(query: &str) -> Readings<'_> {
    let split = match query.contains(';') {
        true => query
            .split(['&', ';'])
            .filter(|p| !p.is_empty())
            .map(pair)
            .collect(),
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
    KeyReadings::of(key).files_under(name)
}

/// True when some upstream framework reads the query or form parameter `key` (decoded) as
/// `name`: [`files_under`] (PHP, Rack), also once both are case-folded ([`fold`]: ASP.NET and
/// Spring bind names ignoring case), and Spring's default-value field `!name`. Where key-auth looks for a second key or hides one.
pub fn reads_as(key: &str, name: &str) -> bool {
    KeyReadings::of(key).reads_as(name)
}

/// The names [`files_under`] finds a key filed under, as slices of the key (nothing is built:
/// a query or form of many keys is read at the cost of scanning it): the key as written,
/// Rack 2's name, and the text PHP names its variable from.
#[derive(Debug, Clone, Copy)]
pub struct Filed<'a> {
    key: &'a str,
    /// Rack's name; `None` when it is the key (no bracket).
    rack: Option<&'a str>,
    /// PHP's variable name before its mapping ([`php_char`]); `None` when PHP drops the key or
    /// reads it as written (no bracket, space, dot or NUL).
    php: Option<&'a str>,
}

impl<'a> Filed<'a> {
    fn of(key: &'a str) -> Self {
        let bytes = key.as_bytes();
        let php_reads = |b: &u8| matches!(b, b'[' | b']' | b' ' | b'.' | 0);
        if !bytes.iter().any(php_reads) {
            return Self {
                key,
                rack: None,
                php: None,
            };
        }
        let bracket = |b: &u8| matches!(b, b'[' | b']');
        let from = bytes
            .iter()
            .position(|b| !bracket(b))
            .unwrap_or(bytes.len());
        let to = bytes
            .iter()
            .skip(from)
            .position(bracket)
            .map_or(bytes.len(), |at| from + at);
        Self {
            key,
            rack: key.get(from..to),
            php: php_name(key),
        }
    }

    /// True when one of the names is `name`, compared as written or, with `folded`, with both
    /// case-folded; `ascii`: the key and `name` are ASCII.
    fn has(&self, name: &str, folded: bool, ascii: bool) -> bool {
        let same = |text: &str, map| same(text, name, map, folded, ascii);
        same(self.key, identity)
            || self.rack.is_some_and(|rack| same(rack, identity))
            || self.php.is_some_and(|php| same(php, php_char))
    }
}

/// True when `text`, each character `map`ped, is `name`; with `folded`, once both are
/// [`fold`]ed. Where both are ASCII (`ascii`, nearly every key) it compares bytes: [`fold`] is
/// ASCII lower case there and `map` keeps lengths, so a difference in length settles it.
fn same(text: &str, name: &str, map: fn(char) -> char, folded: bool, ascii: bool) -> bool {
    if ascii || !folded {
        // Unfolded, `map` keeps every character's length (it maps ASCII to ASCII).
        if text.len() != name.len() {
            return false;
        }
    }
    if ascii {
        let byte = |b: u8| match folded {
            true => (map(char::from(b)) as u8).to_ascii_lowercase(),
            false => map(char::from(b)) as u8,
        };
        let other = |b: u8| if folded { b.to_ascii_lowercase() } else { b };
        return text.bytes().map(byte).eq(name.bytes().map(other));
    }
    match folded {
        false => text.chars().map(map).eq(name.chars()),
        true => text
            .chars()
            .map(|c| fold_char(map(c)))
            .eq(name.chars().map(fold_char)),
    }
}

fn identity(c: char) -> char {
    c
}

/// The text of `key` PHP 8 names its variable from ([`php_variable`] before the NUL that joins
/// the first index): the key up to a NUL, without leading spaces, up to a `[` that a `]` closes
/// (all of it when no `]` follows the first `[`); `None` when that is empty. Read through
/// [`php_char`]. Bytes, not characters: every byte looked for is ASCII, so each cut falls
/// between characters.
fn php_name(key: &str) -> Option<&str> {
    let bytes = key.as_bytes();
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let start = bytes
        .iter()
        .take(end)
        .position(|&b| b != b' ')
        .unwrap_or(end);
    let text = bytes.get(start..end).unwrap_or_default();
    let name_end = match text.iter().position(|&b| b == b'[') {
        Some(at) if text.iter().skip(at).any(|&b| b == b']') => at,
        Some(0) => 0,
        _ => text.len(),
    };
    key.get(start..start + name_end)
        .filter(|name| !name.is_empty())
}

/// PHP's mapping of a variable name's characters: ` `, `.` and an unclosed `[` are `_`.
fn php_char(c: char) -> char {
    match c {
        ' ' | '.' | '[' => '_',
        c => c,
    }
}

/// `key` as readers read it that strip what Kong keeps (none when they strip nothing from it):
/// without one leading `?` (`URLSearchParams` and `qs`'s `ignoreQueryPrefix` strip it from the
/// query they are handed, so `/p??jwt=B` is `jwt=B` to a Node upstream reading
/// `new URLSearchParams(url.search.slice(1))`; review helper-99); without leading spaces (Rack
/// 2 splits pairs on `[&;] *`, so `& jwt]=B` is `jwt]=B`, filed under `jwt`); without tabs and
/// line breaks (the WHATWG URL parser drops them anywhere: `j\twt` is `jwt`), and then without
/// one leading `?` (`?j\twt`: the URL parser, then `URLSearchParams`).
pub(crate) fn stripped_keys(key: &str) -> impl Iterator<Item = Cow<'_, str>> {
    let question = key.strip_prefix('?').map(Cow::Borrowed);
    let spaces = Some(key.trim_start_matches(' '))
        .filter(|k| k.len() < key.len())
        .map(Cow::Borrowed);
    let unbroken = Some(key)
        .filter(|k| k.contains(['\t', '\n', '\r']))
        .map(|k| k.replace(['\t', '\n', '\r'], ""));
    let unbroken_question = unbroken
        .as_deref()
        .and_then(|k| k.strip_prefix('?'))
        .map(|k| Cow::Owned(k.to_string()));
    [
        question,
        spaces,
        unbroken.map(Cow::Owned),
        unbroken_question,
    ]
    .into_iter()
    .flatten()
}

/// One query or form key's readings, worked out once and compared with each configured name
/// (review: 126 ms for 25,000 arguments and three names while each comparison worked the key
/// out again). Slices of the key: comparing costs a scan of it, and nothing is allocated (but
/// for a key holding a tab or a line break, read without them: [`stripped_keys`]).
#[derive(Debug, Clone, Copy)]
pub enum KeyReadings<'a> {
    /// An ASCII key without a byte any framework reads specially (`[`, `]`, space, `.`, `!`,
    /// NUL, and the `?`, tab and line breaks [`stripped_keys`] strips): every reading is the
    /// key itself, in some case.
    Plain(&'a str),
    /// Any other key.
    Worked {
        /// True when the key is ASCII.
        ascii: bool,
        /// [`files_under`]'s readings of the key.
        filed: Filed<'a>,
        /// Those of the key without Spring's `!` (the key's own when it has none), compared
        /// as written and case-folded ([`reads_as`]).
        bare: Filed<'a>,
        /// True when some reader strips part of the key ([`stripped_keys`]).
        strippable: bool,
    },
}

impl<'a> KeyReadings<'a> {
    /// The readings of `key` (decoded).
    pub fn of(key: &'a str) -> Self {
        let special = |b: u8| {
            !b.is_ascii()
                || matches!(
                    b,
                    b'[' | b']' | b' ' | b'.' | b'!' | 0 | b'?' | b'\t' | b'\n' | b'\r'
                )
        };
        if !key.bytes().any(special) {
            return Self::Plain(key);
        }
        let filed = Filed::of(key);
        Self::Worked {
            ascii: key.is_ascii(),
            filed,
            bare: key.strip_prefix('!').map_or(filed, Filed::of),
            strippable: key.starts_with(['?', ' ']) || key.contains(['\t', '\n', '\r']),
        }
    }

    /// [`files_under`] for this key.
    pub fn files_under(&self, name: &str) -> bool {
        match self {
            Self::Plain(key) => *key == name,
            Self::Worked { ascii, filed, .. } => filed.has(name, false, *ascii && name.is_ascii()),
        }
    }

    /// [`reads_as`] for this key: names equal as written are equal folded too. Also the key as
    /// readers that strip more than Kong's read it ([`stripped_keys`]): `?jwt`, ` jwt]`,
    /// `j\twt` are `jwt` to some.
    pub fn reads_as(&self, name: &str) -> bool {
        match self {
            // Nothing to strip from a plain key.
            Self::Plain(_) => self.reads_as_written(name),
            Self::Worked { strippable, .. } => {
                self.reads_as_written(name)
                    || *strippable
                        && stripped_keys(self.key())
                            .any(|k| KeyReadings::of(&k).reads_as_written(name))
            }
        }
    }

    /// The key these are the readings of.
    fn key(&self) -> &'a str {
        match self {
            Self::Plain(key) => key,
            Self::Worked { filed, .. } => filed.key,
        }
    }

    /// [`Self::reads_as`] for the key as written.
    fn reads_as_written(&self, name: &str) -> bool {
        match self {
            // Folded, an ASCII key is its ASCII lower case.
            Self::Plain(key) if name.is_ascii() => key.eq_ignore_ascii_case(name),
            Self::Plain(key) => same(key, name, identity, true, false),
            Self::Worked { ascii, bare, .. } => bare.has(name, true, *ascii && name.is_ascii()),
        }
    }
}

/// True when `a` and `b` are the same name to a binder that ignores case: equal once both are
/// [`fold`]ed (compared as they fold, without building either).
pub fn fold_eq(a: &str, b: &str) -> bool {
    a.chars().map(fold_char).eq(b.chars().map(fold_char))
}

/// Names as binders that ignore case compare them (ASP.NET's `OrdinalIgnoreCase`, Java's
/// `equalsIgnoreCase`, Go's `EqualFold`): ASCII lower case; the four letters outside ASCII
/// whose simple case mapping some reader takes to an ASCII letter, `İ` and `ı` (Java, .NET:
/// `i`), `ſ` (`s`) and the Kelvin sign (`k`); and the upper-case letters of Latin-1, Latin
/// Extended-A, Greek, Cyrillic, Armenian and full-width Latin to their lower case ([`lower`]).
/// Other scripts compare as written. No Unicode tables: the module's size (the standard
/// library's lower case took 12 KB).
pub fn fold(text: &str) -> String {
    text.chars().map(fold_char).collect()
}

/// [`fold`] of one character: folding maps each character on its own.
fn fold_char(c: char) -> char {
    match c {
        '\u{130}' | '\u{131}' => 'i',
        '\u{17f}' => 's',
        '\u{212a}' => 'k',
        c => lower(c),
    }
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
    let named = |piece: &str| drop(&decoded(piece.split('=').next().unwrap_or_default()));
    let mut kept = Vec::new();
    let mut dropped = false;
    for arg in query.split('&') {
        match arg.split(';').any(named) {
            true => dropped = true,
            false if arg.is_empty() => {}
            false => kept.push(arg),
        }
    }
    match (dropped, kept.is_empty()) {
        (false, _) => path.to_string(),
        (true, true) => only.to_string(),
        (true, false) => format!("{only}?{}", kept.join("&")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`files_under`] as first written, each reading built as a string (PHP's through
    /// [`php_variable`]): the reference the slices are held to.
    fn files_under_built(key: &str, name: &str) -> bool {
        let rack = key.trim_start_matches(['[', ']']);
        let rack = rack.split(['[', ']']).next().unwrap_or_default();
        let php = php_variable(key).map(|(mut v, _)| {
            v.truncate(v.find('\0').unwrap_or(v.len()));
            v
        });
        key == name || rack == name || php.as_deref() == Some(name)
    }

    /// [`reads_as`] as first written: the key without `!`, as written and both folded; and so
    /// for the key without one leading `?`, without leading spaces, without tabs and breaks.
    fn reads_as_built(key: &str, name: &str) -> bool {
        let written = |key: &str| {
            let bare = key.strip_prefix('!').unwrap_or(key);
            files_under_built(bare, name) || files_under_built(&fold(bare), &fold(name))
        };
        let unbroken: String = key
            .chars()
            .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
            .collect();
        written(key)
            || key.strip_prefix('?').is_some_and(written)
            || written(key.trim_start_matches(' '))
            || written(&unbroken)
            || unbroken.strip_prefix('?').is_some_and(written)
    }

    /// The slices answer as the built readings do, on every key of up to three characters and
    /// on random longer ones, from characters each reading treats apart (brackets, spaces,
    /// dots, NUL, `!`, letters that fold into ASCII) against names that need them.
    #[test]
    fn the_readings_answer_as_the_built_ones() {
        let alphabet = [
            'j', 'J', 'k', 'K', 's', 'i', '_', '.', ' ', '[', ']', '!', '\0', '\u{130}', '\u{131}',
            '\u{17f}', '\u{212a}', '\u{c9}', '\u{e9}', '?', '\t',
        ];
        let names = [
            "j", "jk", "j_k", "J_K", "_", "_k", "k_", "__", "s", "i", "\u{e9}", "\u{c9}k", "j[",
            "j[k]", "j]", "!j", " j", "j.k", "j\0k", "",
        ];
        let check = |key: &str| {
            for name in names {
                let readings = KeyReadings::of(key);
                assert_eq!(
                    readings.files_under(name),
                    files_under_built(key, name),
                    "{key:?} {name:?}"
                );
                assert_eq!(
                    readings.reads_as(name),
                    reads_as_built(key, name),
                    "{key:?} {name:?}"
                );
            }
        };
        let mut key = String::new();
        for a in alphabet {
            for b in alphabet {
                for c in alphabet {
                    key.clear();
                    key.extend([a, b, c]);
                    check(&key);
                    check(&key[..a.len_utf8()]);
                    check(&key[..a.len_utf8() + b.len_utf8()]);
                }
            }
        }
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..50_000 {
            key.clear();
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 4 + state % 6;
            for i in 0..len {
                let pick = (state >> (8 + 5 * i)) as usize % alphabet.len();
                key.push(alphabet.get(pick).copied().unwrap_or('j'));
            }
            check(&key);
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
        assert_eq!(decoded("a%20b+c%2Bd"), "a b c+d");
        assert_eq!(decoded("100%"), "100%");
        assert_eq!(decoded("%zz%4"), "%zz%4");
        assert_eq!(decoded("%C3%A9"), "é");
        assert_eq!(decoded("%FF"), "\u{fffd}");
        // A sign is no hex digit: "%+1" is not the byte 1.
        assert_eq!(decoded("%+1"), "% 1");
        assert_eq!(decoded("a=b%3D"), "a=b=");
    }

    /// [`pairs`] and [`readings`] decode as `form_urlencoded` does piece by piece (as first
    /// written), on random queries of escapes (good, bad, split UTF-8), `+`, `=`, `&` and `;`.
    #[test]
    fn pairs_decode_as_form_urlencoded_does() {
        let built = |encoded: &str| -> Vec<(String, Option<String>)> {
            let piece = |p: &str| {
                let (name, value) = form_urlencoded::parse(p.as_bytes()).next()?;
                Some((
                    name.into_owned(),
                    p.contains('=').then(|| value.into_owned()),
                ))
            };
            encoded
                .split('&')
                .filter(|p| !p.is_empty())
                .filter_map(piece)
                .collect()
        };
        let owned = |pairs: Vec<Pair<'_>>| -> Vec<(String, Option<String>)> {
            let value = |v: Option<Cow<'_, str>>| v.map(Cow::into_owned);
            pairs
                .into_iter()
                .map(|(k, v)| (k.into_owned(), value(v)))
                .collect()
        };
        let atoms = [
            "a", "=", "&", ";", "+", "%", "%2", "%3D", "%26", "%C3", "%A9", "%E2%82", "%zz",
            "\u{e9}", "\u{20ac}", "%C3%A9", "%2B", "%00", "b",
        ];
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let query: String = (0..1 + state % 9)
                .map(|i| {
                    atoms
                        .get((state >> (6 * i)) as usize % atoms.len())
                        .copied()
                        .unwrap_or("a")
                })
                .collect();
            assert_eq!(owned(pairs(&query).collect()), built(&query), "{query:?}");
            let split = query.replace(';', "&");
            let want = if query.contains(';') {
                built(&split)
            } else {
                Vec::new()
            };
            assert_eq!(owned(readings(&query).1), want, "{query:?}");
        }
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
                ("c".into(), Some("".into())),
            ]
        );
    }
}
