//! CHUNKING (RFC 3030): a message sent as `BDAT n [LAST]` chunks of raw
//! octets. Nothing in a chunk is interpreted (no dot-stuffing, no line
//! endings, RFC 3030 §2); the total is bounded by the maximum message size
//! and octets beyond it are consumed but not stored (RFC 3030 §2: the
//! server must read the whole chunk before replying).

use std::io::{self, Write};

/// The octets still owed for the current `BDAT n` command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    remaining: u64,
}

impl Chunk {
    pub fn new(size: u64) -> Chunk {
        Chunk { remaining: size }
    }

    /// The prefix of `input` that belongs to this chunk; it is counted as
    /// consumed.
    pub fn take<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let n = usize::try_from(self.remaining).map_or(input.len(), |r| r.min(input.len()));
        self.remaining -= n as u64;
        &input[..n]
    }

    pub fn is_complete(&self) -> bool {
        self.remaining == 0
    }
}

/// The message assembled from the chunks of one transaction.
#[derive(Debug)]
pub struct ChunkedBody {
    written: u64,
    received: u64,
    max_size: u64,
    too_large: bool,
}

impl ChunkedBody {
    pub fn new(max_size: u64) -> ChunkedBody {
        ChunkedBody {
            written: 0,
            received: 0,
            max_size,
            too_large: false,
        }
    }

    /// Store one part of a chunk, unless the message is already too large.
    pub fn write(&mut self, part: &[u8], out: &mut impl Write) -> io::Result<()> {
        self.received = self.received.saturating_add(part.len() as u64);
        if self.too_large {
            return Ok(());
        }
        if self.received > self.max_size {
            self.too_large = true;
            return Ok(());
        }
        self.written = self.received;
        out.write_all(part)
    }

    /// Whether a chunk of `size` octets can still fit; an announced chunk
    /// that cannot is rejected after it has been read.
    pub fn fits(&self, size: u64) -> bool {
        !self.too_large && self.received.saturating_add(size) <= self.max_size
    }

    pub fn too_large(&self) -> bool {
        self.too_large
    }

    /// Octets stored so far.
    pub fn written(&self) -> u64 {
        self.written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_takes_exactly_its_size() {
        let mut c = Chunk::new(5);
        assert_eq!(c.take(b"abc"), b"abc");
        assert!(!c.is_complete());
        assert_eq!(c.take(b"defgh"), b"de");
        assert!(c.is_complete());
        assert_eq!(c.take(b"x"), b"");
        let mut huge = Chunk::new(1 << 63);
        assert_eq!(huge.take(b"abc"), b"abc");
        assert!(!huge.is_complete());
    }

    #[test]
    fn body_is_bounded_and_raw() {
        let mut b = ChunkedBody::new(6);
        let mut out = Vec::new();
        b.write(b"a\r\n.\r", &mut out).unwrap();
        assert!(b.fits(1));
        assert!(!b.fits(2));
        b.write(b"\n", &mut out).unwrap();
        assert_eq!(out, b"a\r\n.\r\n");
        b.write(b"x", &mut out).unwrap();
        assert!(b.too_large());
        assert_eq!((out.len(), b.written()), (6, 6));
    }
}
