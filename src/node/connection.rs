//! One accepted connection: its place in the node's budgets
//! ([`super::admission`]), the request service that proves it when a
//! request carries the token, and its socket with a write deadline (a
//! client that sends requests and never reads the answers is let go, not
//! served for ever).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::admission::{Ticket, UNPROVEN_DEADLINE};
use super::server::MAX_HEAD_BYTES;
use super::Node;

/// Serves `stream` until it closes, is dismissed while unproven, or the
/// node stops (through `graceful`).
pub fn spawn(
    stream: TcpStream,
    app: Router,
    node: Arc<Node>,
    ticket: Arc<Ticket>,
    graceful: &GracefulShutdown,
) {
    let timeout = node.limits.read_timeout;
    let deadline = UNPROVEN_DEADLINE.min(timeout);
    let service = {
        let ticket = ticket.clone();
        tower::service_fn(move |req: hyper::Request<Incoming>| {
            let (app, node, ticket) = (app.clone(), node.clone(), ticket.clone());
            async move {
                if !ticket.is_proven() && super::routes::has_token(&node, req.headers()) {
                    ticket.prove().await;
                }
                app.oneshot(req).await
            }
        })
    };
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(timeout)
        .max_header_size(MAX_HEAD_BYTES);
    let io = TokioIo::new(WriteDeadline::new(stream, timeout));
    let conn = builder.serve_connection(io, TowerToHyperService::new(service));
    let conn = graceful.watch(conn);
    tokio::spawn(async move {
        tokio::select! {
            _ = conn => {}
            _ = ticket.dismissed(deadline) => {}
        }
    });
}

/// A socket whose writes fail with `TimedOut` when one makes no progress
/// for `limit` (the peer does not read).
struct WriteDeadline {
    inner: TcpStream,
    limit: Duration,
    /// Armed while a write waits for the peer.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WriteDeadline {
    fn new(inner: TcpStream, limit: Duration) -> Self {
        WriteDeadline {
            inner,
            limit,
            stalled: None,
        }
    }

    /// What a write that returned `r` means, given how long writes have
    /// waited.
    fn watch<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let limit = self.limit;
        let sleep = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client did not read its answers in time",
        )))
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, r)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, r)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
