//! Finding the token in a request, as Kong's jwt plugin does: query parameters first, then
//! cookies, then headers (`Bearer <token>`); the first location that has one wins.

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
    /// Exactly one token.
    One(String),
    /// One query parameter repeated with different values (Kong: `Multiple tokens provided`).
    Multiple,
}

impl TokenLocations {
    /// Looks for the token.
    pub fn find(&self, req: &Request) -> Found {
        if let Some(found) = self.in_query(req.query()) {
            return found;
        }
        if let Some(token) = self.in_cookies(req) {
            return Found::One(token);
        }
        self.in_headers(req).map_or(Found::None, Found::One)
    }

    fn in_query(&self, query: &str) -> Option<Found> {
        self.uri_param_names.iter().find_map(|name| {
            let mut values: Vec<String> = urlenc::pairs(query)
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.unwrap_or_default())
                .collect();
            values.dedup();
            match values.len() {
                0 => None,
                1 => values.pop().map(Found::One),
                _ => Some(Found::Multiple),
            }
        })
    }

    fn in_cookies(&self, req: &Request) -> Option<String> {
        self.cookie_names.iter().find_map(|name| {
            req.header_all("cookie")
                .flat_map(|h| h.split(';'))
                .filter_map(|c| c.trim().split_once('='))
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.to_string())
        })
    }

    fn in_headers(&self, req: &Request) -> Option<String> {
        self.header_names
            .iter()
            .find_map(|name| req.header(name).and_then(bearer))
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
    fn find_query_wins_over_cookie_and_header() {
        let r = req(
            "/?jwt=q",
            &[("cookie", "session=c"), ("authorization", "Bearer h")],
        );
        assert_eq!(locations().find(&r), Found::One("q".into()));
    }

    #[test]
    fn find_cookie_wins_over_header() {
        let r = req(
            "/",
            &[("cookie", "a=1; session=c"), ("authorization", "Bearer h")],
        );
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
