//! One request's path through the stages, as resumable data, in Kong's plugin order: the JWKS
//! endpoint, authenticate, the custom JWT, the body (read once, complete, hashed as it is read,
//! kept only when a stage reads its bytes), the upstream JWT, then reconcile (both at priority
//! 900, which Kong breaks by name, descending: `kong-upstream-jwt` before `jwt-reconcile`).
//! Each step returns a [`Next`] for the glue; the glue calls back with the body or the call's
//! answer. Nothing goes back up the path.

use super::auth::remote_jwks::Ticket;
use super::auth::{AuthStop, Authenticator, Identity};
use super::events::{Event, ReconcileOutcome};
use super::reconcile::{self, Outcome};
use super::{
    headers, CallAnswer, CallSpec, HeaderEdit, HeaderEdits, LocalResponse, Refusal, Request, Shared,
};
use crate::sha256;
use crate::stages::Pipeline;

/// What the glue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Apply the edits and let the request go on.
    Continue(HeaderEdits),
    /// Serve this answer (the filter's JWKS endpoint).
    Serve(LocalResponse),
    /// Refuse the request with [`Refusal::reply`]; it never reaches the upstream.
    Refuse(Refusal),
    /// Make this call and hand its answer to [`Flow::on_call_answer`].
    Dispatch(CallSpec),
    /// Read the body (at most `max` bytes) into [`Flow::on_body_chunk`], then
    /// [`Flow::on_body_end`].
    ReadBody {
        /// Largest body accepted; more is answered with 413.
        max: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The body, read before authentication when a stage finds a key in it.
    AuthBody,
    Auth {
        refetch: bool,
    },
    AwaitJwks {
        ticket: Ticket,
    },
    CustomJwt,
    Body,
    UpstreamJwt,
    Reconcile,
    AwaitReconcile {
        cache_key: Option<[u8; 32]>,
    },
    Done,
}

/// The request body as read so far: hashed incrementally, kept only when a stage needs bytes.
#[derive(Debug, Clone, Default)]
struct Body {
    hasher: sha256::Hasher,
    kept: Option<Vec<u8>>,
    len: u64,
    done: bool,
}

/// A request in flight.
#[derive(Debug, Clone)]
pub struct Flow {
    req: Request,
    edits: HeaderEdits,
    response_headers: Vec<(String, String)>,
    identity: Option<Identity>,
    body: Body,
    hash: Option<[u8; 32]>,
    /// A body to write to the host, not written yet ([`Self::take_new_body`]).
    new_body: Option<Vec<u8>>,
    step: Step,
    events: Vec<Event>,
}

/// The largest body the configured stages accept, when any stage reads the body: the least
/// of their limits, since the body is read once, for the first stage that needs it.
fn body_limit(config: &Pipeline) -> Option<u64> {
    let reconcile = config
        .reconcile
        .as_ref()
        .filter(|r| r.needs_body())
        .map(|r| r.max_body_bytes());
    let mint = config.upstream_jwt.as_ref().map(|u| u.max_body_bytes);
    let auth = config.auth.as_ref().and_then(|a| a.body_limit());
    [reconcile, mint, auth].into_iter().flatten().min()
}

/// Removals of the client's copies of the headers authentication owns: the stages' own, or,
/// without an authentication stage, the consumer headers unless the host's plugins may have
/// set them ([`Request::host_sets_consumers`]). Either way with them, every header of `fields`
/// named like an identity Kong's other plugins set ([`IDENTITY_PREFIXES`]).
fn consumer_removals(config: &Pipeline, req: &Request, fields: &Request) -> HeaderEdits {
    let mut edits = match &config.auth {
        Some(auth) => auth.owned_removals(),
        None if req.host_sets_consumers => return HeaderEdits::default(),
        // The consumer headers are all named by the prefixes.
        None => HeaderEdits::default(),
    };
    edits.0.extend(identity_lookalikes(fields).0);
    edits
}

/// Removals of every header of `fields` under one of [`IDENTITY_PREFIXES`].
fn identity_lookalikes(fields: &Request) -> HeaderEdits {
    let mut edits = HeaderEdits::default();
    for (name, _) in &fields.headers {
        if IDENTITY_PREFIXES.iter().any(|p| {
            name.get(..p.len())
                .is_some_and(|head| headers::same_header(head, p))
        }) {
            edits.remove(name.clone());
        }
    }
    edits
}

