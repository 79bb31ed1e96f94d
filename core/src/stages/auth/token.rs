//! Finding the token in a request, as Kong's jwt plugin does: every configured query parameter,
//! cookie and header (`Bearer <token>`) is read, and the distinct non-empty tokens found form
//! one set. One token goes on; two different ones anywhere (a query token and another in
//! `Authorization`, a cookie sent twice with different values) are `Multiple tokens provided`:
//! otherwise the copy that was not verified would reach the upstream beside the one that was.
//! Kong reads only the first value of a repeated header or cookie; every value is read here, so
//! a second, unverified copy cannot ride along.

use crate::stages::{urlenc, Request};

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

impl TokenLocations {
    /// Collects every token the request carries.
    pub fn find(&self, req: &Request) -> Found {
        // `None` is a query parameter without `=`: Kong's `true`, a token of its own.
        let mut tokens: Vec<Option<String>> = Vec::new();
        let found = self
            .in_query(req.query())
            .chain(self.in_cookies(req).map(Some))
            .chain(self.in_headers(req).map(Some));
        for token in found.filter(|t| t.as_ref().is_none_or(|t| !t.is_empty())) {
            if !tokens.contains(&token) {
                tokens.push(token);
            }
        }
        match tokens.as_slice() {
            [] => Found::None,
            [Some(token)] => Found::One(token.clone()),
            [None] => Found::Unrecognizable,
            _ => Found::Multiple,
        }
    }

    fn in_query<'a>(&'a self, query: &'a str) -> impl Iterator<Item = Option<String>> + 'a {
        urlenc::pairs(query)
            .filter(|(k, _)| self.uri_param_names.contains(k))
            .map(|(_, v)| v)
    }

    fn in_cookies<'a>(&'a self, req: &'a Request) -> impl Iterator<Item = String> + 'a {
        req.header_all("cookie")
            .flat_map(|h| h.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .filter(|(k, _)| self.cookie_names.iter().any(|n| n == k))
            .map(|(_, v)| v.to_string())
    }

    fn in_headers<'a>(&'a self, req: &'a Request) -> impl Iterator<Item = String> + 'a {
        // Envoy joins a repeated header into one value with `,`, a character no token has.
        self.header_names
            .iter()
            .flat_map(|name| req.header_all(name))
            .flat_map(|value| value.split(','))
            .filter_map(bearer)
    }
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

    fn locations() -> TokenLocations {
        TokenLocations {
            uri_param_names: vec!["jwt".into()],
            cookie_names: vec!["session".into()],
            header_names: vec!["authorization".into()],
        }
    }

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
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
    fn find_nothing_is_none() {
        assert_eq!(
            locations().find(&req("/?x=1", &[("cookie", "a=b")])),
            Found::None
        );
    }
}
