//! Every way the filter answers a request itself, in one table: [`Refusal`] has one documented
//! variant per answer, [`Refusal::reply`] is the one function from a refusal to its HTTP answer
//! and [`Refusal::reason`] the one to its metric (`requests_denied.<reason>`). Stages and the
//! glue return a `Refusal`; nothing else builds a reply.
//!
//! The authentication denials keep their own table ([`Denial`]): Kong's jwt, key-auth and
//! basic-auth texts, with the refusing stage's `WWW-Authenticate` challenge. They travel here
//! whole, as [`Refusal::Unauthenticated`].

use super::auth::{Challenge, Denial};
use super::LocalResponse;
use serde_json::{json, Value};

/// Kong's message for a 5xx the upstream side caused.
pub const BAD_GATEWAY_MESSAGE: &str = "An invalid response was received from the upstream server";
/// Kong's message for an upstream that did not answer in time.
pub const TIMEOUT_MESSAGE: &str = "The upstream server is timing out";
/// Kong's message for an error of its own.
pub const INTERNAL_MESSAGE: &str = "An unexpected error occurred";
/// x-custom-jwt's one error text.
pub const CUSTOM_JWT_MESSAGE: &str = "You are not authorized to access to this service";

/// Why the filter answered a request itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 401: an authentication stage refused (Kong's body, the stage's challenge).
    Unauthenticated {
        /// The reason, with Kong's text.
        denial: Denial,
        /// The refusing stage's `WWW-Authenticate` scheme.
        challenge: Challenge,
        /// The jwt key claim, named in some texts.
        key_claim: String,
    },
    /// 403: a verified claim holds a control character and cannot be sent as a header.
    ClaimNotHeaderSafe {
        /// The claim's path (never its value).
        claim: String,
    },
    /// 401, 403 or 404: the auth service said no; the configured message.
    ReconcileDenied {
        /// The status answered.
        status: u16,
        /// `message_401`, `message_403` or `message_404`.
        message: String,
    },
    /// 502: the auth service could not be asked, or answered badly.
    ReconcileFailed,
    /// 504: the auth service did not answer in time.
    ReconcileTimeout,
    /// 413: the body is above the configured `max_body_bytes`.
    BodyTooLarge {
        /// The limit.
        max: u64,
    },
    /// 413: the host holds the body where no filter can read it (Kong: a temporary file).
    BodyUnreadable,
    /// 415: `reconcile.forward_body` and a body under a `Content-Encoding`, which the call
    /// could not show the auth service (the upstream may decode it), or under two
    /// `Content-Type` headers or a charset other than UTF-8 (upstreams read it another way).
    EncodedBody,
    /// 400: `reconcile.forward_body` and a JSON body naming a member twice, which parsers
    /// resolve differently (the auth service would be shown one value, the upstream may read
    /// the other), or holding an integer beyond 64 bits (the service would be shown it rounded,
    /// while Python and Java read it exactly).
    AmbiguousBody,
    /// 400: `reconcile.forward_query` and a raw `;` in the query, or `forward_body` and one in
    /// a form body: the service is shown `a=1;role=admin` as one pair, as Kong reads it, while
    /// Rack 2 (Rails), old Python and Go split it into two.
    SemicolonSeparator,
    /// 400: `reconcile.forward_query` and two query keys, or `forward_body` and two form field
    /// names, that PHP reads as one variable (`user_id` and `user.id`): the service is shown
    /// both, PHP acts on the later.
    AmbiguousParameter,
    /// 400: reconcile and a raw `#` in the request target, which Kong's engine passes on to the
    /// filter and the upstream (Envoy refuses it itself): gunicorn and Express end the path at
    /// it, while the auth service is shown it whole (`/admin#/../public`, which a service that
    /// normalises reads as `/public`).
    RawFragment,
    /// 400: reconcile and a request whose target names another host than its `Host` header,
    /// where the host takes the target's (Kong: `GET http://victim.example/ HTTP/1.1` with
    /// `Host: attacker.example`): the service would judge the header's host, the upstream is
    /// told the target's.
    AmbiguousHost,
    /// 400: reconcile and a path that another reader resolves to another one: a `.` or `..`
    /// segment (raw or `%2e`), an empty segment (`//`), or an escaped unreserved character
    /// (`%61dmin`). Kong sends the upstream the path its `normalize` makes of it, and upstream
    /// frameworks resolve it alike, while the service would be shown it raw
    /// (`/public/../admin`, judged by a service that allows `/public/*`, reaches `/admin`).
    AmbiguousPath,
    /// 400: reconcile and a method override header (`X-HTTP-Method-Override` and its kin) or
    /// `_method` query parameter naming another method than the request's: Rails, Laravel,
    /// Symfony, Express and ASP.NET act on a `POST` as on the method it names, while the
    /// service would judge the `POST`.
    MethodOverride,
    /// 400: reconcile and a header or target that is not valid UTF-8: the call would show the
    /// service the text with U+FFFD in place of the bytes the upstream gets.
    NotUtf8,
    /// 400: `reconcile.forward_body` and a JSON body the filter cannot parse (a byte-order
    /// mark, `NaN`, nesting past 128, a syntax error): the auth service would be shown no body,
    /// while a lenient upstream parser may read one.
    InvalidJsonBody,
    /// 400: `reconcile.forward_body` and a `multipart/form-data` body that is not a plain form
    /// (parsers read it differently: the auth service would be shown other fields than the
    /// upstream reads).
    InvalidFormBody,
    /// 413: a body a stage reads (`reconcile.forward_body`, `key_auth.key_in_body`) holding more
    /// JSON values than `MAX_BODY_VALUES`, more form fields than `MAX_FORM_FIELDS` or more
    /// multipart parts than `MAX_MULTIPART_PARTS` (`max`): each becomes a node in the VM's memory (a 7-byte `{"":0}`
    /// about 500 bytes), and a VM's memory never shrinks; each field is looked up in maps.
    ComplexBody {
        /// The budget passed.
        max: usize,
    },
    /// 411: a body of unknown length the auth service must see, on a host that cannot hold the
    /// request for it (Kong's engine).
    LengthRequired,
    /// 431: more request headers than the host shows a filter (Kong's engine hands over the
    /// first 100, pseudo-headers included, and says nothing of the rest): headers the filter
    /// cannot see, it cannot strip or judge.
    TooManyHeaders,
    /// 505: an HTTP/0.9 request on Kong's engine, whose request header list nginx never sets up
    /// (a filter's first header write there killed the worker: review helper-113).
    UnsupportedProtocol,
    /// 400: on Envoy, a WebSocket upgrade or `CONNECT` with a framed body (`Content-Length`
    /// above 0): Envoy passes what follows the headers as the tunnel, whose end no body step
    /// ever sees, so a stage waiting for the body held the request until the stream's idle
    /// timeout (review helper-116).
    UpgradeWithBody,
    /// 400: the client sent a header the filter owns twice, which the host cannot strip (Kong's
    /// engine); or, with reconcile, a header the call would show the auth service otherwise
    /// than upstreams read it (an `X-Forwarded-Host`, `-Path` or `-Query` other than the
    /// request's, which the call's own hides; a name in two spellings, `X-Tenant` and
    /// `X_Tenant`, which Puma reads as one).
    DuplicateOwnedHeader {
        /// The header's name.
        name: String,
    },
    /// 400: the client sent a header the filter owns under a name the host cannot strip
    /// (Kong's engine, with nginx's `ignore_invalid_headers off`: `X.Consumer.ID`).
    UnstrippableHeader {
        /// The header's name, as the host hands it over.
        name: String,
    },
    /// 401: x-custom-jwt found no credential to mint from; `VerboseMessage` with `verbose`.
    CustomJwt {
        /// The plugin's text, when `verbose` is on.
        verbose: Option<String>,
    },
    /// 500: a token could not be minted (signing failed, or an `act` claim the plugin fails on).
    MintFailed,
    /// 502: a response arrived for a request the filter had not decided (never forwarded).
    Undecided,
    /// 500: a state the filter should never reach, or the host failed a call: never a pass.
    Internal,
}