/// Names of identities Kong's other plugins set, which the filter never does but an upstream
/// migrated from Kong may trust: acl's `X-Consumer-Groups` and `X-Authenticated-Groups`,
/// oauth2's `X-Authenticated-Userid` and `-Scope`, older Kong's `X-Credential-Username`. A
/// client's copy would pass for the gateway's word beside a verified consumer (review
/// helper-103), so every header under these prefixes is removed, in every spelling. They
/// name [`super::auth::CONSUMER_HEADERS`] too.
const IDENTITY_PREFIXES: [&str; 4] = [
    "x-consumer-",
    "x-credential-",
    "x-authenticated-",
    "x-anonymous-consumer",
];

/// What goes with a token handed back to the client (`downstream_custom_jwt_header`), in place
/// of the upstream's: a token for this client only, so no shared cache may keep the answer and
/// hand it to the next (RFC 6749 §5.1 asks the same of a token endpoint's answer). Caches obey
/// their own headers over `Cache-Control`: RFC 9213's `CDN-Cache-Control`, Cloudflare's
/// prefixed one, Akamai's `Edge-Control`, Fastly's and Varnish's `Surrogate-Control`, and
/// nginx's `X-Accel-Expires` (0: not cached). Reviews helper-111 and helper-114.
const NO_STORE: [(&str, &str); 6] = [
    ("cache-control", "no-store"),
    ("cdn-cache-control", "no-store"),
    ("cloudflare-cdn-cache-control", "no-store"),
    ("edge-control", "no-store"),
    ("surrogate-control", "no-store"),
    ("x-accel-expires", "0"),
];

impl Flow {
    /// Starts a request: authenticates, then runs the next steps.
    pub fn start(config: &Pipeline, shared: &mut Shared, req: Request) -> (Self, Next) {
        let auth_body = config.auth.as_ref().is_some_and(|a| a.reads_body());
        let keep = auth_body || config.reconcile.as_ref().is_some_and(|r| r.needs_body());
        let mut flow = Self {
            req,
            edits: HeaderEdits::default(),
            response_headers: Vec::new(),
            identity: None,
            body: Body {
                kept: keep.then(Vec::new),
                ..Body::default()
            },
            hash: None,
            new_body: None,
            step: match auth_body {
                true => Step::AuthBody,
                false => Step::Auth { refetch: true },
            },
            events: Vec::new(),
        };
        if let Some(reply) = config
            .jwks_endpoint
            .as_ref()
            .and_then(|j| j.serve(&flow.req))
        {
            flow.events.push(Event::JwksServed);
            return (flow, Next::Serve(reply));
        }
        let next = flow.advance(config, shared);
        (flow, next)
    }

    /// The SHA-256 of the body read, as hashed while it arrived; `kept` is the same bytes, hashed
    /// here only if the body step never finished (it always has when a stage keeps the body).
    fn body_sha256(&self, kept: &[u8]) -> [u8; 32] {
        self.hash.unwrap_or_else(|| sha256::digest(kept))
    }

    /// Moves the request's clock to `now` (Unix seconds) before a later step: a token minted
    /// after a slow body or a call is stamped when it is minted, as kong-upstream-jwt stamps
    /// it after `ngx.req.read_body()`. A clock that steps back is not followed.
    pub fn advance_clock(&mut self, now: u64) {
        self.req.now = self.req.now.max(now);
    }

    /// The request as the client sent it.
    pub fn request(&self) -> &Request {
        &self.req
    }

    /// Who authentication found (for later stages and logs).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Events recorded since the last call (for metrics), in order.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Headers to set on the client response, in order (a later one replaces an earlier of
    /// its name): `streamdown_injected_headers`, then `downstream_custom_jwt_header`'s token
    /// with `Cache-Control: no-store`.
    pub fn response_headers(&self) -> &[(String, String)] {
        &self.response_headers
    }

