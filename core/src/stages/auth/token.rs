//! Finding the token in a request, as Kong's jwt plugin does: every configured query parameter,
//! cookie and header (`Bearer <token>`) is read, and the distinct non-empty tokens found form
//! one set. One token goes on; two different ones anywhere (a query token and another in
//! `Authorization`, a cookie sent twice with different values) are `Multiple tokens provided`:
//! otherwise the copy that was not verified would reach the upstream beside the one that was.
//! Kong reads only the first value of a repeated header or cookie; every value is read here, so
//! a second, unverified copy cannot ride along.
//!
//! Token headers are split on `,` (Envoy joins a repeated header that way). Beside a Bearer
//! token, any other non-empty piece of those headers (`Bearer A, <forged>`, `Bearer A, Basic x`)
//! is a second credential: Kong reads such a value as the one token `A, <forged>`, which fails.
//!
//! Cookies are read as nginx reads `$cookie_<name>`, which is what Kong sees: the name matches
//! in any ASCII case, cookies are separated by `;` or `,`, spaces around the name and after `=`
//! are skipped, and the value runs to the next `;` (a `,` stays in it). A cookie of the name
//! as Go, Node or Python read it (after a tab, unquoted) counts too, as does a query argument
//! PHP or Rack 2 read under a token name (`urlenc::files_under`). A cookie only other readers
//! take for a token cookie (`jwt.token` is PHP's `jwt_token`, `sess%69on` an old Rack's
//! `session`, `\x0csession` Python's; [`filed_cookie_values`]) is no token of its own, as in
//! Kong, but must hold no other token.

use crate::stages::headers::same_header;
use crate::stages::reconcile::percent_decode;
use crate::stages::{urlenc, HeaderEdits, Request};
use std::borrow::Cow;

/// Where to look for a token.
#[derive(Debug, Clone, Default)]
pub struct TokenLocations {
    /// Query parameter names.
    pub uri_param_names: Vec<String>,
    /// Cookie names.
    pub cookie_names: Vec<String>,
    /// Header names (lower-case).
    pub header_names: Vec<String>,
}

/// What the lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No token anywhere.
    None,
    /// Exactly one token (possibly sent in several places).
    One(String),
    /// Different tokens (Kong: `Multiple tokens provided`).
    Multiple,
    /// Only a query parameter without a value (`?jwt`), which Kong reads as `true`
    /// (`Unrecognizable token`).
    Unrecognizable,
}

/// The distinct tokens found so far (`None`: a query parameter without `=`, Kong's `true`).
#[derive(Default)]
struct Tokens(Vec<Option<String>>);

impl Tokens {
    /// Adds a token; true once there are two different ones (`Multiple` whatever follows, so
    /// the search stops: a header of thousands of cookies costs no more than one pass).
    fn add(&mut self, token: Option<String>) -> bool {
        let empty = token.as_ref().is_some_and(String::is_empty);
        if !empty && !self.0.contains(&token) {
            self.0.push(token);
        }
        self.0.len() > 1
    }

    /// True when `value` is a token found, once spaces and tabs around it and its surrounding
    /// double quotes are taken off: the same cookie in the lenient reading (`session="x"` stays
    /// nginx's one token `"x"`, answered as Kong answers it).
    fn has_trimmed(&self, value: &str) -> bool {
        let blank = [' ', '\t'];
        let same = |t: &str| {
            let t = t.trim_matches(blank);
            t == value || t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(value)
        };
        self.0.iter().any(|t| t.as_deref().is_some_and(same))
    }
}

impl TokenLocations {
    /// Collects every token the request carries. Plain loops: the module size is bounded
    /// (docs/performance.md, Module size), and iterator adapters instantiate code per shape.
    pub fn find(&self, req: &Request) -> Found {
        let mut tokens = Tokens::default();
        // Rack 2 reads `jwt=A&x=1;jwt=B` as a second token: both readings count, and so do the
        // names PHP and Rack file under a token name (`?jwt=A&+jwt=B` is `jwt=B` to PHP). A
        // name only another case or Spring's `!` makes one (`?jwt=A&JWT=B` may be `B` to
        // ASP.NET) is no token of its own, as in Kong, but must hold no other token.
        let (plain, split) = urlenc::readings(req.query());
        let mut variants = Vec::new();
        for (key, value) in plain.into_iter().chain(split) {
            let names = &self.uri_param_names;
            let key = urlenc::KeyReadings::of(&key);
            if names.iter().any(|n| key.files_under(n)) {
                if tokens.add(value.map(Cow::into_owned)) {
                    return Found::Multiple;
                }
            } else if names.iter().any(|n| key.reads_as(n)) {
                variants.extend(value.filter(|v| !v.is_empty()).map(Cow::into_owned));
            }
        }
        let mut cookie_variants = Vec::new();
        for header in req.header_all("cookie") {
            for name in &self.cookie_names {
                cookie_variants.extend(filed_cookie_values(header, name));
                for value in cookie_values(header, name) {
                    if tokens.add(Some(value.to_string())) {
                        return Found::Multiple;
                    }
                }
                // Go, Node and Python skip the tabs and quotes nginx keeps: a cookie of the
                // name they read there is a token too, unless it is one nginx read, trimmed.
                for value in lenient_cookie_values(header, name) {
                    if !tokens.has_trimmed(value) && tokens.add(Some(value.to_string())) {
                        return Found::Multiple;
                    }
                }
            }
        }
        // The other piece would reach the upstream beside the verified token.
        if self.in_headers(req, &mut tokens) {
            return Found::Multiple;
        }
        let found = !tokens.0.is_empty();
        if found && variants.into_iter().any(|v| !tokens.0.contains(&Some(v))) {
            return Found::Multiple;
        }
        // The value as written, trimmed: a reader that does not decode (Django, Netty) takes
        // an escaped copy of the token for another string.
        let read = |v: &&str| {
            let v = v.trim_matches([' ', '\t']);
            tokens.0.contains(&Some(v.to_string())) || tokens.has_trimmed(v)
        };
        if found && !cookie_variants.iter().all(read) {
            return Found::Multiple;
        }
        match tokens.0.as_slice() {
            [] => Found::None,
            [Some(token)] => Found::One(token.clone()),
            [None] => Found::Unrecognizable,
            _ => Found::Multiple,
        }
    }

