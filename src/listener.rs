//! The accept loop every daemon front end shares (milter, spamd, Rspamd,
//! HTTP): TCP or Unix sockets, `TCP_NODELAY`, an address allow list, a
//! connection cap, back-off when `accept` fails, and a graceful shutdown
//! (stop accepting, let the connections in flight finish, up to a drain
//! time). A front end only supplies what to do with one connection.

use crate::net::IpNet;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

pub use crate::frontend::Listen;

/// A byte stream of one accepted connection.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// One accepted connection.
pub struct Connection {
    /// The connection itself.
    pub stream: Box<dyn Stream>,
    /// The client's address (`None` on a Unix socket).
    pub peer: Option<SocketAddr>,
    /// Turns `true` when the server shuts down: a connection that can
    /// hold several requests finishes the one in hand and closes.
    pub closing: tokio::sync::watch::Receiver<bool>,
}

impl Connection {
    /// The client's address for logs (`unix` on a Unix socket).
    pub fn peer_name(&self) -> String {
        self.peer
            .map_or_else(|| "unix".to_string(), |p| p.to_string())
    }
}

/// How a listener accepts.
#[derive(Debug, Clone)]
pub struct ListenerOptions {
    /// The front end's name, for logs (`spamd`, `milter`, ...).
    pub name: &'static str,
    /// TCP clients allowed to connect; empty: any. Unix sockets are
    /// guarded by their file permissions.
    pub allowed: Vec<IpNet>,
    /// Most connections served at once; more are closed at once.
    pub max_connections: usize,
    /// How long connections in flight may take to finish at shutdown.
    pub drain: Duration,
}

impl ListenerOptions {
    /// Options for front end `name`: anyone may connect, up to 4,096 at once.
    pub fn new(name: &'static str) -> ListenerOptions {
        ListenerOptions {
            name,
            allowed: Vec::new(),
            max_connections: 4096,
            drain: Duration::from_secs(30),
        }
    }
}

/// A bound listener, before it accepts (so a caller can learn the port it
/// got for `127.0.0.1:0`).
pub enum Bound {
    /// A TCP listener.
    Tcp(tokio::net::TcpListener),
    /// A Unix socket listener and its path (removed at shutdown).
    Unix(tokio::net::UnixListener, PathBuf),
}

impl Bound {
    /// Bind `listen`; a stale Unix socket file is replaced.
    pub async fn bind(listen: &Listen) -> std::io::Result<Bound> {
        match listen {
            Listen::Inet(addr) => Ok(Bound::Tcp(tokio::net::TcpListener::bind(addr).await?)),
            Listen::Unix(path) => {
                let _ = std::fs::remove_file(path);
                Ok(Bound::Unix(
                    tokio::net::UnixListener::bind(path)?,
                    path.clone(),
                ))
            }
        }
    }

    /// The TCP address bound, if TCP.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Bound::Tcp(l) => l.local_addr().ok(),
            Bound::Unix(..) => None,
        }
    }

    async fn accept(&self) -> std::io::Result<(Box<dyn Stream>, Option<SocketAddr>)> {
        match self {
            Bound::Tcp(l) => {
                let (s, peer) = l.accept().await?;
                // Each reply goes out at once, not after the peer's delayed ACK.
                let _ = s.set_nodelay(true);
                Ok((Box::new(s), Some(peer)))
            }
            Bound::Unix(l, _) => {
                let (s, _) = l.accept().await?;
                Ok((Box::new(s), None))
            }
        }
    }
}

/// Bind `listen` and serve it with `handler` until `shutdown` resolves.
pub async fn run<H, F>(
    listen: &Listen,
    opts: ListenerOptions,
    shutdown: impl Future<Output = ()>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Connection) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let bound = Bound::bind(listen).await?;
    tracing::info!(listen = %listen, "{} listening", opts.name);
    serve(bound, opts, shutdown, handler).await
}