    /// Removals to apply to the held request before it waits (on a call, or on Kong's body
    /// step): the client's copies of every header the stages so far remove or set, and of those
    /// the stages still to come set or strip (authentication's, the minted tokens', those
    /// reconcile answers for). A request the host lets go on without the call's answer (Kong 3.8
    /// skips the callback of a failed dispatch) or without the body step then reaches the
    /// upstream with no identity header the client wrote.
    pub fn guard_edits(&self, config: &Pipeline) -> HeaderEdits {
        self.guard_edits_on(config, &self.req)
    }

    /// The removals of [`Self::guard_edits`] for `fields` the client sent besides its headers
    /// (its request trailers, which an upstream may read as headers): every spelling there of a
    /// header the filter owns.
    pub fn guard_edits_on(&self, config: &Pipeline, fields: &Request) -> HeaderEdits {
        let mut owned = self.edits.clone();
        owned
            .0
            .extend(consumer_removals(config, &self.req, fields).0);
        if let Some(custom) = &config.custom_jwt {
            owned.remove(custom.upstream_header.clone());
        }
        if let Some(up) = &config.upstream_jwt {
            owned.remove(up.header.clone());
        }
        if let Some(rec) = &config.reconcile {
            owned
                .0
                .extend(reconcile::strip_client_headers(rec, fields).0);
            // A method override the headers held was checked against the method; one arriving
            // as a trailer, after the call, never was.
            for name in reconcile::METHOD_OVERRIDE_HEADERS {
                owned.remove(name);
            }
        }
        let mut guard = HeaderEdits::default();
        for edit in &owned.0 {
            let (HeaderEdit::Set(name, _) | HeaderEdit::Remove(name)) = edit;
            // The length of a body a key was cut out of is no identity header: set with the
            // rest, never removed while the request waits.
            if name.eq_ignore_ascii_case("content-length") {
                continue;
            }
            let done = guard.0.iter().any(|e| match e {
                HeaderEdit::Remove(r) | HeaderEdit::Set(r, _) => r.eq_ignore_ascii_case(name),
            });
            if !done {
                guard.remove(name.clone());
            }
        }
        headers::covering_spellings(fields, guard)
    }

    /// The removals for the client's request trailers: [`Self::guard_edits_on`] them, every
    /// spelling there of a header an authentication stage reads a credential from
    /// ([`Authenticator::credential_removals`]), and with `reconcile` every spelling there of
    /// the headers the call's own stand for or its checks compared with the request
    /// ([`reconcile::CHECKED_HEADERS`]: `X-Forwarded-Host`, `Forwarded`, …). Those among the headers were checked before the call; trailers come
    /// after it, and an upstream that reads trailers as headers would act on them unchecked.
    pub fn trailer_edits(&self, config: &Pipeline, trailers: &Request) -> HeaderEdits {
        let mut edits = self.guard_edits_on(config, trailers);
        let mut checked = config
            .auth
            .as_ref()
            .map(Authenticator::credential_removals)
            .unwrap_or_default();
        if config.reconcile.is_some() {
            for name in reconcile::CHECKED_HEADERS {
                checked.remove(name);
            }
        }
        edits
            .0
            .extend(headers::covering_spellings(trailers, checked).0);
        edits
    }

    /// The request as the upstream would receive it now: what later stages read and sign
    /// (the reconcile call, `payloadhash`'s request binding), never the client's own copies.
    fn upstream_view(&self) -> Request {
        self.req.edited(&self.edits)
    }

    /// A piece of the request body, hashed once; `Err` (413) once it exceeds `max`.
    pub fn on_body_chunk(&mut self, chunk: &[u8], max: u64) -> Result<(), Refusal> {
        let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
        self.body.len = self.body.len.saturating_add(len);
        if self.body.len > max {
            return Err(self.body_too_large(max));
        }
        self.body.hasher.update(chunk);
        if let Some(kept) = self.body.kept.as_mut() {
            kept.extend_from_slice(chunk);
        }
        Ok(())
    }

    /// The body is past `max` (the host says how much it holds before it is read): 413.
    pub fn body_too_large(&mut self, max: u64) -> Refusal {
        let refusal = Refusal::BodyTooLarge { max };
        self.events.push(Event::Denied(refusal.clone()));
        refusal
    }