    /// Adds the Bearer tokens of the token headers; true when another non-empty piece stands
    /// beside one of them, or another spelling of a token header carries anything but a token
    /// found.
    fn in_headers(&self, req: &Request, tokens: &mut Tokens) -> bool {
        let (mut bearers, mut other, mut shadowed) = (false, false, false);
        let mut raw = Vec::new();
        for name in &self.header_names {
            // Envoy joins a repeated header into one value with `,`, a character no token has.
            let values = req.header_as_kong_reads(name);
            for piece in values.into_iter().flat_map(|value| value.split(',')) {
                let piece = piece.trim();
                if piece.is_empty() {
                    continue;
                }
                match bearer(piece) {
                    Some(token) => {
                        bearers = true;
                        if tokens.add(Some(token)) {
                            return true;
                        }
                    }
                    None => {
                        other = true;
                        raw.extend(piece.split_ascii_whitespace().filter(|w| jws_like(w)));
                    }
                }
            }
        }
        // Another spelling an upstream may read as a token header (`x_token` for `x-token`) is
        // not read, as in Kong, but must not carry another token beside the verified one.
        for (header, value) in &req.headers {
            let shadow = |name: &String| same_header(header, name) && header != name;
            if self.header_names.iter().any(shadow) {
                for piece in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    shadowed |= !bearer(piece).is_some_and(|t| tokens.0.contains(&Some(t)));
                }
            }
        }
        // A JWS without `Bearer` (`Authorization: <jwt>`, `JWT <jwt>`), which some upstreams
        // read, beside a query or cookie token.
        let unread = raw.iter().any(|w| !tokens.0.contains(&Some(w.to_string())));
        // Wherever the token came from (a header, the query, a cookie).
        bearers && other || (shadowed || unread) && !tokens.0.is_empty()
    }

    /// Removes every place a token is read from the request the upstream receives: the token
    /// headers (every spelling) that hold a Bearer token or a JWS (another scheme, such as a
    /// Basic credential another stage verifies, stays), the query arguments of a token name
    /// (in every reading), and each `;`-separated piece of `Cookie` in which nginx's reading or
    /// a lenient one finds a token cookie. `path` is the path as edited so far.
    pub fn remove_all(&self, req: &Request, path: &str, edits: &mut HeaderEdits) {
        for name in &self.header_names {
            let token = |piece: &str| {
                bearer(piece).is_some() || piece.split_ascii_whitespace().any(jws_like)
            };
            let values = req.header_all_spellings(name);
            if values.flat_map(|v| v.split(',')).any(token) {
                edits.remove(name.clone());
            }
        }
        let named = |key: &str| {
            let key = urlenc::KeyReadings::of(key);
            self.uri_param_names.iter().any(|n| key.reads_as(n))
        };
        let without = urlenc::path_without(path, named);
        if without != path {
            edits.set(":path", without);
        }
        let pieces: Vec<&str> = req
            .header_all("cookie")
            .flat_map(|c| c.split(';'))
            .collect();
        let blank = [' ', '\t'];
        let token_cookie = |piece: &&str| {
            let found = |n: &String| {
                !cookie_values(piece, n).is_empty()
                    || !lenient_cookie_values(piece, n).is_empty()
                    || !filed_cookie_values(piece, n).is_empty()
            };
            self.cookie_names.iter().any(found)
        };
        if pieces.iter().any(token_cookie) {
            let kept: Vec<&str> = pieces
                .iter()
                .filter(|p| !token_cookie(p))
                .map(|p| p.trim_matches(blank))
                .filter(|p| !p.is_empty())
                .collect();
            // Never set a value the filter would not send itself: a cookie with a control
            // character (which a host lets through) takes the whole header with it.
            let joined = kept.join("; ");
            match joined.is_empty() || !crate::stages::headers::is_safe_value(&joined) {
                true => edits.remove("cookie"),
                false => edits.set("cookie", joined),
            }
        }
    }
}

/// The value of every cookie called `name` in one `Cookie` header value, found as nginx finds
/// `$cookie_<name>` (`ngx_http_parse_multi_header_lines`), which is what Kong reads; nginx stops
/// at the first, every one is kept here.
fn cookie_values<'a>(header: &'a str, name: &str) -> Vec<&'a str> {
    // The host already strips the header value's surrounding whitespace; inside, nginx skips
    // spaces only.
    let mut rest = header.trim();
    let mut values = Vec::new();
    while !rest.is_empty() {
        rest = match cookie_value(rest, name) {
            Some((value, after)) => {
                values.push(value);
                after
            }
            None => after_separator(rest),
        };
        rest = rest.trim_start_matches(' ');
    }
    values
}

/// `<name> *= *<value>` at the start of `text` (name in any ASCII case): the value, up to the
/// next `;`, and the text after that `;`.
fn cookie_value<'a>(text: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    let head = text.get(..name.len())?;
    if !head.eq_ignore_ascii_case(name) {
        return None;
    }
    let value = text
        .get(name.len()..)?
        .trim_start_matches(' ')
        .strip_prefix('=')?
        .trim_start_matches(' ');
    Some(value.split_once(';').unwrap_or((value, "")))
}

