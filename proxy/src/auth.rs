//! Who may call the browser endpoints: the bearer token, checked before any handler runs, and
//! each token's request budget.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::Route;
use futures_util::future::BoxFuture;
use tower::Service;

use crate::errors::{refuse, too_many};
use crate::state::App;
use crate::token::{Claims, TokenError};

/// The token of a request's `Authorization: Bearer` header; the scheme is matched
/// case-insensitively (RFC 9110, 11.1).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    bearer_value(headers.get(header::AUTHORIZATION)?)
}

/// The token of an `Authorization: Bearer` value.
pub fn bearer_value(value: &HeaderValue) -> Option<&str> {
    let (scheme, token) = value.to_str().ok()?.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim_start_matches(' '))
        .filter(|t| !t.is_empty())
}

/// The layer in front of the browser endpoints ([`Authenticate`]).
pub fn layer(
    app: Arc<App>,
) -> tower::layer::LayerFn<impl Fn(Route) -> Authenticate<Route> + Clone> {
    tower::layer::layer_fn(move |inner| Authenticate {
        app: app.clone(),
        inner,
    })
}

/// In front of the browser endpoints: a valid token's claims go into the request's extensions
/// (handlers read them with `Extension<Arc<Claims>>`) and the answer's (so outer layers, such
/// as the simulator's request log, learn whom the request was served for without checking the
/// token again); anything else is answered 401, and a token past its budget 429 with
/// `Retry-After`. A tower service of its own, not an axum `from_fn`, which copies every service
/// inside it and boxes two futures for each request.
#[derive(Clone, Debug)]
pub struct Authenticate<S> {
    app: Arc<App>,
    inner: S,
}

/// Why a request's token was refused, as the page reads it.
fn refusal(failed: Option<Result<Claims, TokenError>>) -> Response {
    let why = match failed {
        Some(Err(TokenError::Expired)) => "the token has expired",
        Some(Err(TokenError::BadSignature)) => "the token signature is not valid",
        Some(Err(TokenError::Malformed)) => "the token is malformed",
        Some(Err(TokenError::Rejected)) => "the token is not for this proxy",
        _ => "a bearer token is required",
    };
    refuse(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", why)
}

/// 429 for a token past its budget, with its claims.
fn limited(wait: std::time::Duration, claims: Claims) -> Response {
    crate::telemetry::rate_limited("token");
    let mut resp = too_many(wait, "too many requests for this token");
    resp.extensions_mut().insert(Arc::new(claims));
    resp
}

/// The key of a token's bucket.
fn bucket(claims: &Claims) -> String {
    format!(
        "{}|{}|{}",
        claims.entity_id,
        claims.kind.as_str(),
        claims.session_id.as_deref().unwrap_or("")
    )
}

impl<S> Service<Request> for Authenticate<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Authenticated<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let app = &self.app;
        let claims = match bearer(req.headers()).map(|t| app.tokens.verify(t)) {
            Some(Ok(c)) => c,
            failed => return Authenticated::answered(refusal(failed)),
        };
        if app.limiter.is_on() {
            let key = bucket(&claims);
            if let Some(cluster) = app.cluster.clone() {
                // One bucket for all instances when they share Redis: asked before the request
                // goes on (this instance's own bucket while Redis is away).
                let app = app.clone();
                let mut inner = self.inner.clone();
                std::mem::swap(&mut inner, &mut self.inner);
                return Authenticated {
                    state: Stage::Asking {
                        fut: Box::pin(async move {
                            let shared = cluster
                                .take(&key, app.limiter.rate, app.limiter.burst)
                                .await;
                            if let Err(wait) = shared.unwrap_or_else(|| app.limiter.take(&key)) {
                                return limited(wait, claims);
                            }
                            let claims = Arc::new(claims);
                            req.extensions_mut().insert(claims.clone());
                            let mut resp = match inner.call(req).await {
                                Ok(resp) => resp,
                                Err(never) => match never {},
                            };
                            resp.extensions_mut().insert(claims);
                            resp
                        }),
                    },
                };
            }
            if let Err(wait) = app.limiter.take(&key) {
                return Authenticated::answered(limited(wait, claims));
            }
        }
        let claims = Arc::new(claims);
        req.extensions_mut().insert(claims.clone());
        Authenticated {
            state: Stage::Serving {
                fut: self.inner.call(req),
                claims: Some(claims),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// A request going through [`Authenticate`].
    pub struct Authenticated<F> {
        #[pin]
        state: Stage<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    enum Stage<F> {
        // Refused at once.
        Answered { resp: Option<Response> },
        // Asking Redis for the token's budget first.
        Asking { fut: BoxFuture<'static, Response> },
        // Being served; the claims go on the answer.
        Serving {
            #[pin]
            fut: F,
            claims: Option<Arc<Claims>>,
        },
    }
}

impl<F> Authenticated<F> {
    fn answered(resp: Response) -> Self {
        Authenticated {
            state: Stage::Answered { resp: Some(resp) },
        }
    }
}

impl<F> Future for Authenticated<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StageProj::Answered { resp } => Poll::Ready(Ok(resp.take().unwrap_or_default())),
            StageProj::Asking { fut } => fut.as_mut().poll(cx).map(Ok),
            StageProj::Serving { fut, claims } => {
                let mut resp = match fut.poll(cx) {
                    Poll::Ready(Ok(resp)) => resp,
                    Poll::Ready(Err(never)) => match never {},
                    Poll::Pending => return Poll::Pending,
                };
                if let Some(claims) = claims.take() {
                    resp.extensions_mut().insert(claims);
                }
                Poll::Ready(Ok(resp))
            }
        }
    }
}
