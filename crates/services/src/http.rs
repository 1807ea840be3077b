//! The same services over HTTP (axum), for the NATS-vs-HTTP comparison:
//! the same JSON in, the same envelope out.
//!
//! | method and path | NATS equivalent |
//! | --- | --- |
//! | `POST /{service}/rpc/{method}` (body: keyword arguments) | `{service}.rpc.{method}` |
//! | `GET /{service}/describe` | `{service}.describe` |
//! | `GET /health` | — |
//!
//! Replies are always `200` with the envelope (as over NATS, `success`
//! says how it went), in the request's codec (`Content-Type`).

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cliffload_protocol::{Codec, headers as proto};

use crate::cliffracer::{Handler, describe_body, envelope_for};

/// Routes for one service under `/{name}/…`; merge several with [`Router::merge`].
pub fn router<H: Handler>(handler: Arc<H>, max_request_bytes: usize) -> Router {
    let name = handler.name().to_owned();
    Router::new()
        .route(&format!("/{name}/rpc/{{method}}"), post(rpc::<H>))
        .route(&format!("/{name}/describe"), get(describe::<H>))
        // axum refuses bodies over 2 MB by default; the service's own limit
        // (the same as over NATS) answers with an envelope instead.
        .layer(axum::extract::DefaultBodyLimit::max(
            max_request_bytes.saturating_add(1 << 20),
        ))
        .with_state((handler, max_request_bytes))
}

/// Serves `app` (plus `/health`) on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app.route("/health", get(|| async { r#"{"status":"ok"}"# }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn rpc<H: Handler>(
    State((handler, limit)): State<(Arc<H>, usize)>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let codec = header(proto::CONTENT_TYPE).map(|c| Codec::from_content_type(&c));
    let corr = proto::CORRELATION_HEADERS.iter().find_map(|h| header(h));
    let envelope = envelope_for(&*handler, &method, codec, &body, corr.clone(), limit).await;
    let out = codec.unwrap_or_else(|| Codec::sniff(&body));
    let mut response = out.encode(&envelope).unwrap_or_default().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(out.mime()));
    if let Some(c) = corr.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(proto::CORRELATION_ID, c);
    }
    response
}

async fn describe<H: Handler>(State((handler, _)): State<(Arc<H>, usize)>) -> Response {
    let mut r = describe_body(&*handler).to_vec().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(proto::JSON));
    r
}