/// Every value another cookie parser may read for `name` in one `Cookie` header value: a
/// `name` (any ASCII case) at the start, or after any byte that WebOb does not take into a name
/// or an unquoted value or that is no token character ([`cookie_text`]: `;`, `,`, blanks and
/// controls, `"`, `[`, `]`, `\`, `@`, `(`, `)`, `<`, `>`, `:`, `/`, `?`, `{`, `}`, any byte
/// past ASCII; `=` when at the start or after such a byte), or after `GMT`. WebOb's unanchored
/// scan finds a name after the first kind (as in `a=x"session=…` or `a="q"session=…`) and
/// after a value of the form of an expiry date (`a=Mon, 01-Jan-2000 00:00:00 GMTsession=…`);
/// ASP.NET Core, which skips one character after a pair it cannot parse (`@session=…`), and
/// Tomcat's legacy parser, which skips separators before a name, after the second (review
/// helper-102). Then `=` with Python's ASCII blanks around it (space, tab, CR, LF, VT, FF);
/// the value up to the next `;`, `,` or such blank, without surrounding double quotes. Go
/// and Node trim tabs as well as spaces, Python's `SimpleCookie` also separates cookies by
/// whitespace, and all of them unquote.
fn lenient_cookie_values<'a>(header: &'a str, name: &str) -> Vec<&'a str> {
    let stop = |b: u8| matches!(b, b';' | b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c);
    let blank = [' ', '\t', '\n', '\r', '\x0b', '\x0c'];
    let bytes = header.as_bytes();
    let mut values = Vec::new();
    for at in 0..bytes.len() {
        let before = bytes.get(..at).unwrap_or_default();
        let starts = before.ends_with(b"GMT")
            || match before {
                // `a=session=x` is one cookie `a` to every reader; `@=session=x` gives
                // ASP.NET two failed starts, then `session`.
                [.., other, b'='] => !cookie_text(*other),
                [.., other] => !cookie_text(*other),
                [] => true,
            };
        let named = bytes
            .get(at..at + name.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(name.as_bytes()));
        let rest = header.get(at + name.len()..).filter(|_| starts && named);
        let Some(value) = rest.and_then(|r| r.trim_start_matches(blank).strip_prefix('=')) else {
            continue;
        };
        let value = value.trim_start_matches(blank);
        let end = value.bytes().position(stop).unwrap_or(value.len());
        let short = value.get(..end).unwrap_or_default();
        let unquoted = short.strip_prefix('"').and_then(|v| v.strip_suffix('"'));
        values.push(unquoted.unwrap_or(short));
        // Node's `cookie`, Werkzeug, Django and Starlette part cookies at `;` only: their value
        // runs on past a `,` or a blank (`session\t=<token>,<forged>`).
        let long = value
            .split(';')
            .next()
            .unwrap_or_default()
            .trim_end_matches(blank);
        if long.len() > short.len() {
            values.push(long);
        }
    }
    values
}

/// A byte WebOb's cookie scanner takes into a name or an unquoted value that is also a token
/// character (RFC 9110 `tchar`), so no reader starts a name after it: letters, digits and
/// ``~!#$%^&*_+-`.|'``.
fn cookie_text(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"~!#$%^&*_+-`.|'".contains(&b)
}

/// The value of every cookie in one `Cookie` header value that some upstream reads under
/// `name` though nginx reads another name (none empty). Pairs part at `;` and `,` (Rack before
/// 2.2 splits on both). Around a name, readers strip more than nginx's spaces: PHP any C
/// `isspace` before it, Python's `str.strip` (Django, Flask; Starlette on bytes read as
/// Latin-1) Unicode whitespace and the controls 0x1C to 0x1F on both sides, Netty vertical
/// tab and form feed; every control, Unicode blank and U+FFFD (a byte the host passed that is
/// no UTF-8, 0x85 or 0xA0 to Latin-1) is stripped here. The name stripped is then compared as
/// PHP files it (` `, `.` as `_`, `name[…]` an array: against PHP's reading of `name` too, as
/// `jwt.token`'s variable is `jwt_token`), in any case (ASP.NET), and percent-decoded (Rack
/// before 2.2.3, ASP.NET's compatibility switch), as [`urlenc::reads_as`] reads a key.
fn filed_cookie_values<'a>(header: &'a str, name: &str) -> Vec<&'a str> {
    let blank = |c: char| c.is_control() || c.is_whitespace() || c == '\u{fffd}';
    let php_name: Cow<'_, str> = match name.contains([' ', '.']) {
        true => Cow::Owned(name.replace([' ', '.'], "_")),
        false => Cow::Borrowed(name),
    };
    let reads = |k: &str| {
        k.eq_ignore_ascii_case(name) || urlenc::reads_as(k, &php_name) || urlenc::reads_as(k, name)
    };
    let mut values = Vec::new();
    for piece in header.split(';') {
        let mut from = 0;
        for pair in piece.split(',') {
            let at = from;
            from += pair.len() + 1;
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            // nginx's own reading (spaces around the name): a token already, not a variant.
            if key.trim_matches(' ').eq_ignore_ascii_case(name) {
                continue;
            }
            let stripped = key.trim_matches(blank);
            let decoded = percent_decode(stripped.as_bytes());
            if !(reads(stripped) || reads(&decoded)) || value.trim_matches(blank).is_empty() {
                continue;
            }
            values.push(value);
            // Readers that part cookies at `;` only read on past a `,`.
            let long = piece.get(at + key.len() + 1..).unwrap_or_default();
            if long.len() > value.len() {
                values.push(long);
            }
        }
    }
    values
}