impl Refusal {
    /// The HTTP answer: status, JSON body and headers.
    pub fn reply(&self) -> LocalResponse {
        match self {
            Self::Unauthenticated {
                denial,
                challenge,
                key_claim,
            } => denial.response(challenge, key_claim),
            Self::CustomJwt { verbose } => {
                let body = match verbose {
                    Some(why) => {
                        json!({ "ErrorMessage": CUSTOM_JWT_MESSAGE, "VerboseMessage": why })
                    }
                    None => json!({ "ErrorMessage": CUSTOM_JWT_MESSAGE }),
                };
                // The plugin sets this Content-Type itself, without a charset.
                let mut reply = LocalResponse::json(401, &body);
                reply.headers = vec![("content-type".into(), "application/json".into())];
                reply
            }
            other => LocalResponse::json(other.status(), &message(&other.message())),
        }
    }

    /// The status of the answer.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated { .. } | Self::CustomJwt { .. } => 401,
            Self::ClaimNotHeaderSafe { .. } => 403,
            Self::ReconcileDenied { status, .. } => *status,
            Self::ReconcileFailed | Self::Undecided => 502,
            Self::ReconcileTimeout => 504,
            Self::BodyTooLarge { .. } | Self::BodyUnreadable | Self::ComplexBody { .. } => 413,
            Self::LengthRequired => 411,
            Self::TooManyHeaders => 431,
            Self::UnsupportedProtocol => 505,
            Self::UpgradeWithBody => 400,
            Self::EncodedBody => 415,
            Self::DuplicateOwnedHeader { .. }
            | Self::UnstrippableHeader { .. }
            | Self::AmbiguousBody
            | Self::SemicolonSeparator
            | Self::RawFragment
            | Self::AmbiguousHost
            | Self::AmbiguousPath
            | Self::MethodOverride
            | Self::NotUtf8
            | Self::AmbiguousParameter
            | Self::InvalidJsonBody
            | Self::InvalidFormBody => 400,
            Self::MintFailed | Self::Internal => 500,
        }
    }

    /// The `message` of the JSON body (Kong's shape) for the refusals that have one.
    fn message(&self) -> String {
        match self {
            Self::ClaimNotHeaderSafe { claim } => {
                format!("Claim '{claim}' cannot be sent as a header")
            }
            Self::ReconcileDenied { message, .. } => message.clone(),
            Self::ReconcileFailed | Self::Undecided => BAD_GATEWAY_MESSAGE.into(),
            Self::ReconcileTimeout => TIMEOUT_MESSAGE.into(),
            Self::BodyTooLarge { max } => format!("Request body is larger than {max} bytes"),
            Self::BodyUnreadable => "Request body is larger than the gateway's body buffer \
                (Kong: nginx_http_client_body_buffer_size)"
                .into(),
            Self::LengthRequired => "A Content-Length is required for this request's body".into(),
            Self::TooManyHeaders => "Request has too many headers".into(),
            Self::UnsupportedProtocol => "HTTP/0.9 is not supported".into(),
            Self::UpgradeWithBody => "An upgrade request must not carry a body".into(),
            Self::AmbiguousBody => {
                "Request body is ambiguous JSON (a member named twice, or an integer beyond 64 bits)"
                    .into()
            }
            Self::SemicolonSeparator => {
                "Request query or form body separates parameters with ';'".into()
            }
            Self::RawFragment => "Request target contains a raw '#'".into(),
            Self::AmbiguousHost => "Request target and Host header name different hosts".into(),
            Self::MethodOverride => "Request overrides its method with another".into(),
            Self::AmbiguousPath => {
                "Request path has a dot segment, an empty segment or an escaped unreserved \
                 character"
                    .into()
            }
            Self::NotUtf8 => "Request header or target is not valid UTF-8".into(),
            Self::AmbiguousParameter => {
                "Request query or form body names one parameter in two spellings".into()
            }
            Self::InvalidJsonBody => "Request body is not valid JSON".into(),
            Self::InvalidFormBody => "Request body is not a valid multipart form".into(),
            Self::ComplexBody { max } => format!("Request body holds more than {max} values"),
            Self::EncodedBody => {
                "A Content-Encoding or Content-Type is not supported for this request's body".into()
            }
            Self::DuplicateOwnedHeader { name } => format!("Duplicate '{name}' header"),
            Self::UnstrippableHeader { name } => format!("Header '{name}' cannot be removed"),
            Self::Unauthenticated { .. }
            | Self::CustomJwt { .. }
            | Self::MintFailed
            | Self::Internal => INTERNAL_MESSAGE.into(),
        }
    }

    /// The short stable word of logs and metrics (`requests_denied.<reason>`).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Unauthenticated { denial, .. } => denial.reason(),
            Self::ClaimNotHeaderSafe { .. } => "claim_not_header_safe",
            Self::ReconcileDenied { .. } => "reconcile_denied",
            Self::ReconcileFailed | Self::ReconcileTimeout => "reconcile_failed",
            Self::BodyTooLarge { .. } => "body_too_large",
            Self::BodyUnreadable => "body_unreadable",
            Self::LengthRequired => "length_required",
            Self::TooManyHeaders => "too_many_headers",
            Self::UnsupportedProtocol => "unsupported_protocol",
            Self::UpgradeWithBody => "upgrade_with_body",
            Self::EncodedBody => "encoded_body",
            Self::AmbiguousBody => "ambiguous_body",
            Self::SemicolonSeparator => "semicolon_separator",
            Self::RawFragment => "raw_fragment",
            Self::AmbiguousHost => "ambiguous_host",
            Self::AmbiguousPath => "ambiguous_path",
            Self::MethodOverride => "method_override",
            Self::NotUtf8 => "not_utf8",
            Self::AmbiguousParameter => "ambiguous_parameter",
            Self::InvalidJsonBody => "invalid_json_body",
            Self::InvalidFormBody => "invalid_form_body",
            Self::ComplexBody { .. } => "body_too_complex",
            Self::DuplicateOwnedHeader { .. } => "duplicate_header",
            Self::UnstrippableHeader { .. } => "unstrippable_header",
            Self::CustomJwt { .. } => "mint_refused",
            Self::MintFailed => "mint_failed",
            Self::Undecided => "undecided",
            Self::Internal => "internal",
        }
    }

    /// What in the configuration or request shape the refusal concerns, for the log line; never
    /// a value the client or a token supplied.
    pub fn detail(&self) -> Option<String> {
        match self {
            Self::ClaimNotHeaderSafe { claim } => Some(format!("claim {claim}")),
            Self::DuplicateOwnedHeader { name } | Self::UnstrippableHeader { name } => {
                Some(format!("header {name}"))
            }
            _ => None,
        }
    }
}

