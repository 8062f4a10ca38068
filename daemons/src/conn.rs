//! A server connection that starts in plain text and may switch to TLS
//! (STARTTLS, RFC 3207 / RFC 9051 §6.2.1), shared by the SMTP and IMAP
//! sessions.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// The transport: plain until STARTTLS, then TLS.
pub enum Conn<S> {
    Plain(S),
    Tls(Box<TlsStream<S>>),
    /// During a handshake, or after a failed one.
    Gone,
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "connection gone")
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Conn<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Conn<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
            Conn::Gone => Poll::Ready(Err(gone())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
            Conn::Gone => Poll::Ready(Ok(())),
        }
    }
}

/// Why a switch to TLS failed.
#[derive(Debug)]
pub enum UpgradeError {
    /// The connection is not in plain text (already TLS, or gone).
    NotPlain,
    /// The handshake did not finish within the limit.
    Timeout,
    Handshake(io::Error),
}

impl<S: AsyncRead + AsyncWrite + Unpin> Conn<S> {
    /// Run the server side of a TLS handshake on the plain stream. The
    /// caller must have discarded any buffered plaintext first.
    pub async fn upgrade(
        &mut self,
        acceptor: &TlsAcceptor,
        limit: Duration,
    ) -> Result<(), UpgradeError> {
        let Conn::Plain(s) = std::mem::replace(self, Conn::Gone) else {
            return Err(UpgradeError::NotPlain);
        };
        let tls = tokio::time::timeout(limit, acceptor.accept(s))
            .await
            .map_err(|_| UpgradeError::Timeout)?
            .map_err(UpgradeError::Handshake)?;
        *self = Conn::Tls(Box::new(tls));
        Ok(())
    }
}