/// True for a word an upstream may decode as a JWS: a header segment that decodes to a JSON
/// object, then at least two more segments, the payload not empty. Lenient decoders take
/// padding, base64's `+` and `/` (PyJWT, Node's `jws`) and skip other characters (Python's
/// `urlsafe_b64decode`, Node's `Buffer`); PyJWT also reads a fourth segment into the payload.
/// Rails' `Token token="<jwt>"` reads the value of a `name=` parameter, quoted or not. Wider
/// than [`compact_jws`], for a token no stage reads: the filter only ever verifies the compact
/// form. A dotted value of another scheme (`realm=api.example.com`, `v=1.2.3`) is no JSON
/// object.
fn jws_like(word: &str) -> bool {
    let word = word.trim_matches('"');
    let parameter = |name: &str| {
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    let word = match word.split_once('=') {
        Some((name, value)) if parameter(name) && !value.starts_with(['=', '.']) => {
            value.trim_matches('"')
        }
        _ => word,
    };
    let mut segments = word.split('.');
    let (Some(header), Some(payload), Some(_)) =
        (segments.next(), segments.next(), segments.next())
    else {
        return false;
    };
    !payload.is_empty() && decodes_to_json_object(header)
}

/// True when `segment`, decoded as leniently as Python's or Node's base64 (characters outside
/// both alphabets skipped), starts with `{` after JSON's blanks; its first 64 characters are
/// looked at.
fn decodes_to_json_object(segment: &str) -> bool {
    let sextet = |b: u8| match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    };
    let (mut bits, mut held) = (0u32, 0u32);
    for value in segment.bytes().take(64).filter_map(sextet) {
        bits = (bits << 6 | u32::from(value)) & 0xfff;
        held += 6;
        if held >= 8 {
            held -= 8;
            match (bits >> held) & 0xff {
                0x20 | 0x09 | 0x0a | 0x0d => {}
                byte => return byte == u32::from(b'{'),
            }
        }
    }
    false
}

/// True for a JWS in compact form: three base64url segments (the last may be empty).
pub(crate) fn compact_jws(word: &str) -> bool {
    let b64url = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let segments: Vec<&str> = word.split('.').collect();
    matches!(segments.as_slice(), [h, p, s]
        if !h.is_empty() && !p.is_empty() && [h, p, s].iter().all(|x| x.chars().all(b64url)))
}

/// The text after the next `;` or `,` (empty when there is none).
fn after_separator(text: &str) -> &str {
    let next = text.bytes().position(|b| b == b';' || b == b',');
    next.and_then(|at| text.get(at + 1..)).unwrap_or_default()
}