fn message(text: &str) -> Value {
    json!({ "message": text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(r: &Refusal) -> Value {
        serde_json::from_slice(&r.reply().body).unwrap_or_default()
    }

    #[test]
    fn every_refusal_has_its_status_body_and_reason() {
        let table: Vec<(Refusal, u16, Value, &str)> = vec![
            (
                Refusal::ClaimNotHeaderSafe {
                    claim: "a.b".into(),
                },
                403,
                json!({"message": "Claim 'a.b' cannot be sent as a header"}),
                "claim_not_header_safe",
            ),
            (
                Refusal::ReconcileDenied {
                    status: 404,
                    message: "Not Found".into(),
                },
                404,
                json!({"message": "Not Found"}),
                "reconcile_denied",
            ),
            (
                Refusal::ReconcileFailed,
                502,
                json!({"message": BAD_GATEWAY_MESSAGE}),
                "reconcile_failed",
            ),
            (
                Refusal::ReconcileTimeout,
                504,
                json!({"message": TIMEOUT_MESSAGE}),
                "reconcile_failed",
            ),
            (
                Refusal::BodyTooLarge { max: 10 },
                413,
                json!({"message": "Request body is larger than 10 bytes"}),
                "body_too_large",
            ),
            (
                Refusal::LengthRequired,
                411,
                json!({"message": "A Content-Length is required for this request's body"}),
                "length_required",
            ),
            (
                Refusal::TooManyHeaders,
                431,
                json!({"message": "Request has too many headers"}),
                "too_many_headers",
            ),
            (
                Refusal::UnsupportedProtocol,
                505,
                json!({"message": "HTTP/0.9 is not supported"}),
                "unsupported_protocol",
            ),
            (
                Refusal::UpgradeWithBody,
                400,
                json!({"message": "An upgrade request must not carry a body"}),
                "upgrade_with_body",
            ),
            (
                Refusal::EncodedBody,
                415,
                json!({"message": "A Content-Encoding or Content-Type is not supported for this request's body"}),
                "encoded_body",
            ),
            (
                Refusal::AmbiguousBody,
                400,
                json!({"message": "Request body is ambiguous JSON (a member named twice, or an integer beyond 64 bits)"}),
                "ambiguous_body",
            ),
            (
                Refusal::SemicolonSeparator,
                400,
                json!({"message": "Request query or form body separates parameters with ';'"}),
                "semicolon_separator",
            ),
            (
                Refusal::AmbiguousParameter,
                400,
                json!({"message": "Request query or form body names one parameter in two spellings"}),
                "ambiguous_parameter",
            ),
            (
                Refusal::RawFragment,
                400,
                json!({"message": "Request target contains a raw '#'"}),
                "raw_fragment",
            ),
            (
                Refusal::AmbiguousHost,
                400,
                json!({"message": "Request target and Host header name different hosts"}),
                "ambiguous_host",
            ),
            (
                Refusal::AmbiguousPath,
                400,
                json!({"message": "Request path has a dot segment, an empty segment or an escaped unreserved character"}),
                "ambiguous_path",
            ),
            (
                Refusal::MethodOverride,
                400,
                json!({"message": "Request overrides its method with another"}),
                "method_override",
            ),
            (
                Refusal::NotUtf8,
                400,
                json!({"message": "Request header or target is not valid UTF-8"}),
                "not_utf8",
            ),
            (
                Refusal::InvalidJsonBody,
                400,
                json!({"message": "Request body is not valid JSON"}),
                "invalid_json_body",
            ),
            (
                Refusal::InvalidFormBody,
                400,
                json!({"message": "Request body is not a valid multipart form"}),
                "invalid_form_body",
            ),
            (
                Refusal::ComplexBody {
                    max: crate::stages::reconcile::MAX_BODY_VALUES,
                },
                413,
                json!({"message": "Request body holds more than 100000 values"}),
                "body_too_complex",
            ),
            (
                Refusal::DuplicateOwnedHeader {
                    name: "x-consumer-id".into(),
                },
                400,
                json!({"message": "Duplicate 'x-consumer-id' header"}),
                "duplicate_header",
            ),
            (
                Refusal::UnstrippableHeader {
                    name: "X.Consumer.ID".into(),
                },
                400,
                json!({"message": "Header 'X.Consumer.ID' cannot be removed"}),
                "unstrippable_header",
            ),
            (
                Refusal::CustomJwt {
                    verbose: Some("why".into()),
                },
                401,
                json!({"ErrorMessage": CUSTOM_JWT_MESSAGE, "VerboseMessage": "why"}),
                "mint_refused",
            ),
            (
                Refusal::CustomJwt { verbose: None },
                401,
                json!({"ErrorMessage": CUSTOM_JWT_MESSAGE}),
                "mint_refused",
            ),
            (
                Refusal::MintFailed,
                500,
                json!({"message": INTERNAL_MESSAGE}),
                "mint_failed",
            ),
            (
                Refusal::Undecided,
                502,
                json!({"message": BAD_GATEWAY_MESSAGE}),
                "undecided",
            ),
            (
                Refusal::Internal,
                500,
                json!({"message": INTERNAL_MESSAGE}),
                "internal",
            ),
        ];
        for (refusal, status, want, reason) in table {
            assert_eq!(refusal.reply().status, status, "{refusal:?}");
            assert_eq!(body(&refusal), want, "{refusal:?}");
            assert_eq!(refusal.reason(), reason, "{refusal:?}");
        }
    }

    #[test]
    fn unauthenticated_carries_the_stage_challenge() {
        let r = Refusal::Unauthenticated {
            denial: Denial::NoApiKey,
            challenge: Challenge::Key { realm: None },
            key_claim: "iss".into(),
        };
        let reply = r.reply();
        assert_eq!(reply.status, 401);
        assert!(reply
            .headers
            .contains(&("www-authenticate".into(), "Key".into())));
        assert_eq!(r.reason(), "no_api_key");
    }

    #[test]
    fn detail_names_configuration_never_values() {
        assert_eq!(
            Refusal::ClaimNotHeaderSafe {
                claim: "profile.name".into()
            }
            .detail(),
            Some("claim profile.name".into())
        );
        assert_eq!(Refusal::ReconcileFailed.detail(), None);
    }
}
