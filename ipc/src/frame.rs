//! Framing: `u32 length (big endian) | u8 fd count | u64 request id | body`.
//!
//! The length counts everything after itself. File descriptors are sent with
//! the first byte of their frame (see [`crate::fdpass`]), so they are always
//! queued before the frame that claims them is complete. The decoder is pure
//! (no I/O) so it can be fuzzed and property-tested directly.

use std::collections::VecDeque;
use std::os::fd::OwnedFd;

use serde::{Serialize, de::DeserializeOwned};

use crate::{IpcError, codec};

/// Largest frame body accepted or sent. Message bodies travel as fds, so
/// frames only carry metadata; 4 MiB leaves room for long lists (status,
/// account lists) while bounding what a peer can make us buffer.
pub const MAX_FRAME_SIZE: usize = 4 * 1024 * 1024;
/// Most file descriptors one frame may carry.
pub const MAX_FDS_PER_FRAME: usize = 16;
/// Most unclaimed file descriptors a connection may hold at once.
pub const MAX_PENDING_FDS: usize = 64;
/// Bytes after the length field: fd count (1) and request id (8).
const HEADER_AFTER_LEN: usize = 9;

/// A frame as read off the wire, body not yet decoded.
#[derive(Debug)]
pub struct RawFrame {
    pub id: u64,
    pub body: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

impl RawFrame {
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, IpcError> {
        codec::decode(&self.body)
    }
}

/// Encode one frame; `nfds` is the number of descriptors sent along with it.
pub fn encode_frame<T: Serialize>(id: u64, msg: &T, nfds: usize) -> Result<Vec<u8>, IpcError> {
    if nfds > MAX_FDS_PER_FRAME {
        return Err(IpcError::Malformed(format!("{nfds} fds in one frame")));
    }
    let body = codec::encode(msg)?;
    if body.len() > MAX_FRAME_SIZE {
        return Err(IpcError::FrameTooLarge(body.len()));
    }
    let len = u32::try_from(body.len() + HEADER_AFTER_LEN)
        .map_err(|_| IpcError::FrameTooLarge(body.len()))?;
    let mut out = Vec::with_capacity(4 + HEADER_AFTER_LEN + body.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.push(nfds as u8);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&body);
    Ok(out)
}

/// Incremental frame decoder: feed bytes and descriptors, take frames.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    fds: VecDeque<OwnedFd>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push_bytes(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub fn push_fds(&mut self, fds: Vec<OwnedFd>) -> Result<(), IpcError> {
        if self.fds.len() + fds.len() > MAX_PENDING_FDS {
            return Err(IpcError::TooManyFds);
        }
        self.fds.extend(fds);
        Ok(())
    }

    /// Bytes received but not yet part of a complete frame.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Take the next complete frame, if any. An error means the stream is
    /// unusable and the connection must be closed.
    pub fn next_frame(&mut self) -> Result<Option<RawFrame>, IpcError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]) as usize;
        if len < HEADER_AFTER_LEN {
            return Err(IpcError::Malformed(format!(
                "frame length {len} below header size"
            )));
        }
        if len - HEADER_AFTER_LEN > MAX_FRAME_SIZE {
            // Checked before buffering the body: an oversized frame is
            // refused as soon as its length is known.
            return Err(IpcError::FrameTooLarge(len - HEADER_AFTER_LEN));
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        let nfds = self.buf[4] as usize;
        if nfds > MAX_FDS_PER_FRAME {
            return Err(IpcError::Malformed(format!(
                "{nfds} fds announced in one frame"
            )));
        }
        if self.fds.len() < nfds {
            return Err(IpcError::MissingFds {
                wanted: nfds,
                got: self.fds.len(),
            });
        }
        let mut id_bytes = [0u8; 8];
        id_bytes.copy_from_slice(&self.buf[5..13]);
        let id = u64::from_be_bytes(id_bytes);
        let body = self.buf[4 + HEADER_AFTER_LEN..4 + len].to_vec();
        self.buf.drain(..4 + len);
        let fds = self.fds.drain(..nfds).collect();
        Ok(Some(RawFrame { id, body, fds }))
    }

    /// Called at end of stream: leftover bytes mean a truncated frame.
    pub fn finish(&self) -> Result<(), IpcError> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(IpcError::Truncated(self.buf.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_length_is_refused_before_body_arrives() {
        let mut d = FrameDecoder::new();
        d.push_bytes(&u32::MAX.to_be_bytes());
        assert!(matches!(d.next_frame(), Err(IpcError::FrameTooLarge(_))));
    }

    #[test]
    fn short_length_is_malformed() {
        let mut d = FrameDecoder::new();
        d.push_bytes(&3u32.to_be_bytes());
        assert!(matches!(d.next_frame(), Err(IpcError::Malformed(_))));
    }

    #[test]
    fn missing_fds_is_an_error() {
        let mut f = encode_frame(1, &7u32, 0).unwrap();
        f[4] = 2;
        let mut d = FrameDecoder::new();
        d.push_bytes(&f);
        assert!(matches!(
            d.next_frame(),
            Err(IpcError::MissingFds { wanted: 2, got: 0 })
        ));
    }

    #[test]
    fn partial_then_complete() {
        let f = encode_frame(42, &"hello".to_string(), 0).unwrap();
        let mut d = FrameDecoder::new();
        d.push_bytes(&f[..5]);
        assert!(d.next_frame().unwrap().is_none());
        assert!(matches!(d.finish(), Err(IpcError::Truncated(5))));
        d.push_bytes(&f[5..]);
        let fr = d.next_frame().unwrap().unwrap();
        assert_eq!(fr.id, 42);
        assert_eq!(fr.decode::<String>().unwrap(), "hello");
        assert!(d.finish().is_ok());
    }

    #[test]
    fn trailing_bytes_in_body_rejected() {
        let mut f = encode_frame(1, &7u32, 0).unwrap();
        f.push(0);
        let len = u32::from_be_bytes([f[0], f[1], f[2], f[3]]) + 1;
        f[..4].copy_from_slice(&len.to_be_bytes());
        let mut d = FrameDecoder::new();
        d.push_bytes(&f);
        let fr = d.next_frame().unwrap().unwrap();
        assert!(fr.decode::<u32>().is_err());
    }
}
