//! Serving connections with limits, so that no client can hold the node's file handles: a
//! deadline for a request's headers (and for the next request on an idle keep-alive connection),
//! a deadline between the chunks of a body, and caps on open connections in total and per client
//! address. Connections over a cap are answered `503` and closed at once.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::serve::Listener;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::RequestBodyTimeoutLayer;

/// The `[server]` settings that bound what one client can hold open.
#[derive(Debug, Clone)]
pub struct ConnectionLimits {
    /// How long a client has to send a request's headers, counted from the connection's start
    /// or from the end of its previous response (so it is also the keep-alive idle timeout).
    pub header_read_timeout: Duration,
    /// The longest wait for the next chunk of a request body.
    pub body_read_timeout: Duration,
    /// Open connections on this node, long connections included.
    pub max_connections: usize,
    /// Open connections from one client address. Carrier-grade NAT puts many devices behind
    /// one address, so this is a guard against one host, not a per-device limit.
    pub max_connections_per_address: usize,
    /// The largest request head (request line and headers) accepted, in bytes.
    pub max_header_bytes: usize,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(30),
            max_connections: 100_000,
            max_connections_per_address: 2_000,
            max_header_bytes: 64 * 1024,
        }
    }
}

/// How often an HTTP/2 connection is pinged, and how long the answer may take, before it is
/// considered dead.
const HTTP2_KEEP_ALIVE: Duration = Duration::from_secs(30);
const HTTP2_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a refused client gets to read its `503`.
const REFUSAL_WRITE_TIMEOUT: Duration = Duration::from_secs(1);
const REFUSAL: &[u8] =
    b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n";

/// Serves `router` on `listener` (HTTP/1.1 and cleartext HTTP/2, or both over TLS with a
/// [`crate::tls::TlsListener`]) within `limits` until `shutdown` completes, then lets in-flight
/// requests finish.
pub async fn run<L, F>(mut listener: L, router: Router, limits: ConnectionLimits, shutdown: F) -> io::Result<()>
where
    L: Listener<Addr = SocketAddr>,
    F: Future<Output = ()> + Send + 'static,
{
    let router = router.layer(RequestBodyTimeoutLayer::new(limits.body_read_timeout));
    let tracker = ConnectionTracker::new(&limits);
    let (stop_sender, stop_receiver) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let Some(guard) = tracker.admit(peer.ip()) else {
            tracing::debug!(%peer, "connection refused: too many open connections");
            tokio::spawn(refuse(io));
            continue;
        };
        tokio::spawn(serve_connection(
            CountedIo { io, _guard: guard },
            peer,
            router.clone(),
            limits.clone(),
            stop_receiver.clone(),
        ));
    }
    drop(listener);
    drop(stop_receiver);
    let _ = stop_sender.send(true);
    // Every connection task holds a receiver; they are all gone once each has finished.
    stop_sender.closed().await;
    Ok(())
}

async fn refuse<I: AsyncWrite + Unpin>(mut io: I) {
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIMEOUT, async {
        io.write_all(REFUSAL).await?;
        io.shutdown().await
    })
    .await;
}

async fn serve_connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Arc::new(AtomicBool::new(false));
    let service = {
        let started = started.clone();
        router.map_request(move |request: hyper::Request<Incoming>| {
            started.store(true, Ordering::Relaxed);
            let mut request = request.map(Body::new);
            // Handlers that need the client's address (sign-in throttling) read it as ConnectInfo.
            request.extensions_mut().insert(axum::extract::ConnectInfo(peer));
            request
        })
    };
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192));
    builder
        .http2()
        .timer(TokioTimer::new())
        .enable_connect_protocol()
        .max_header_list_size(limits.max_header_bytes as u32)
        .keep_alive_interval(HTTP2_KEEP_ALIVE)
        .keep_alive_timeout(HTTP2_KEEP_ALIVE_TIMEOUT);
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service));
    let mut connection = pin!(connection);
    // HTTP/1.1's header timeout starts once the protocol is known; a client that sends nothing
    // at all (or only an HTTP/2 preface) is held to the same deadline for its first request.
    let first_request_deadline = tokio::time::sleep(limits.header_read_timeout);
    let mut first_request_deadline = pin!(first_request_deadline);
    let mut deadline_passed = false;
    let mut stopping = *stop.borrow();
    if stopping {
        connection.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, "connection ended with an error");
                }
                break;
            }
            () = &mut first_request_deadline, if !deadline_passed => {
                if !started.load(Ordering::Relaxed) {
                    tracing::debug!("connection closed: no request within the header timeout");
                    break;
                }
                deadline_passed = true;
            }
            changed = stop.changed(), if !stopping => {
                stopping = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Counts open connections per client address and in total.
#[derive(Debug, Clone)]
struct ConnectionTracker {
    inner: Arc<TrackerInner>,
}

#[derive(Debug)]
struct TrackerInner {
    max_total: usize,
    max_per_address: usize,
    open: Mutex<OpenConnections>,
}

#[derive(Debug, Default)]
struct OpenConnections {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

impl ConnectionTracker {
    fn new(limits: &ConnectionLimits) -> Self {
        Self {
            inner: Arc::new(TrackerInner {
                max_total: limits.max_connections.max(1),
                max_per_address: limits.max_connections_per_address.max(1),
                open: Mutex::new(OpenConnections::default()),
            }),
        }
    }

    fn admit(&self, address: IpAddr) -> Option<ConnectionGuard> {
        let mut open = self.inner.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let from_address = open.by_address.get(&address).copied().unwrap_or(0);
        if open.total >= self.inner.max_total || from_address >= self.inner.max_per_address {
            return None;
        }
        open.total += 1;
        open.by_address.insert(address, from_address + 1);
        Some(ConnectionGuard { tracker: self.clone(), address })
    }
}

/// One admitted connection; dropping it frees its place.
#[derive(Debug)]
struct ConnectionGuard {
    tracker: ConnectionTracker,
    address: IpAddr,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        let mut open = self.tracker.inner.open.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        open.total -= 1;
        if let Some(count) = open.by_address.get_mut(&self.address) {
            *count -= 1;
            if *count == 0 {
                open.by_address.remove(&self.address);
            }
        }
    }
}

/// The connection's stream, carrying its place in the count: an upgraded long connection keeps
/// the stream (and so its place) after the HTTP exchange that opened it ends.
struct CountedIo<I> {
    io: I,
    _guard: ConnectionGuard,
}

impl<I: AsyncRead + Unpin> AsyncRead for CountedIo<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(context, buffer)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for CountedIo<I> {
    fn poll_write(mut self: Pin<&mut Self>, context: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(context, bytes)
    }

    fn poll_flush(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(context)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(context)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffers: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(context, buffers)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_apply_per_address_and_in_total() {
        let limits =
            ConnectionLimits { max_connections: 3, max_connections_per_address: 2, ..ConnectionLimits::default() };
        let tracker = ConnectionTracker::new(&limits);
        let first: IpAddr = "10.0.0.1".parse().unwrap();
        let second: IpAddr = "10.0.0.2".parse().unwrap();
        let a = tracker.admit(first).unwrap();
        let _b = tracker.admit(first).unwrap();
        assert!(tracker.admit(first).is_none(), "a third from one address");
        let _c = tracker.admit(second).unwrap();
        assert!(tracker.admit("10.0.0.3".parse().unwrap()).is_none(), "over the total");
        drop(a);
        assert!(tracker.admit(first).is_some(), "a closed connection frees its place");
    }
}
