//! One request's path through the stages, as resumable data: authenticate, then (reading the
//! body first when a stage needs it) reconcile. Each step returns a [`Next`] for the glue; the
//! glue calls back with the body or the call's answer. Nothing goes back up the path.

use super::auth::Identity;
use super::reconcile::{self, Outcome};
use super::{CallAnswer, CallSpec, Decision, HeaderEdits, LocalResponse, Request, Shared};
use crate::config::Config;
use serde_json::json;

/// What the glue does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Apply the edits and let the request go on.
    Continue(HeaderEdits),
    /// Answer the request locally.
    Respond(LocalResponse),
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
    Reconcile,
    AwaitReconcile { cache_key: Option<[u8; 32]> },
    Done,
}

/// A request in flight.
#[derive(Debug)]
pub struct Flow {
    req: Request,
    edits: HeaderEdits,
    response_headers: Vec<(String, String)>,
    identity: Option<Identity>,
    body: Option<Vec<u8>>,
    step: Step,
}

/// The reply to a body above the limit.
pub fn too_large(max: u64) -> LocalResponse {
    LocalResponse::json(
        413,
        &json!({ "message": format!("Request body is larger than {max} bytes") }),
    )
}

impl Flow {
    /// Starts a request: authenticates, then runs the next steps.
    pub fn start(config: &Config, shared: &mut Shared, req: Request) -> (Self, Next) {
        let mut flow = Self {
            req,
            edits: HeaderEdits::default(),
            response_headers: Vec::new(),
            identity: None,
            body: None,
            step: Step::Reconcile,
        };
        if let Some(auth) = &config.auth {
            match auth.run(&flow.req, &mut shared.tokens) {
                Ok(done) => {
                    flow.edits.0.extend(done.edits.0);
                    flow.identity = done.identity;
                }
                Err(reply) => return (flow, Next::Respond(reply)),
            }
        }
        let next = flow.advance(config, shared);
        (flow, next)
    }

    /// Who authentication found (for later stages and logs).
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }

    /// Headers to add to the client response (`streamdown_injected_headers`).
    pub fn response_headers(&self) -> &[(String, String)] {
        &self.response_headers
    }

    /// A piece of the request body; `Err` with the 413 reply once it exceeds `max`.
    pub fn on_body_chunk(&mut self, chunk: &[u8], max: u64) -> Result<(), LocalResponse> {
        let body = self.body.get_or_insert_with(Vec::new);
        let total = body.len().saturating_add(chunk.len());
        if u64::try_from(total).unwrap_or(u64::MAX) > max {
            return Err(too_large(max));
        }
        body.extend_from_slice(chunk);
        Ok(())
    }

    /// The body is complete (possibly empty): go on.
    pub fn on_body_end(&mut self, config: &Config, shared: &mut Shared) -> Next {
        self.body.get_or_insert_with(Vec::new);
        self.advance(config, shared)
    }

    /// The answer to the call of the last [`Next::Dispatch`].
    pub fn on_call_answer(
        &mut self,
        config: &Config,
        shared: &mut Shared,
        answer: &CallAnswer,
    ) -> Next {
        let (Step::AwaitReconcile { cache_key }, Some(rec)) = (self.step, &config.reconcile) else {
            return Next::Respond(internal_error());
        };
        self.step = Step::Done;
        match reconcile::on_answer(rec, answer) {
            Outcome::Inject(injection) => {
                if let (Some(key), Some(cache)) = (cache_key, shared.reconcile.as_mut()) {
                    cache.put(key, injection.clone(), self.req.now);
                }
                self.inject(injection);
                self.advance(config, shared)
            }
            Outcome::Deny(reply) => Next::Respond(reply),
            Outcome::Failed(failure) => match reconcile::on_failure(rec, &failure) {
                Decision::Continue(edits) => {
                    self.edits.0.extend(edits.0);
                    self.advance(config, shared)
                }
                Decision::Respond(reply) => Next::Respond(reply),
            },
        }
    }

    fn inject(&mut self, injection: reconcile::Injection) {
        self.edits.0.extend(injection.request.0);
        self.response_headers.extend(injection.response);
    }

    fn advance(&mut self, config: &Config, shared: &mut Shared) -> Next {
        loop {
            match self.step {
                Step::Reconcile => {
                    let Some(rec) = &config.reconcile else {
                        self.step = Step::Done;
                        continue;
                    };
                    if rec.needs_body() && self.body.is_none() {
                        return Next::ReadBody {
                            max: rec.max_body_bytes(),
                        };
                    }
                    self.edits
                        .0
                        .extend(reconcile::strip_client_headers(rec, &self.req).0);
                    let body = self.body.as_deref().filter(|_| rec.needs_body());
                    let cache_key = shared
                        .reconcile
                        .as_ref()
                        .map(|_| reconcile::cache_key(rec, &self.req, body));
                    let hit = match (cache_key, shared.reconcile.as_ref()) {
                        (Some(key), Some(cache)) => cache.get(&key, self.req.now).cloned(),
                        _ => None,
                    };
                    if let Some(injection) = hit {
                        shared.reconcile_hits = shared.reconcile_hits.saturating_add(1);
                        self.inject(injection);
                        self.step = Step::Done;
                        continue;
                    }
                    self.step = Step::AwaitReconcile { cache_key };
                    return Next::Dispatch(reconcile::build_call(rec, &self.req, body));
                }
                Step::AwaitReconcile { .. } => return Next::Respond(internal_error()),
                Step::Done => return Next::Continue(std::mem::take(&mut self.edits)),
            }
        }
    }
}

/// A state the flow should never reach: answer, never forward.
fn internal_error() -> LocalResponse {
    LocalResponse::json(500, &json!({ "message": "An unexpected error occurred" }))
}
