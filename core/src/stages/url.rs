//! Absolute service urls (auth service, JWKS): parsed once at configure time into what a
//! dispatched call needs.

/// The parts of a service url a dispatched call needs.
pub(crate) struct Url {
    pub scheme: &'static str,
    /// `host[:port]` as written.
    pub authority: String,
    /// Host as written (IPv6 in brackets).
    pub host: String,
    pub port: u16,
    pub path: String,
    pub query: Option<String>,
}

/// Parses an absolute `http`/`https` url: no user info, no fragment, ASCII only.
pub(crate) fn parse_url(url: &str) -> Result<Url, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or("must be an absolute http:// or https:// url")?;
    let (scheme, default_port) = if scheme.eq_ignore_ascii_case("http") {
        ("http", 80)
    } else if scheme.eq_ignore_ascii_case("https") {
        ("https", 443)
    } else {
        return Err("scheme must be http or https".into());
    };
    if let Some(problem) = bad_path_chars(rest) {
        return Err(problem.into());
    }
    if rest.contains('#') {
        return Err("must not contain a fragment".into());
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_query) = rest.split_at(end);
    if authority.contains('@') {
        return Err("must not contain user info".into());
    }
    let (host, port) = split_host_port(authority)?;
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (path_query, None),
    };
    Ok(Url {
        scheme,
        authority: authority.to_string(),
        host: host.to_string(),
        port: port.unwrap_or(default_port),
        path: path.to_string(),
        query,
    })
}

fn split_host_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority
            .find(']')
            .ok_or("has an unclosed `[` in its host")?;
        let (host, rest) = authority.split_at(close + 1);
        let inner = host.trim_start_matches('[').trim_end_matches(']');
        if inner.is_empty()
            || !inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
        {
            return Err("has an invalid IPv6 host".into());
        }
        match rest {
            "" => (host, None),
            _ => (
                host,
                Some(
                    rest.strip_prefix(':')
                        .ok_or("has junk after its IPv6 host")?,
                ),
            ),
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err("must have a host".into());
    }
    if !host.starts_with('[')
        && !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
    {
        return Err("has an invalid host".into());
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err("has an invalid port (1-65535)".into()),
        },
    };
    Ok((host, port))
}

/// Refuses what cannot travel in a request target: spaces, controls and non-ASCII characters.
pub(crate) fn bad_path_chars(text: &str) -> Option<&'static str> {
    text.chars()
        .any(|c| !c.is_ascii_graphic())
        .then_some("must be ASCII without spaces or control characters (percent-encode them)")
}

impl Url {
    /// The dispatch target: `upstream` when configured (an Envoy cluster, or Kong `host:port`),
    /// else the url's `host:port`.
    pub fn target(&self, upstream: Option<&str>) -> Result<String, &'static str> {
        match upstream {
            Some(up) if up.trim().is_empty() || up.chars().any(char::is_whitespace) => {
                Err("must be a cluster name or host:port without spaces")
            }
            Some(up) => Ok(up.to_string()),
            None => Ok(format!("{}:{}", self.host, self.port)),
        }
    }

    /// Path and query, as the request target of a call.
    pub fn path_and_query(&self) -> String {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        match &self.query {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        }
    }
}
