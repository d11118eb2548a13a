//! A TCP listener that holds at most a fixed number of open connections.
//!
//! Every open connection costs buffers and a task. Past the cap, new
//! connections wait in the kernel's accept queue, where they cost this
//! process nothing, until an open one closes. Together with the hashing
//! pool's admission this keeps memory bounded however many clients arrive
//! at once.
//!
//! A connection that neither sends nor receives anything for the idle limit
//! (`TWOFOLD_IDLE_TIMEOUT_SECS`) is closed, so idle keep-alive connections, or connections that never say
//! anything, cannot hold every slot and lock everyone else out. A client that
//! trickles a byte at a time can still hold a slot; the README advises a
//! reverse proxy in front for exposure to the open internet.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

pub struct CappedListener {
    inner: TcpListener,
    slots: Arc<Semaphore>,
    idle_limit: Duration,
}

impl CappedListener {
    /// `idle_limit` is how long a connection may stay silent both ways.
    /// Requests must be answered well within it; hashing gives up after its
    /// deadline and the database pool after its acquire timeout.
    pub fn new(inner: TcpListener, max_connections: usize, idle_limit: Duration) -> Self {
        CappedListener {
            inner,
            slots: Arc::new(Semaphore::new(max_connections.max(1))),
            idle_limit,
        }
    }
}

impl Listener for CappedListener {
    type Io = CappedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (CappedStream, SocketAddr) {
        // The semaphore is never closed, so this waits for a slot rather
        // than failing; `ok()` only keeps the code free of a panic path.
        let slot = Arc::clone(&self.slots).acquire_owned().await.ok();
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        // Responses are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        let stream = CappedStream {
            stream,
            idle: Box::pin(tokio::time::sleep(self.idle_limit)),
            idle_limit: self.idle_limit,
            _slot: slot,
        };
        (stream, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// An accepted connection; its slot is given back when it is dropped.
pub struct CappedStream {
    stream: TcpStream,
    /// Fires when the connection has been silent for `idle_limit`.
    idle: Pin<Box<Sleep>>,
    idle_limit: Duration,
    _slot: Option<OwnedSemaphorePermit>,
}

impl CappedStream {
    fn active(&mut self) {
        let deadline = Instant::now() + self.idle_limit;
        self.idle.as_mut().reset(deadline);
    }
}

impl AsyncRead for CappedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.stream).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                self.active();
                Poll::Ready(Ok(()))
            }
            Poll::Pending if self.idle.as_mut().poll(cx).is_ready() => Poll::Ready(Err(
                io::Error::new(io::ErrorKind::TimedOut, "the connection was idle too long"),
            )),
            other => other,
        }
    }
}

impl AsyncWrite for CappedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.active();
        }
        written
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(written, Poll::Ready(Ok(n)) if n > 0) {
            self.active();
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The peer's address, as the request extractors see it.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddr(pub SocketAddr);

impl Connected<IncomingStream<'_, CappedListener>> for PeerAddr {
    fn connect_info(stream: IncomingStream<'_, CappedListener>) -> Self {
        PeerAddr(*stream.remote_addr())
    }
}
