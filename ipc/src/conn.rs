//! Connections: a blocking one (worker bootstrap before any thread exists,
//! `moxctl`) and an async one (tokio) split into a receiver and a cloneable
//! sender. Both use the same [`FrameDecoder`].

use std::io::Write;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;

use serde::{Serialize, de::DeserializeOwned};
use tokio::io::Interest;
use tokio::net::UnixStream;

use crate::IpcError;
use crate::fdpass::{recv_with_fds, send_with_fds};
use crate::frame::{FrameDecoder, RawFrame, encode_frame};

/// Read buffer size per syscall.
const READ_CHUNK: usize = 64 * 1024;

/// A decoded message with its request id and descriptors.
#[derive(Debug)]
pub struct Msg<T> {
    pub id: u64,
    pub body: T,
    pub fds: Vec<OwnedFd>,
}

fn into_msg<T: DeserializeOwned>(f: RawFrame) -> Result<Msg<T>, IpcError> {
    let body = f.decode()?;
    Ok(Msg {
        id: f.id,
        body,
        fds: f.fds,
    })
}

/// Blocking connection over a std unix stream.
pub struct BlockingConn {
    sock: StdUnixStream,
    dec: FrameDecoder,
}

impl BlockingConn {
    pub fn new(sock: StdUnixStream) -> Self {
        Self {
            sock,
            dec: FrameDecoder::new(),
        }
    }

    pub fn into_inner(self) -> StdUnixStream {
        self.sock
    }

    pub fn send<T: Serialize>(
        &mut self,
        id: u64,
        msg: &T,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), IpcError> {
        let frame = encode_frame(id, msg, fds.len())?;
        let n = loop {
            match send_with_fds(self.sock.as_fd(), &frame, fds) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        };
        self.sock.write_all(&frame[n..])?;
        Ok(())
    }

    /// Next message; `Ok(None)` on a clean end of stream.
    pub fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Msg<T>>, IpcError> {
        let mut buf = vec![0u8; READ_CHUNK];
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return into_msg(f).map(Some);
            }
            let (n, fds) = match recv_with_fds(self.sock.as_fd(), &mut buf) {
                Err(IpcError::Io(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                r => r?,
            };
            self.dec.push_fds(fds)?;
            if n == 0 {
                self.dec.finish()?;
                return Ok(None);
            }
            self.dec.push_bytes(&buf[..n]);
        }
    }
}

/// Split a tokio unix stream into the two halves of an async connection.
pub fn split(sock: UnixStream) -> (AsyncReceiver, AsyncSender) {
    let sock = Arc::new(sock);
    (
        AsyncReceiver {
            sock: sock.clone(),
            dec: FrameDecoder::new(),
            buf: vec![0u8; READ_CHUNK],
        },
        AsyncSender {
            sock,
            lock: Arc::new(tokio::sync::Mutex::new(())),
        },
    )
}

/// Convert a std stream (e.g. inherited or received as an fd) to async halves.
pub fn split_std(sock: StdUnixStream) -> Result<(AsyncReceiver, AsyncSender), IpcError> {
    sock.set_nonblocking(true)?;
    Ok(split(UnixStream::from_std(sock)?))
}

pub struct AsyncReceiver {
    sock: Arc<UnixStream>,
    dec: FrameDecoder,
    buf: Vec<u8>,
}

impl AsyncReceiver {
    /// Next raw frame; `Ok(None)` on a clean end of stream.
    pub async fn recv_raw(&mut self) -> Result<Option<RawFrame>, IpcError> {
        loop {
            if let Some(f) = self.dec.next_frame()? {
                return Ok(Some(f));
            }
            let buf = &mut self.buf;
            let res = self
                .sock
                .async_io(Interest::READABLE, || {
                    match recv_with_fds(self.sock.as_fd(), buf) {
                        Ok(v) => Ok(Ok(v)),
                        Err(IpcError::Io(e)) => Err(e),
                        Err(other) => Ok(Err(other)),
                    }
                })
                .await?;
            let (n, fds) = res?;
            self.dec.push_fds(fds)?;
            if n == 0 {
                self.dec.finish()?;
                return Ok(None);
            }
            let data = self.buf[..n].to_vec();
            self.dec.push_bytes(&data);
        }
    }

    /// Next message; `Ok(None)` on a clean end of stream.
    pub async fn recv<T: DeserializeOwned>(&mut self) -> Result<Option<Msg<T>>, IpcError> {
        match self.recv_raw().await? {
            Some(f) => into_msg(f).map(Some),
            None => Ok(None),
        }
    }
}

/// Sending half; clones share one lock so frames never interleave.
#[derive(Clone)]
pub struct AsyncSender {
    sock: Arc<UnixStream>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl AsyncSender {
    pub async fn send<T: Serialize>(
        &self,
        id: u64,
        msg: &T,
        fds: &[BorrowedFd<'_>],
    ) -> Result<(), IpcError> {
        let frame = encode_frame(id, msg, fds.len())?;
        let _guard = self.lock.lock().await;
        let mut off = self
            .sock
            .async_io(Interest::WRITABLE, || {
                send_with_fds(self.sock.as_fd(), &frame, fds)
            })
            .await?;
        while off < frame.len() {
            let rest = &frame[off..];
            off += self
                .sock
                .async_io(Interest::WRITABLE, || {
                    send_with_fds(self.sock.as_fd(), rest, &[])
                })
                .await?;
        }
        Ok(())
    }
}