/// Serve a bound listener with `handler` until `shutdown` resolves; then
/// stop accepting, tell open connections (`Connection::closing`), and wait
/// up to `opts.drain` for them.
pub async fn serve<H, F>(
    bound: Bound,
    opts: ListenerOptions,
    shutdown: impl Future<Output = ()>,
    handler: H,
) -> std::io::Result<()>
where
    H: Fn(Connection) -> F + Send + Sync + 'static,
    F: Future<Output = ()> + Send + 'static,
{
    let descriptors = crate::net::raise_descriptor_limit();
    // Keep descriptors for the model file, logs and the engine.
    let max_connections = descriptors.map_or(opts.max_connections, |d| {
        opts.max_connections
            .min((d as usize).saturating_sub(64).max(1))
    });
    let max_connections = max_connections.max(1);
    // Each connection holds a slot; at shutdown, all slots back means all
    // connections finished. (Connection tasks are detached: reaping them
    // from the accept loop would wake it once per connection.)
    let slots = Arc::new(tokio::sync::Semaphore::new(max_connections));
    let (closing, _) = tokio::sync::watch::channel(false);
    let mut backoff = crate::net::AcceptBackoff::default();
    let (mut refused, mut denied) = (0u64, 0u64);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = bound.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    backoff.failed(&e).await;
                    continue;
                }
            },
        };
        backoff.accepted();
        if let Some(p) = peer
            && !opts.allowed.is_empty()
            && !opts.allowed.iter().any(|n| n.contains(p.ip()))
        {
            denied += 1;
            if denied.is_power_of_two() {
                tracing::warn!(peer = %p, denied, "{}: connection from an address not allowed; closed", opts.name);
            }
            continue;
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Full: close at once rather than queue; timeouts free slots.
            refused += 1;
            if refused.is_power_of_two() {
                tracing::warn!(
                    refused,
                    max_connections,
                    "{}: connection limit reached; closing new connections",
                    opts.name
                );
            }
            continue;
        };
        let conn = handler(Connection {
            stream,
            peer,
            closing: closing.subscribe(),
        });
        tokio::spawn(async move {
            conn.await;
            drop(slot);
        });
    }
    tracing::info!(
        in_flight = max_connections - slots.available_permits(),
        "{}: shutting down; finishing connections in flight",
        opts.name
    );
    let _ = closing.send(true);
    let _ = tokio::time::timeout(
        opts.drain,
        slots.acquire_many(u32::try_from(max_connections).unwrap_or(u32::MAX)),
    )
    .await;
    if let Bound::Unix(_, path) = &bound {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

/// Messages up to this size are classified on the connection's own task;
/// larger ones on the blocking pool.
pub const INLINE_WORK: usize = 128 * 1024;

/// Run a request's CPU work (classifying a message of `size` bytes): for a
/// small message on the calling task, since handing it to another thread
/// and back costs more than the work (measured: spamd over 6,046 messages
/// with 32 clients used 810 ms of CPU with every message handed off, 540
/// ms inline); for a large one on the blocking pool, so that no worker
/// thread is held for long (the work is linear in the size and bounded by
/// the time budget).
pub async fn cpu_work<T: Send + 'static>(
    size: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if size <= INLINE_WORK {
        Ok(work())
    } else {
        tokio::task::spawn_blocking(work).await
    }
}

/// [`cpu_work`] for classifying with `engine`: when its state is shared
/// (Redis), classification may wait on the network, so it always runs on
/// the blocking pool, never on a reactor thread.
pub async fn classification_work<T: Send + 'static>(
    engine: &crate::Engine,
    size: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, tokio::task::JoinError> {
    if engine.shared_state().is_some() {
        tokio::task::spawn_blocking(work).await
    } else {
        cpu_work(size, work).await
    }
}

/// Send `request` to a connection handler over an in-memory stream, close
/// the sending side, and return all it answered (for tests and fuzzing).
pub async fn exchange<H, F>(request: &[u8], handler: H) -> Vec<u8>
where
    H: FnOnce(tokio::io::DuplexStream) -> F,
    F: Future<Output = ()>,
{
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut client, server) = tokio::io::duplex(1 << 20);
    let serve = handler(server);
    let talk = async {
        let _ = client.write_all(request).await;
        let _ = client.shutdown().await;
        let mut out = Vec::new();
        let _ = client.read_to_end(&mut out).await;
        out
    };
    let ((), out) = tokio::join!(serve, talk);
    out
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C): the daemons' shutdown signal.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
    tracing::info!("shutdown signal received");
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn listen_addresses() {
        let table: &[(&str, Option<Listen>)] = &[
            (
                "inet:127.0.0.1:11332",
                Some(Listen::Inet("127.0.0.1:11332".into())),
            ),
            (
                "inet:783@localhost",
                Some(Listen::Inet("localhost:783".into())),
            ),
            (
                "127.0.0.1:11333",
                Some(Listen::Inet("127.0.0.1:11333".into())),
            ),
            ("[::1]:11333", Some(Listen::Inet("[::1]:11333".into()))),
            ("unix:/run/s.sock", Some(Listen::Unix("/run/s.sock".into()))),
            (
                "local:/run/s.sock",
                Some(Listen::Unix("/run/s.sock".into())),
            ),
            ("unix:", None),
            ("inet:host", None),
            ("inet::25", None),
            ("11333", None),
            ("tcp:1", None),
            (
                "localhost:11333",
                Some(Listen::Inet("localhost:11333".into())),
            ),
        ];
        for (s, want) in table {
            assert_eq!(s.parse::<Listen>().ok(), *want, "{s}");
        }
    }

    #[test]
    fn serves_until_shutdown_then_finishes_what_is_in_flight() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let bound = Bound::bind(&Listen::Inet("127.0.0.1:0".into()))
                .await
                .expect("bind");
            let addr = bound.local_addr().expect("tcp");
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let server = tokio::spawn(serve(
                bound,
                ListenerOptions::new("test"),
                async move {
                    let _ = stopped.await;
                },
                |mut c: Connection| async move {
                    let mut b = [0u8; 4];
                    if c.stream.read_exact(&mut b).await.is_ok() {
                        // Slow work: still answered after shutdown begins.
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        let _ = c.stream.write_all(&b).await;
                    }
                },
            ));
            let mut client = tokio::net::TcpStream::connect(addr).await.expect("connect");
            client.write_all(b"ping").await.expect("write");
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = stop.send(());
            let mut back = [0u8; 4];
            client.read_exact(&mut back).await.expect("answered");
            assert_eq!(&back, b"ping");
            server.await.expect("join").expect("served");
            // No longer accepting.
            assert!(tokio::net::TcpStream::connect(addr).await.is_err());
        });
    }
}