    /// The body is complete (possibly empty): go on.
    pub fn on_body_end(&mut self, config: &Pipeline, shared: &mut Shared) -> Next {
        self.body.done = true;
        self.hash = Some(std::mem::take(&mut self.body.hasher).finalize());
        self.advance(config, shared)
    }

    /// The answer to the call of the last [`Next::Dispatch`].
    pub fn on_call_answer(
        &mut self,
        config: &Pipeline,
        shared: &mut Shared,
        answer: &CallAnswer,
    ) -> Next {
        if let Step::AwaitJwks { ticket } = self.step {
            let fetched = shared.jwks.finish_refetch(ticket, answer, self.req.now);
            shared.jwks_fetched(&fetched);
            shared.jwks_fetches.push(fetched);
            self.step = Step::Auth { refetch: false };
            return self.advance(config, shared);
        }
        let (Step::AwaitReconcile { cache_key }, Some(rec)) = (self.step, &config.reconcile) else {
            return self.refuse(Refusal::Internal);
        };
        self.step = Step::Done;
        match reconcile::on_answer(rec, answer) {
            Outcome::Inject(injection) => {
                self.events
                    .push(Event::Reconcile(ReconcileOutcome::Allowed));
                if let (Some(key), Some(cache)) = (cache_key, shared.reconcile.as_mut()) {
                    let view = self.upstream_view();
                    let body = self.body.kept.as_deref().filter(|_| rec.needs_body());
                    // The body value the call carried.
                    let shown =
                        body.and_then(|b| reconcile::body_value(view.header("content-type"), b));
                    let lifetime = reconcile::answer_lifetime(answer, &view, shown.as_ref());
                    cache.put_within(key, injection.clone(), self.req.now, lifetime);
                }
                self.inject(injection);
                self.advance(config, shared)
            }
            Outcome::Deny(refusal) => {
                self.events.push(Event::Reconcile(ReconcileOutcome::Denied));
                self.refuse(refusal)
            }
            Outcome::Failed(failure) => match reconcile::on_failure(rec, &failure) {
                Ok(edits) => {
                    self.events
                        .push(Event::Reconcile(ReconcileOutcome::FailedOpen));
                    self.edits.0.extend(edits.0);
                    self.advance(config, shared)
                }
                Err(refusal) => {
                    self.events.push(Event::Reconcile(ReconcileOutcome::Failed));
                    self.refuse(refusal)
                }
            },
        }
    }

    /// The request is gone while its call is in flight (the host drops the call with the
    /// stream, so no answer will come): a JWKS re-fetch it was waiting for is abandoned, so
    /// that other requests and the background refresh need not wait for its deadline. True
    /// when there was one.
    pub fn abandon(&mut self, shared: &mut Shared) -> bool {
        match self.step {
            Step::AwaitJwks { ticket } => shared.jwks.abandon_refetch(ticket),
            _ => false,
        }
    }

    /// Runs authentication; `Some` when the request stops here (a denial or a JWKS fetch).
    fn authenticate(
        &mut self,
        config: &Pipeline,
        shared: &mut Shared,
        refetch: bool,
    ) -> Option<Next> {
        let Some(auth) = config.auth.as_ref() else {
            self.edits
                .0
                .extend(consumer_removals(config, &self.req, &self.req).0);
            return None;
        };
        // A key may be read from the body: a body another reader reads otherwise (encoded,
        // ambiguous JSON, a form Go or PHP reads another way) could hide a second key.
        if let Some(bytes) = self
            .body
            .kept
            .as_deref()
            .filter(|b| auth.reads_body() && !b.is_empty())
        {
            if reconcile::encoded_body(&self.req) {
                return Some(self.refuse(Refusal::EncodedBody));
            }
            if let Some(refusal) = reconcile::unshowable_body(&self.req, bytes) {
                return Some(self.refuse(refusal));
            }
        }
        let result = auth.run(
            &self.req,
            self.body.kept.as_deref(),
            &mut shared.tokens,
            shared.jwks.set.as_ref(),
            refetch,
            &mut self.events,
        );
        match result {
            Ok(done) => {
                // Before the stage's own settings: a claim may go out as `X-Credential-Tier`.
                self.edits.0.extend(identity_lookalikes(&self.req).0);
                self.edits.0.extend(done.edits.0);
                self.identity = done.identity;
                if let Some(cut) = done.body {
                    self.replace_body(cut);
                }
                None
            }
            Err(AuthStop::Refuse(refusal)) => Some(self.refuse(refusal)),
            Err(AuthStop::NeedJwks { kid }) => {
                let remote = auth.remote_jwks()?;
                if let Some(ticket) = shared.jwks.begin_refetch(&kid, self.req.now, remote) {
                    self.step = Step::AwaitJwks { ticket };
                    return Some(Next::Dispatch(remote.call()));
                }
                self.step = Step::Auth { refetch: false };
                Some(self.advance(config, shared))
            }
        }
    }

