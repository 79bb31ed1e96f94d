//! The request as the stages see it: read once from the host, then plain data.

/// One request's headers and facts, taken from the host when its headers arrive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// `:method`.
    pub method: String,
    /// `:path`, raw, including the query string.
    pub path: String,
    /// The client's `Host` (on Kong `:authority` is the server name, so the glue reads `host`).
    pub authority: String,
    /// `:scheme` (`http` or `https`).
    pub scheme: String,
    /// Regular headers in order, names lower-case; pseudo-headers are not included.
    pub headers: Vec<(String, String)>,
    /// Host time, seconds since the epoch, read once per request.
    pub now: u64,
    /// Subject DN of a verified client certificate (mTLS), RFC 2253 form.
    pub client_dn: Option<String>,
    /// The upstream service as the host names it (Envoy: the route's cluster), when known.
    pub service: Option<String>,
    /// The upstream service's URL, `protocol://host[:port]path` (Kong: the route's service;
    /// Envoy has no such thing).
    pub service_url: Option<String>,
    /// True where the host's own plugins may have set the consumer headers before the filter
    /// runs (Kong's Lua auth plugins): without an authentication stage the filter leaves them
    /// to the host there. Elsewhere (Envoy) nothing before the filter sets them, so a client's
    /// copies are removed whatever the stages.
    pub host_sets_consumers: bool,
    /// True where the host removes every value of a header sent twice (Envoy); false where it
    /// cannot, and the filter must refuse such a request to remove one (Kong's engine).
    pub removes_repeated_headers: bool,
    /// True where the host may send the upstream the client's `Content-Length` whatever body
    /// the filter wrote (Kong's engine puts it back when the content phase resumes after a
    /// call, the filter's own or a later filter's in the same chain): a body a key was cut out
    /// of is padded back to that length (`auth::body_cut`).
    pub keeps_body_length: bool,
    /// The host name the host took for the request where it may differ from `Host` (Kong's
    /// `$host`: nginx takes an absolute-form target's host over the `Host` header, and Kong
    /// sends it upstream as `X-Forwarded-Host`); read only for `reconcile`. `None` on Envoy,
    /// which sets `:authority` from such a target.
    pub target_host: Option<String>,
    /// The client's IP address as the host determined it (Envoy's downstream remote address,
    /// which its `xff_num_trusted_hops` may take from `X-Forwarded-For`; Kong's `$remote_addr`,
    /// which `trusted_ips` and `real_ip_header` may); read only for `reconcile`, whose call
    /// carries it as `X-Forwarded-For` and `X-Real-IP` in place of the client's copies.
    pub client_ip: Option<String>,
    /// The scheme the host tells the upstream in `X-Forwarded-Proto` where it sets that header
    /// itself (Kong's `$upstream_x_forwarded_proto`: its own scheme, or the client's header
    /// when `trusted_ips` trusts the client); read only for `reconcile`, whose call then
    /// carries it. `None` on Envoy, which passes the client's on unless configured otherwise.
    pub host_forwarded_proto: Option<String>,
}

impl Request {
    /// First value of a header (name compared case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header, in order.
    pub fn header_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The values Kong's `kong.request.get_headers()[name]` reads: `name` in any case, else
    /// (nginx's table retries a missed name in lower case with `_` as `-`) its dashed
    /// spelling, so `x_jwt` reads `X-Jwt`.
    pub fn header_as_kong_reads(&self, name: &str) -> Vec<&str> {
        let values = |wanted: &str| -> Vec<&str> {
            let named = |(k, _): &&(String, String)| k.eq_ignore_ascii_case(wanted);
            self.headers
                .iter()
                .filter(named)
                .map(|(_, v)| v.as_str())
                .collect()
        };
        let exact = values(name);
        if !exact.is_empty() || !name.contains('_') {
            return exact;
        }
        values(&name.replace('_', "-"))
    }

    /// Every value of a header in every spelling an upstream may read as `name` (case, and
    /// `_` for `-`: [`super::headers::same_header`]), in order: where a credential is read, so
    /// that no other spelling of it rides along unverified.
    pub fn header_all_spellings<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(k, _)| super::headers::same_header(k, name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query string.
    pub fn path_only(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// The raw query string (after `?`), empty when there is none.
    pub fn query(&self) -> &str {
        self.path.split_once('?').map_or("", |(_, q)| q)
    }
}

#[cfg(test)]
impl Request {
    /// A GET of `path` with `headers` (tests).
    pub(crate) fn get(path: &str, headers: &[(&str, &str)]) -> Self {
        Request {
            method: "GET".into(),
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Request::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(path: &str) -> Request {
        Request {
            path: path.into(),
            headers: vec![("x-a".into(), "1".into()), ("X-A".into(), "2".into())],
            ..Request::default()
        }
    }

    #[test]
    fn path_and_query_split_at_first_question_mark() {
        let r = req("/a/b?x=1&y=?");
        assert_eq!((r.path_only(), r.query()), ("/a/b", "x=1&y=?"));
        assert_eq!((req("/a").path_only(), req("/a").query()), ("/a", ""));
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_ordered() {
        let r = req("/");
        assert_eq!(r.header("X-a"), Some("1"));
        assert_eq!(r.header_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(r.header("x-b"), None);
    }
}