/// The token of a `Bearer <token>` value (scheme case-insensitive, at least one space).
pub fn bearer(value: &str) -> Option<String> {
    let v = value.trim_start();
    let scheme = v.get(..6)?;
    let rest = v.get(6..)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let token = rest.trim_start();
    (!token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::HeaderEdit;

    fn locations() -> TokenLocations {
        TokenLocations {
            uri_param_names: vec!["jwt".into()],
            cookie_names: vec!["session".into()],
            header_names: vec!["authorization".into()],
        }
    }

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        Request::get(path, headers)
    }

    #[test]
    fn find_same_token_in_every_place_is_one() {
        let r = req(
            "/?jwt=t",
            &[("cookie", "session=t"), ("authorization", "Bearer t")],
        );
        assert_eq!(locations().find(&r), Found::One("t".into()));
    }

    #[test]
    fn find_different_tokens_across_places_are_multiple() {
        let cases: [(&str, &[(&str, &str)]); 5] = [
            ("/?jwt=q", &[("authorization", "Bearer h")]),
            ("/?jwt=q", &[("cookie", "session=c")]),
            (
                "/",
                &[("cookie", "session=c"), ("authorization", "Bearer h")],
            ),
            ("/", &[("cookie", "session=good; session=forged")]),
            (
                "/",
                &[("authorization", "Bearer a"), ("authorization", "Bearer b")],
            ),
        ];
        assert_eq!(
            locations().find(&req("/", &[("authorization", "Bearer a,Bearer b")])),
            Found::Multiple
        );
        for (path, headers) in cases {
            assert_eq!(
                locations().find(&req(path, headers)),
                Found::Multiple,
                "{path} {headers:?}"
            );
        }
    }

    #[test]
    fn find_cookie_alone_is_found() {
        let r = req("/", &[("cookie", "a=1; session=c")]);
        assert_eq!(locations().find(&r), Found::One("c".into()));
    }

    #[test]
    fn find_header_needs_bearer_scheme() {
        assert_eq!(
            locations().find(&req("/", &[("authorization", "bEaReR  h")])),
            Found::One("h".into())
        );
        assert_eq!(
            locations().find(&req("/", &[("authorization", "Basic h")])),
            Found::None
        );
        assert_eq!(
            locations().find(&req("/", &[("authorization", "Bearerh")])),
            Found::None
        );
        assert_eq!(
            locations().find(&req("/", &[("authorization", "Bearer ")])),
            Found::None
        );
    }

    #[test]
    fn find_repeated_query_param_is_multiple() {
        assert_eq!(
            locations().find(&req("/?jwt=a&jwt=b", &[])),
            Found::Multiple
        );
        assert_eq!(
            locations().find(&req("/?jwt=a&jwt=a", &[])),
            Found::One("a".into())
        );
    }

    /// Regression (review): the query was split on `&` only, as Kong splits it, while Rack 2
    /// (Rails), Python before 3.9.2 and Go before 1.17 split on `;` too: `?jwt=<alice>&x=1;
    /// jwt=<forged>` verified alice and handed such an upstream the forged token as `jwt`.
    /// A token in either reading counts; `;` elsewhere changes nothing.
    #[test]
    fn find_query_token_after_a_semicolon_is_a_second_token() {
        let bearer = [("authorization", "Bearer a")];
        for (path, headers) in [("/?jwt=a&x=1;jwt=b", &[][..]), ("/?x=1;jwt=b", &bearer)] {
            let found = locations().find(&req(path, headers));
            assert_eq!(found, Found::Multiple, "{path}");
        }
        for (path, headers) in [("/?x=1;y=2&jwt=a", &[][..]), ("/?x=1;y=2;jwt=a", &bearer)] {
            let found = locations().find(&req(path, headers));
            assert_eq!(found, Found::One("a".into()), "{path}");
        }
    }

    /// A name only another case or Spring's `!` makes a token name is no token of its own (Kong
    /// reads the name exactly; review), but beside a token it may hold only that token.
    #[test]
    fn find_query_name_in_another_case_is_no_token_alone() {
        for path in ["/?JWT=t", "/?!jwt=t", "/?Jwt=t&x=1"] {
            assert_eq!(locations().find(&req(path, &[])), Found::None, "{path}");
        }
        assert_eq!(
            locations().find(&req("/?jwt=t&JWT=t", &[])),
            Found::One("t".into())
        );
        let bearer = [("authorization", "Bearer t")];
        assert_eq!(locations().find(&req("/?JWT=u", &bearer)), Found::Multiple);
        assert_eq!(
            locations().find(&req("/?JWT=", &bearer)),
            Found::One("t".into())
        );
    }

    /// Regression (review): the query was read by Kong's names only, while PHP files `+jwt`,
    /// `jwt%00x`, `jwt[]` under `jwt` (the last wins) and Rack 2 `[jwt]` and `jwt]`:
    /// `?jwt=<alice>&+jwt=<forged>` verified alice and handed PHP the forged token.
    #[test]
    fn find_query_token_under_a_name_php_or_rack_reads_as_the_token_name() {
        // And names another framework binds as `jwt` (ASP.NET and Spring ignore case; Spring's
        // `!jwt` is its default value).
        for extra in [
            "+jwt=b",
            "%20jwt=b",
            "jwt%00x=b",
            "jwt[]=b",
            "[jwt]=b",
            "jwt]=b",
            "JWT=b",
            "Jwt=b",
            "!jwt=b",
            // Review (helper-99): `/p??jwt=b` is `jwt=b` to `URLSearchParams` and `qs` with
            // `ignoreQueryPrefix`, which strip the query's leading `?`; Rack 2 splits pairs on
            // `[&;] *` (`& jwt]` is `jwt]`), the WHATWG URL parser drops tabs.
            "?jwt=b",
            "?jw%74=b",
            "%20jwt]=b",
            "j%09wt=b",
        ] {
            let path = format!("/?jwt=a&{extra}");
            assert_eq!(
                locations().find(&req(&path, &[])),
                Found::Multiple,
                "{path}"
            );
        }
        let first = "/??jwt=b&jwt=a";
        assert_eq!(locations().find(&req(first, &[])), Found::Multiple);
        let bearer = [("authorization", "Bearer a")];
        assert_eq!(locations().find(&req("/??jwt=b", &bearer)), Found::Multiple);
        let mut locations = locations();
        locations.uri_param_names = vec!["access_token".into()];
        for extra in ["access.token=b", "access+token=b", "access[token=b"] {
            let path = format!("/?access_token=a&{extra}");
            assert_eq!(locations.find(&req(&path, &[])), Found::Multiple, "{path}");
        }
        for path in [
            "/?jwt=a&jwtx=b&xjwt=c&jwt.=d",
            "/?access_token=a&access[token]=b",
        ] {
            let found = locations.find(&req(path, &[]));
            assert!(
                matches!(found, Found::One(_) | Found::None),
                "{path}: {found:?}"
            );
        }
    }

    /// Regression (review): beside a query or cookie token, a JWS in a token header without
    /// `Bearer` (`Authorization: <jwt>`, `JWT <jwt>`) was not counted, and upstreams that read
    /// a raw JWT there got it unverified. Other schemes (Basic) still pass beside it.
    #[test]
    fn find_raw_jws_in_a_token_header_beside_another_token_is_multiple() {
        let jws = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.";
        for value in [jws.to_string(), format!("JWT {jws}")] {
            for path in ["/?jwt=a", "/"] {
                let cookie = ("cookie", "session=a");
                let headers = [("authorization", value.as_str()), cookie];
                let headers = if path == "/" {
                    &headers[..]
                } else {
                    &headers[..1]
                };
                let found = locations().find(&req(path, headers));
                assert_eq!(found, Found::Multiple, "{path} {value}");
            }
        }
        let same = [("authorization", "a.b.c")];
        assert_eq!(
            locations().find(&req("/?jwt=a.b.c", &same)),
            Found::One("a.b.c".into())
        );
        let basic = [("authorization", "Basic eHl6")];
        assert_eq!(
            locations().find(&req("/?jwt=a", &basic)),
            Found::One("a".into())
        );
        // No token anywhere else: as Kong, no token (a raw JWS is not read as one).
        assert_eq!(
            locations().find(&req("/", &[("authorization", jws)])),
            Found::None
        );
    }

    /// Regression (review): a raw JWS padded with `=` or written in base64's `+` and `/`
    /// (PyJWT and Node's `jws` decode both) was not counted beside a token, nor removed when
    /// the request fell back, since only the compact form was looked for.
    #[test]
    fn find_raw_jws_in_another_base64_beside_a_token_is_multiple_and_removed() {
        for raw in [
            "eyJh.eyJz.c2ln=",
            "eyJh=.eyJz.c2ln",
            "ey+h.ey/z.c2ln",
            "JWT eyJh.eyJz.c2l=",
            "eyJ*h.eyJ*z.",
            "Token token=\"eyJh.eyJz.c2ln\"",
            "Token token=eyJh.eyJz.c2ln",
            "eyJh.eyJz.eyJ4.c2ln",
            "IHsi.eyJz.c2ln",
        ] {
            let headers = [("authorization", raw), ("cookie", "session=a")];
            assert_eq!(
                locations().find(&req("/", &headers)),
                Found::Multiple,
                "{raw}"
            );
            let got = removals("/p", &[("authorization", raw)]);
            assert_eq!(got, [HeaderEdit::Remove("authorization".into())], "{raw}");
        }
        // Not JWS-like: two segments, an empty payload, a header that is no JSON object
        // (another scheme's dotted values).
        for other in [
            "eyJh.eyJz",
            "eyJh..c2ln",
            "Basic eHl6PT0=",
            "a.b.c.d",
            "Digest uri=\"/a.b.c\"",
            "Digest realm=api.example.com",
            "Token token=a.b.c",
            "X v=1.2.3",
            "Bot MTk4NjIy.Cl2FMQ.ZnCjm1XV",
            "SharedAccessSignature sr=hub.azure-devices.net%2Fd&sig=x",
        ] {
            let headers = [("authorization", other), ("cookie", "session=a")];
            assert_eq!(
                locations().find(&req("/", &headers)),
                Found::One("a".into()),
                "{other}"
            );
            assert_eq!(removals("/p", &[("authorization", other)]), [], "{other}");
        }
    }

    /// Regression (reviews, and a differential run against Python's, Node's and PHP's parsers):
    /// a cookie PHP files under a token cookie's name (`.` or a space for `_`, an array
    /// `name[…]`, leading whitespace), an old Rack decodes to it (`%5F`), Python, Netty or
    /// WebOb find after other bytes, or whose value another reader reads on past a `,`, is
    /// another token to such an upstream: beside a token found it must be that token, and the
    /// fallback removes it. Alone it is no token (Kong reads no such cookie).
    #[test]
    fn find_cookie_php_or_rack_file_under_the_name_is_a_second_token() {
        let mut locations = locations();
        locations.cookie_names = vec!["jwt_token".into()];
        let bearer = ("authorization", "Bearer a");
        for cookie in [
            "jwt.token=b",
            "x=1; jwt token=b",
            "x=1,jwt%5Ftoken=b",
            "jwt_token[0]=b",
            "x=1;\tjwt.token=b; jwt_token=a",
            // Blanks other readers strip around a name (PHP, Python, Netty), case (ASP.NET).
            "a=1;\x0cjwt_token=b",
            "a=1;\x0bjwt_token=b",
            "\u{85}jwt_token=b",
            "\u{fffd}jwt_token=b",
            "jwt_token\x1f=b",
            "\u{3000}jwt_token=b",
            "JWT%5FTOKEN=b",
            // WebOb finds a name after any byte it keeps out of names; SimpleCookie parts
            // cookies at VT and FF.
            "a=x\"jwt_token=b",
            "a=1[jwt_token=b",
            "a=\"q\"jwt_token=b",
            "a=1\x0bjwt_token=b",
            "a=1 jwt_token\x0c=\x0cb",
            // An escaped copy of the token is another string to a reader that does not decode.
            "jwt.token=%61",
            // Readers parting cookies at `;` only read on past a `,`.
            "jwt.token=a,b",
            "x=1,jwt.token=a,b",
            "a=1;\tjwt_token=a,b",
            "jwt_token\t=a,b",
            "jwt_token\t=a, x=b",
        ] {
            let headers = [bearer, ("cookie", cookie)];
            assert_eq!(
                locations.find(&req("/", &headers)),
                Found::Multiple,
                "{cookie}"
            );
            let r = req("/", &[("cookie", cookie)]);
            let mut edits = HeaderEdits::default();
            locations.remove_all(&r, &r.path, &mut edits);
            let kept = edits.0.iter().find_map(|e| match e {
                HeaderEdit::Set(name, value) if name == "cookie" => Some(value.as_str()),
                _ => None,
            });
            assert!(
                !kept.unwrap_or_default().contains("=b"),
                "{cookie}: {kept:?}"
            );
            assert!(!edits.0.is_empty(), "{cookie}");
        }
        // The same token under those names passes; alone they are no token; other names and
        // empty values are not looked at.
        for cookie in ["jwt.token=a", "jwt.token= a", "x=\"jwt_token=a"] {
            let headers = [bearer, ("cookie", cookie)];
            assert_eq!(
                locations.find(&req("/", &headers)),
                Found::One("a".into()),
                "{cookie}"
            );
        }
        assert_eq!(
            locations.find(&req("/", &[("cookie", "jwt.token=b")])),
            Found::None
        );
        // The value is read whole: `a&junk` is another token to PHP and Rack.
        let headers = [bearer, ("cookie", "jwt.token=a&junk")];
        assert_eq!(locations.find(&req("/", &headers)), Found::Multiple);
        // A configured name with a dot: PHP files `jwt_token` under its variable too.
        locations.cookie_names = vec!["jwt.token".into()];
        let headers = [("cookie", "jwt_token=b; jwt.token=a")];
        assert_eq!(locations.find(&req("/", &headers)), Found::Multiple);
        let headers = [("cookie", "jwt_token=a; jwt.token=a")];
        assert_eq!(locations.find(&req("/", &headers)), Found::One("a".into()));
        locations.cookie_names = vec!["jwt_token".into()];
        for cookie in ["jwt.tokens=b", "jwtXtoken=b", "jwt.token=", "jwt.token"] {
            let headers = [bearer, ("cookie", cookie)];
            assert_eq!(
                locations.find(&req("/", &headers)),
                Found::One("a".into()),
                "{cookie}"
            );
        }
        let r = req("/", &[("cookie", "x=1; jwt.token=b; y=2")]);
        let mut edits = HeaderEdits::default();
        locations.remove_all(&r, &r.path, &mut edits);
        assert_eq!(
            edits.0,
            [HeaderEdit::Set("cookie".into(), "x=1; y=2".into())]
        );
    }

    /// The edits `remove_all` makes for `path` and `headers`.
    fn removals(path: &str, headers: &[(&str, &str)]) -> Vec<HeaderEdit> {
        let r = req(path, headers);
        let mut edits = HeaderEdits::default();
        locations().remove_all(&r, &r.path, &mut edits);
        edits.0
    }

    #[test]
    fn remove_all_takes_every_token_place_and_keeps_the_rest() {
        let got = removals(
            "/p?a=1&jwt=x;b=2&+jwt=y&c=3&JWT=z",
            &[
                ("cookie", "theme=dark; Session=t;\tx=1"),
                ("authorization", "Bearer t"),
            ],
        );
        let want = [
            HeaderEdit::Remove("authorization".into()),
            HeaderEdit::Set(":path".into(), "/p?a=1&c=3".into()),
            HeaderEdit::Set("cookie".into(), "theme=dark; x=1".into()),
        ];
        assert_eq!(got, want);
        let got = removals("/p?a=1", &[("cookie", "session=t")]);
        assert_eq!(got, [HeaderEdit::Remove("cookie".into())]);
        // A token header holding another scheme (Basic, verified by another stage) stays; a
        // cookie a lenient reader finds after `,` or a space goes with its piece.
        let got = removals(
            "/p",
            &[
                ("cookie", "theme=dark, session=t; a=1 session=u; b=2"),
                ("authorization", "Basic eHl6"),
            ],
        );
        assert_eq!(got, [HeaderEdit::Set("cookie".into(), "b=2".into())]);
        // Found by fuzzing: a kept cookie with a control character is not set again.
        let got = removals("/p", &[("cookie", "session=t; b=\u{1e}x")]);
        assert_eq!(got, [HeaderEdit::Remove("cookie".into())]);
        // Review (helper-99): removing `jwt=x` made `?jwt=y` the query's first key, which
        // `URLSearchParams` reads as `jwt` once it strips the leading `?`: both go.
        let got = removals("/p?jwt=x&?jwt=y&a=1", &[]);
        assert_eq!(got, [HeaderEdit::Set(":path".into(), "/p?a=1".into())]);
    }

    #[test]
    fn find_query_flag_is_unrecognizable_alone_and_counts_as_a_token() {
        assert_eq!(locations().find(&req("/?jwt", &[])), Found::Unrecognizable);
        assert_eq!(locations().find(&req("/?jwt&jwt=x", &[])), Found::Multiple);
        assert_eq!(locations().find(&req("/?jwt=", &[])), Found::None);
    }

    #[test]
    fn find_empty_cookie_is_skipped() {
        let r = req(
            "/",
            &[("cookie", "session="), ("authorization", "Bearer h")],
        );
        assert_eq!(locations().find(&r), Found::One("h".into()));
    }

    #[test]
    fn find_bearer_beside_another_header_piece_is_multiple() {
        let cases: [&[(&str, &str)]; 7] = [
            &[("authorization", "Bearer a, forged")],
            &[("authorization", "Bearer a,junk")],
            &[("authorization", "Bearer a, Basic eHl6")],
            &[("authorization", "Basic eHl6, Bearer a")],
            &[("authorization", "Bearer a, Bearer ")],
            &[
                ("authorization", "Bearer a"),
                ("authorization", "Basic eHl6"),
            ],
            &[("authorization", "Basic eHl6"), ("x-token", "Bearer a")],
        ];
        let mut locations = locations();
        locations.header_names.push("x-token".into());
        for headers in cases {
            assert_eq!(
                locations.find(&req("/", headers)),
                Found::Multiple,
                "{headers:?}"
            );
        }
    }

    /// Regression (review): a token header is read in one spelling, as Kong reads it, and the
    /// others went to the upstream as they came: `x-token: Bearer <verified>` beside
    /// `x_token: Bearer <forged>` authenticated the first and handed the upstream the second,
    /// which CGI and WSGI servers read under the same name. Another spelling carrying anything
    /// but the verified token makes the request carry several; alone, it is no token.
    #[test]
    fn find_another_spelling_of_a_token_header_is_read_only_against_the_token() {
        let mut locations = locations();
        locations.header_names.push("x-token".into());
        for (headers, want) in [
            (
                &[("x-token", "Bearer a"), ("x_token", "Bearer forged")][..],
                Found::Multiple,
            ),
            (
                &[("X_Token", "forged"), ("x-token", "Bearer a")],
                Found::Multiple,
            ),
            (
                &[("x-token", "Bearer a"), ("X_TOKEN", "Bearer a")],
                Found::One("a".into()),
            ),
            (&[("x_token", "Bearer a")], Found::None),
            (
                &[("authorization", "Bearer a"), ("x_token", "")],
                Found::One("a".into()),
            ),
        ] {
            assert_eq!(locations.find(&req("/", headers)), want, "{headers:?}");
        }
    }

    /// Regression (review): Kong reads `header_names: ["x_jwt"]` through nginx's header table,
    /// which retries a missed name with `_` as `-`: `X-Jwt` carries the token there. The filter
    /// read the underscore spelling only, so a configuration taken from Kong refused every
    /// request (or fell back to the anonymous consumer).
    #[test]
    fn find_a_token_header_named_with_underscore_reads_its_dashed_spelling_as_kong() {
        let mut locations = locations();
        locations.header_names = vec!["x_jwt".into()];
        for (headers, want) in [
            (&[("X-Jwt", "Bearer a")][..], Found::One("a".into())),
            (
                &[("x-jwt", "Bearer a"), ("x_jwt", "Bearer a")],
                Found::One("a".into()),
            ),
            // The name as written wins, as in Kong; the other spelling must agree.
            (
                &[("x_jwt", "Bearer a"), ("x-jwt", "Bearer forged")],
                Found::Multiple,
            ),
            (
                &[("x-jwt", "Bearer a"), ("x.jwt", "Bearer forged")],
                Found::Multiple,
            ),
            (
                &[("x-jwt", "Bearer a"), ("X-Jwt", "Bearer b")],
                Found::Multiple,
            ),
        ] {
            assert_eq!(locations.find(&req("/", headers)), want, "{headers:?}");
        }
        // A dashed name never reads the underscore spelling (nginx's table does not either).
        locations.header_names = vec!["x-jwt".into()];
        assert_eq!(
            locations.find(&req("/", &[("x_jwt", "Bearer a")])),
            Found::None
        );
    }

    /// Regression (review): another spelling was read against the token only when the token
    /// came in a header: a token verified from the query or a cookie let `x_token: Bearer
    /// forged` reach the upstream, which a WSGI server reads as `X-Token`.
    #[test]
    fn find_another_spelling_beside_a_query_or_cookie_token_is_multiple() {
        let mut locations = locations();
        locations.header_names.push("x-token".into());
        for (path, headers, want) in [
            (
                "/?jwt=a",
                &[("x_token", "Bearer forged")][..],
                Found::Multiple,
            ),
            (
                "/",
                &[("cookie", "session=a"), ("X_Token", "forged")],
                Found::Multiple,
            ),
            (
                "/?jwt=a",
                &[("x_token", "Bearer a")],
                Found::One("a".into()),
            ),
            (
                "/?jwt=a",
                &[("x-token", "not bearer")],
                Found::One("a".into()),
            ),
        ] {
            assert_eq!(
                locations.find(&req(path, headers)),
                want,
                "{path} {headers:?}"
            );
        }
    }

    #[test]
    fn find_same_bearer_twice_or_empty_pieces_is_one() {
        for value in ["Bearer a, Bearer a", "Bearer a,", " , Bearer a , "] {
            assert_eq!(
                locations().find(&req("/", &[("authorization", value)])),
                Found::One("a".into()),
                "{value}"
            );
        }
    }

    #[test]
    fn find_header_without_bearer_piece_is_none() {
        for value in ["Basic eHl6", "Basic a, Basic b", "junk,Bearer "] {
            assert_eq!(
                locations().find(&req("/", &[("authorization", value)])),
                Found::None,
                "{value}"
            );
        }
    }

    #[test]
    fn find_cookie_name_in_any_case_is_found() {
        for cookie in ["Session=c", "SESSION=c", "a=1; sEsSiOn=c"] {
            assert_eq!(
                locations().find(&req("/", &[("cookie", cookie)])),
                Found::One("c".into()),
                "{cookie}"
            );
        }
    }

    #[test]
    fn find_cookie_after_comma_counts_beside_bearer() {
        let r = req(
            "/",
            &[
                ("cookie", "a=1, session=forged"),
                ("authorization", "Bearer h"),
            ],
        );
        assert_eq!(locations().find(&r), Found::Multiple);
        let r = req("/", &[("cookie", "a=1,session=c")]);
        assert_eq!(locations().find(&r), Found::One("c".into()));
    }

    #[test]
    fn find_cookie_with_spaces_around_name_and_equals_is_found() {
        let r = req("/", &[("cookie", "a=1;   session  =  c")]);
        assert_eq!(locations().find(&r), Found::One("c".into()));
    }

    /// nginx's value runs to the next `;` (a `,` stays in it); other parsers end it at the `,`
    /// too, and read another value: two tokens.
    #[test]
    fn find_cookie_value_runs_to_semicolon_only() {
        let r = req("/", &[("cookie", "session=c, a=1")]);
        assert_eq!(locations().find(&r), Found::Multiple);
        let r = req("/", &[("cookie", "session=c ; a=1")]);
        assert_eq!(locations().find(&r), Found::One("c ".into()));
    }

    /// Regression (review): nginx skips spaces only, so `;<TAB>session=<forged>` was no cookie
    /// to the filter, while Go and Node (which keep the first cookie of a name) and Python
    /// (the last) trim tabs and unquote values: the filter verified alice's cookie and the
    /// upstream read the forged one. What they read counts as a token too.
    #[test]
    fn find_cookie_a_lenient_parser_reads_is_a_token() {
        for cookie in [
            "a=1;\tsession=forged; session=good",
            "session=good;\tsession=forged",
            "session\t=forged; session=good",
            "session=good; x=1 session=forged",
            "session=good; session=\"forged\"",
            // ASP.NET Core and Tomcat's legacy parser skip what cannot start a name, WebOb a
            // value of the form of an expiry date (review helper-102).
            "session=good; @session=forged",
            "session=good; (session=forged",
            "session=good; @=session=forged",
            "session=good; x=1 @:session=forged",
            "session=good; a=Mon, 01-Jan-2000 00:00:00 GMTsession=forged",
        ] {
            let found = locations().find(&req("/", &[("cookie", cookie)]));
            assert_eq!(found, Found::Multiple, "{cookie:?}");
        }
        for (cookie, token) in [
            ("session\t=x", "x"),
            ("a=1;\tsession=x", "x"),
            ("session=\"x\"", "\"x\""),
            ("@session=x", "x"),
            ("=session=x", "x"),
            ("a=1; {session=x", "x"),
        ] {
            let found = locations().find(&req("/", &[("cookie", cookie)]));
            assert_eq!(found, Found::One(token.into()), "{cookie:?}");
        }
    }

    #[test]
    fn find_cookie_other_names_do_not_match() {
        for cookie in [
            "sessionid=x",
            "xsession=x",
            "session",
            "a=session=x",
            "a=b=session=x",
            "a=GMsession=x",
        ] {
            assert_eq!(
                locations().find(&req("/", &[("cookie", cookie)])),
                Found::None,
                "{cookie}"
            );
        }
    }

    #[test]
    fn cookie_values_keeps_every_match_in_order() {
        assert_eq!(
            cookie_values("Session=a; x=1, session = b;session=c", "session"),
            ["a", "b", "c"]
        );
        assert_eq!(cookie_values("session=; x=1", "session"), [""]);
        assert!(cookie_values("é=1; s", "s").is_empty());
    }

    #[test]
    fn find_nothing_is_none() {
        assert_eq!(
            locations().find(&req("/?x=1", &[("cookie", "a=b")])),
            Found::None
        );
    }
}