    /// The upstream gets `body` instead of the client's (a key cut out of it): what later
    /// stages hash, show and sign from here on, with its `Content-Length` (a body of unknown
    /// length stays so). The glue writes it to the host ([`Self::take_new_body`]).
    fn replace_body(&mut self, body: Vec<u8>) {
        self.hash = Some(sha256::digest(&body));
        self.body.len = u64::try_from(body.len()).unwrap_or(u64::MAX);
        if self.req.header("content-length").is_some() {
            self.edits.set("content-length", body.len().to_string());
        }
        self.new_body = Some(body.clone());
        self.body.kept = Some(body);
    }

    /// The body the upstream must get instead of the client's, once: the glue writes it to
    /// the host before the request goes on.
    pub fn take_new_body(&mut self) -> Option<Vec<u8>> {
        self.new_body.take()
    }

    /// Refuses the request, recording why.
    fn refuse(&mut self, refusal: Refusal) -> Next {
        self.events.push(Event::Denied(refusal.clone()));
        Next::Refuse(refusal)
    }

    /// x-custom-jwt's token, minted before reconcile as in Kong (priority 1025 over
    /// jwt-reconcile's 900), so the auth service sees it among the copied headers.
    fn mint_custom(&mut self, config: &Pipeline) -> Result<(), Refusal> {
        if let Some(custom) = &config.custom_jwt {
            let minted = custom.mint(&self.upstream_view(), self.identity.as_ref())?;
            self.events.push(Event::Minted(custom.signer.alg));
            self.edits.set(minted.upstream.0, minted.upstream.1);
            if let Some(down) = minted.downstream {
                self.response_headers.push(down);
                for (name, value) in NO_STORE {
                    self.response_headers.push((name.into(), value.into()));
                }
            }
        }
        Ok(())
    }

    /// kong-upstream-jwt's token, before reconcile as in Kong (the auth service sees it among
    /// the copied headers, never a client's forged copy).
    fn mint_upstream(&mut self, config: &Pipeline) -> Result<(), Refusal> {
        if let Some(up) = &config.upstream_jwt {
            let hash = self.hash.ok_or(Refusal::Internal)?;
            let hash = (self.body.len > 0).then_some(&hash[..]);
            let (name, value) = up.mint(&self.upstream_view(), self.identity.as_ref(), hash)?;
            self.events.push(Event::Minted(up.signer.alg));
            self.edits.set(name, value);
        }
        Ok(())
    }

    /// True while the flow waits on the auth service (not on a JWKS re-fetch).
    pub fn awaits_reconcile(&self) -> bool {
        matches!(self.step, Step::AwaitReconcile { .. })
    }

    fn inject(&mut self, injection: reconcile::Injection) {
        self.edits.0.extend(injection.request.0);
        // Echoed headers go first: the filter's own (the token, its no-store) win a clash.
        let mut response = injection.response;
        response.append(&mut self.response_headers);
        self.response_headers = response;
        let refused = injection
            .refused
            .into_iter()
            .map(|r| Event::ReconcileKeyRefused {
                key: r.key,
                reason: r.reason.name(),
            });
        self.events.extend(refused);
    }

