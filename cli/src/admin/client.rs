//! A small HTTP/1.1 client for the node's admin API (hyper's connection API over one
//! tokio TCP stream per request): `blockstm status` and `blockstm config` are one or two
//! requests each, so a pool, TLS or redirects would be dead weight.

use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;

/// How long one request may take, connection included.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Why a request got no answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Nothing listens there, or the connection failed.
    #[error("cannot connect to the node's admin API at {addr} (is `blockstm run --metrics-addr` running there?): {source}")]
    Connect {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The exchange failed (the node closed the connection, a malformed answer).
    #[error("talking to {addr}: {source}")]
    Http {
        /// Where.
        addr: SocketAddr,
        /// Why.
        source: hyper::Error,
    },
    /// The request could not be built (a bad path: a bug here).
    #[error("building the request: {0}")]
    Request(#[from] hyper::http::Error),
    /// No answer within [`TIMEOUT`].
    #[error("no answer from {addr} within {} s", TIMEOUT.as_secs())]
    Timeout {
        /// Where.
        addr: SocketAddr,
    },
    /// The runtime could not start.
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
}

/// One answer: its status and body.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: Bytes,
}

/// Sends one request to `addr` and waits for the whole answer.
pub fn request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Answer, ClientError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)?;
    runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, exchange(addr, method, path, body))
            .await
            .map_err(|_| ClientError::Timeout { addr })?
    })
}

async fn exchange(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Option<Vec<u8>>,
) -> Result<Answer, ClientError> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|source| ClientError::Connect { addr, source })?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| ClientError::Http { addr, source })?;
    // The connection task drives the socket; it ends when the exchange is over.
    let connection = tokio::spawn(connection);
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string());
    if body.is_some() {
        builder = builder.header(hyper::header::CONTENT_TYPE, "application/json");
    }
    let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|source| ClientError::Http { addr, source })?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|source| ClientError::Http { addr, source })?
        .to_bytes();
    drop(sender);
    connection.abort();
    Ok(Answer { status, body })
}
