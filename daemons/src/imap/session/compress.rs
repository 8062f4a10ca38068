//! COMPRESS=DEFLATE (RFC 4978): raw deflate (RFC 1951) in both
//! directions once the tagged OK is sent. Each batch of responses ends
//! with a sync flush so the client can read it at once (RFC 4978 §4).
//! Inflating only ever fills the free part of the read buffer, so a
//! deflate bomb cannot grow memory past the line and literal limits.

use std::io;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Compressed input held before it is inflated; more means the client
/// sends data that does not inflate to anything.
pub const MAX_PENDING_INPUT: usize = 256 * 1024;

pub struct Deflate {
    comp: Compress,
    decomp: Decompress,
    /// Compressed octets received but not yet inflated.
    pub input: Vec<u8>,
}

fn zerr(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Deflate {
    /// `pending`: octets already received after the COMPRESS command.
    pub fn new(pending: Vec<u8>) -> Deflate {
        Deflate {
            comp: Compress::new(Compression::default(), false),
            decomp: Decompress::new(false),
            input: pending,
        }
    }

    /// `data` deflated, ending with a sync flush.
    pub fn deflate(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        let mut rest = data;
        loop {
            out.reserve(rest.len() / 2 + 1024);
            let before = self.comp.total_in();
            self.comp
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .map_err(zerr)?;
            let used = usize::try_from(self.comp.total_in() - before).unwrap_or(usize::MAX);
            rest = rest.get(used..).unwrap_or_default();
            // Done when all input is in and the flush did not fill the
            // output (so it is complete).
            if rest.is_empty() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }

    /// Inflates pending input into `out`; returns the octets written.
    pub fn inflate(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() || out.is_empty() {
            return Ok(0);
        }
        let (in0, out0) = (self.decomp.total_in(), self.decomp.total_out());
        let status = self
            .decomp
            .decompress(&self.input, out, FlushDecompress::None)
            .map_err(zerr)?;
        let used = usize::try_from(self.decomp.total_in() - in0).unwrap_or(usize::MAX);
        let produced = usize::try_from(self.decomp.total_out() - out0).unwrap_or(usize::MAX);
        self.input.drain(..used.min(self.input.len()));
        if status == Status::StreamEnd {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "client ended the compressed stream",
            ));
        }
        Ok(produced)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_in_pieces() {
        let mut server = Deflate::new(Vec::new());
        let mut client = Deflate::new(Vec::new());
        let text = b"a1 FETCH 1:* (FLAGS)\r\n".repeat(500);
        let z = client.deflate(&text).unwrap();
        assert!(z.len() < text.len() / 10);
        // Arrives a few octets at a time; output space is small.
        let mut got = Vec::new();
        for piece in z.chunks(7) {
            server.input.extend_from_slice(piece);
            let mut buf = [0u8; 100];
            loop {
                let n = server.inflate(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
        }
        assert_eq!(got, text);
        // Garbage does not inflate.
        let mut bad = Deflate::new(vec![0xff; 64]);
        assert!(bad.inflate(&mut [0u8; 64]).is_err());
    }
}