    fn advance(&mut self, config: &Pipeline, shared: &mut Shared) -> Next {
        loop {
            match self.step {
                Step::AuthBody => {
                    self.step = Step::Auth { refetch: true };
                    if let Some(max) = body_limit(config).filter(|_| !self.body.done) {
                        return Next::ReadBody { max };
                    }
                }
                Step::Auth { refetch } => {
                    self.step = Step::CustomJwt;
                    if let Some(next) = self.authenticate(config, shared, refetch) {
                        return next;
                    }
                }
                Step::CustomJwt => {
                    self.step = Step::Body;
                    if let Err(refusal) = self.mint_custom(config) {
                        return self.refuse(refusal);
                    }
                }
                Step::AwaitJwks { .. } => return self.refuse(Refusal::Internal),
                Step::Body => {
                    self.step = Step::UpstreamJwt;
                    if let Some(max) = body_limit(config).filter(|_| !self.body.done) {
                        return Next::ReadBody { max };
                    }
                }
                Step::Reconcile => {
                    let Some(rec) = &config.reconcile else {
                        self.step = Step::Done;
                        continue;
                    };
                    self.edits
                        .0
                        .extend(reconcile::strip_client_headers(rec, &self.req).0);
                    // The call carries what the upstream would get: verified identity headers,
                    // never the client's copies of them.
                    let view = self.upstream_view();
                    // The call would hide it: the service would judge another request.
                    if reconcile::raw_fragment(&view) {
                        return self.refuse(Refusal::RawFragment);
                    }
                    // Before the host's check, which refuses any byte a host name cannot hold.
                    if reconcile::replaced_text(&view) {
                        return self.refuse(Refusal::NotUtf8);
                    }
                    if reconcile::ambiguous_host(&view) {
                        return self.refuse(Refusal::AmbiguousHost);
                    }
                    if reconcile::ambiguous_path(&view) {
                        return self.refuse(Refusal::AmbiguousPath);
                    }
                    if reconcile::method_override(&view) {
                        return self.refuse(Refusal::MethodOverride);
                    }
                    if let Some(name) = reconcile::ambiguous_header(&view) {
                        let name = name.clone();
                        return self.refuse(Refusal::DuplicateOwnedHeader { name });
                    }
                    if let Some(refusal) = reconcile::ambiguous_query(rec, &view) {
                        return self.refuse(refusal);
                    }
                    let body = self.body.kept.as_deref().filter(|_| rec.needs_body());
                    // A decision must not rest on a body the service was not shown.
                    if let Some(bytes) = body.filter(|b| !b.is_empty()) {
                        if reconcile::encoded_body(&view) {
                            return self.refuse(Refusal::EncodedBody);
                        }
                        if let Some(refusal) = reconcile::unshowable_body(&view, bytes) {
                            return self.refuse(refusal);
                        }
                        if reconcile::body_method_override(&view, bytes) {
                            return self.refuse(Refusal::MethodOverride);
                        }
                    }
                    let body_sha256 = body.map(|bytes| self.body_sha256(bytes));
                    // The minted token holds the body's hash (upstream_jwt) even when the call
                    // carries no body.
                    let keyed_hash = body_sha256.or(self.hash);
                    let cache_key = shared.reconcile.as_ref().map(|_| {
                        let keyed = reconcile::key_view(rec, &view);
                        reconcile::cache_key(rec, &keyed, keyed_hash.as_ref())
                    });
                    let hit = match (cache_key, shared.reconcile.as_ref()) {
                        (Some(key), Some(cache)) => cache.get(&key, self.req.now).cloned(),
                        _ => None,
                    };
                    if let Some(mut injection) = hit {
                        self.events.push(Event::ReconcileCacheHit);
                        // Counted and logged when the service answered, not at each hit.
                        injection.refused.clear();
                        self.inject(injection);
                        self.step = Step::Done;
                        continue;
                    }
                    self.step = Step::AwaitReconcile { cache_key };
                    return Next::Dispatch(reconcile::build_call(rec, &view, body));
                }
                Step::AwaitReconcile { .. } => return self.refuse(Refusal::Internal),
                Step::UpstreamJwt => {
                    self.step = Step::Reconcile;
                    if let Err(refusal) = self.mint_upstream(config) {
                        return self.refuse(refusal);
                    }
                }
                Step::Done => {
                    self.events.push(Event::Allowed);
                    let edits = std::mem::take(&mut self.edits);
                    return Next::Continue(headers::covering_spellings(&self.req, edits));
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
