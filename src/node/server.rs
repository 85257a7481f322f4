//! The node's lifetime: listen, publish the cookie, admit each connection
//! ([`super::admission`]) and serve it ([`super::connection`]), and on
//! SIGTERM or Ctrl-C
//! stop accepting, let in-flight requests finish, checkpoint the miner,
//! remove the cookie and return.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

use super::admission::Admission;
use super::cookie::{self, Cookie};
use super::{Config, Node, NodeError};
use crate::store::Store;

/// Largest request head (request line and headers) a client may send.
pub const MAX_HEAD_BYTES: usize = 64 << 10;

/// Runs a node on `store` until a stop signal. `listening` is called once
/// the node accepts requests and its cookie is written.
pub fn run(
    store: Store,
    config: Config,
    listening: impl FnOnce(&Cookie, &std::path::Path, Option<&crate::net::Handle>),
) -> Result<(), NodeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("sledger-node")
        .build()
        .map_err(NodeError::Runtime)?;
    runtime.block_on(serve(store, config, listening))
}

async fn serve(
    store: Store,
    config: Config,
    listening: impl FnOnce(&Cookie, &std::path::Path, Option<&crate::net::Handle>),
) -> Result<(), NodeError> {
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| NodeError::Listen {
            address: config.listen,
            source,
        })?;
    let address: SocketAddr = listener.local_addr().map_err(|source| NodeError::Listen {
        address: config.listen,
        source,
    })?;
    let data_dir = store.data_dir().to_path_buf();
    super::routes::remove_stale_spools(&data_dir);
    let cookie = publish(&data_dir, address)?;

    let (events, _) = tokio::sync::broadcast::channel(1024);
    let (stopping, _) = tokio::sync::watch::channel(false);
    let tip_watch = super::tip_watch::TipWatch::new(&store);
    let node = Arc::new(Node {
        store,
        token: cookie.token.clone(),
        address,
        limits: config.limits.clone(),
        events,
        mining: Default::default(),
        write_lock: Default::default(),
        stopping,
        imports: tokio::sync::Semaphore::new(1),
        streams: Arc::new(tokio::sync::Semaphore::new(super::MAX_STREAMS)),
        net: Default::default(),
        tip_watch,
        explorer: Default::default(),
    });
    if config.network.is_on() {
        let chain = Arc::new(super::peering::Peering(Arc::downgrade(&node)));
        match crate::net::start(config.network.clone(), &data_dir, chain).await {
            Ok(handle) => {
                let _ = node.net.set(handle);
            }
            Err(e) => {
                cookie.remove(&data_dir);
                return Err(e.into());
            }
        }
    }
    if let Some(req) = &config.mine {
        if let Err(e) = node.mining.start(&node, req) {
            cookie.remove(&data_dir);
            return Err(e.into());
        }
    }
    listening(&cookie, &data_dir, node.net.get());

    let app = super::routes::router(node.clone());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let admission = Admission::new(config.limits.connections);
    let mut signal = Box::pin(stop_signal());
    loop {
        let (stream, _) = tokio::select! {
            _ = &mut signal => break,
            conn = listener.accept() => match conn {
                Ok(c) => c,
                // Out of file descriptors and the like: wait, then go on.
                Err(_) => {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let ticket = admission.admit();
        super::connection::spawn(stream, app.clone(), node.clone(), ticket, &graceful);
    }
    tracing::info!("stopping: finishing requests under way");
    drop(listener);
    drain(&node, graceful, config.limits.drain).await;
    cookie.remove(&data_dir);
    tracing::info!("stopped");
    Ok(())
}

/// Writes a fresh cookie for a node at `address` (replacing a stale one).
fn publish(data_dir: &std::path::Path, address: SocketAddr) -> Result<Cookie, NodeError> {
    let cookie_error = |source| NodeError::Cookie {
        path: cookie::path(data_dir),
        source,
    };
    // This process holds the store's lock, so a cookie already there was
    // left by a node that did not stop cleanly.
    if let Ok(Some(old)) = Cookie::read(data_dir) {
        tracing::warn!(
            "replacing a stale node cookie left by a node that did not stop cleanly (pid {}, {})",
            old.pid,
            old.address
        );
    }
    let cookie = Cookie {
        address: address.to_string(),
        token: cookie::new_token().map_err(cookie_error)?,
        pid: std::process::id(),
    };
    cookie.write(data_dir).map_err(cookie_error)?;
    Ok(cookie)
}

/// Ends the event streams, gives requests under way up to `limit` to
/// finish, then stops the mining run (which checkpoints its search).
async fn drain(
    node: &Arc<Node>,
    graceful: hyper_util::server::graceful::GracefulShutdown,
    limit: std::time::Duration,
) {
    // `send_replace`: kept even when no stream listens yet.
    node.stopping.send_replace(true);
    tokio::select! {
        _ = graceful.shutdown() => {}
        _ = tokio::time::sleep(limit) => {
            tracing::warn!("requests still running after {limit:?}; stopping anyway");
        }
    }
    let n = node.clone();
    let _ = tokio::task::spawn_blocking(move || n.mining.stop()).await;
}

/// Resolves on the first SIGTERM or Ctrl-C; a repeat within the grace
/// period is the same stop, a later one exits at once ([`crate::signal`]).
async fn stop_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use crate::signal::{StopRequest, StopSignals, FORCED_EXIT};
        use std::time::Instant;
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        let mut signals = StopSignals::default();
        signals.receive(Instant::now());
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
                if signals.receive(Instant::now()) == StopRequest::Force {
                    std::process::exit(FORCED_EXIT);
                }
            }
        });
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
