//! A queued message opened for delivery: the prefix the store keeps in
//! its row (headers added at submission) followed by the file, read in
//! chunks with positional reads on a blocking thread, so one file serves
//! several connections and DSNs at once.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

/// Bytes read from the message file at a time.
pub const CHUNK_SIZE: usize = 64 * 1024;

#[derive(Clone)]
pub struct Message {
    pub prefix: Arc<Vec<u8>>,
    file: Arc<File>,
    /// Prefix plus file.
    pub size: u64,
}

impl Message {
    pub fn new(prefix: Vec<u8>, file: File, size: u64) -> Message {
        Message {
            prefix: Arc::new(prefix),
            file: Arc::new(file),
            size,
        }
    }

    /// The file, for passing on as a descriptor.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Up to [`CHUNK_SIZE`] bytes at `offset` of prefix + file; empty at the end.
    pub async fn chunk(&self, offset: u64) -> std::io::Result<Vec<u8>> {
        let plen = self.prefix.len() as u64;
        if offset < plen {
            let start = offset as usize;
            let end = (start + CHUNK_SIZE).min(self.prefix.len());
            return Ok(self.prefix[start..end].to_vec());
        }
        let file = self.file.clone();
        let at = offset - plen;
        tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; CHUNK_SIZE];
            let n = loop {
                match file.read_at(&mut buf, at) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            buf.truncate(n);
            Ok(buf)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The first `max` bytes of prefix + file (or all of it).
    pub async fn head(&self, max: usize) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while out.len() < max {
            let c = self.chunk(out.len() as u64).await?;
            if c.is_empty() {
                break;
            }
            out.extend_from_slice(&c);
        }
        out.truncate(max);
        Ok(out)
    }

    /// The header section (up to and including the empty line), read
    /// from at most `max` bytes.
    pub async fn headers(&self, max: usize) -> std::io::Result<Vec<u8>> {
        let head = self.head(max).await?;
        Ok(header_section(&head).to_vec())
    }
}

/// The header section of a message: up to and including the first empty
/// line (CRLF CRLF or LF LF), or everything when there is none.
pub fn header_section(msg: &[u8]) -> &[u8] {
    let crlf = msg.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
    let lf = msg.windows(2).position(|w| w == b"\n\n").map(|p| p + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => &msg[..a.min(b)],
        (Some(a), None) | (None, Some(a)) => &msg[..a],
        (None, None) => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_sections() {
        assert_eq!(header_section(b"A: b\r\n\r\nbody"), b"A: b\r\n\r\n");
        assert_eq!(header_section(b"A: b\n\nbody\r\n\r\n"), b"A: b\n\n");
        assert_eq!(header_section(b"A: b\r\n"), b"A: b\r\n");
    }

    #[tokio::test]
    async fn chunks_span_prefix_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m");
        std::fs::write(&p, b"Subject: x\r\n\r\nbody\r\n").unwrap();
        let m = Message::new(b"Received: y\r\n".to_vec(), File::open(&p).unwrap(), 33);
        assert_eq!(m.chunk(0).await.unwrap(), b"Received: y\r\n");
        assert_eq!(m.chunk(13).await.unwrap(), b"Subject: x\r\n\r\nbody\r\n");
        assert!(m.chunk(33).await.unwrap().is_empty());
        assert_eq!(m.head(20).await.unwrap(), b"Received: y\r\nSubject");
        assert_eq!(
            m.headers(1000).await.unwrap(),
            b"Received: y\r\nSubject: x\r\n\r\n"
        );
    }
}
