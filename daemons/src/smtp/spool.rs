//! Where a message goes while it is received: an anonymous memory file
//! (memfd_create(2)), so the worker needs no filesystem access. The file
//! holds exactly the octets the peer sent (after dot-unstuffing); headers
//! moxd adds travel separately as a prefix (DESIGN.md "Storage layout").
//! Before it is handed over the file is sealed, so its receiver can trust
//! that size and content no longer change.

use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::os::fd::OwnedFd;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};

/// Write buffer in front of the memory file.
pub const SPOOL_BUFFER: usize = 64 * 1024;

/// A message being written. A write error is remembered and reported by
/// [`Spool::finish`], so the protocol side can keep reading to the end of
/// the message before it answers.
pub struct Spool {
    writer: BufWriter<File>,
    error: Option<io::Error>,
}

impl Spool {
    pub fn new() -> io::Result<Spool> {
        let fd = memfd_create(
            c"moxd-smtp-message",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .map_err(io::Error::from)?;
        Ok(Spool {
            writer: BufWriter::with_capacity(SPOOL_BUFFER, File::from(fd)),
            error: None,
        })
    }

    /// Flush, seal and rewind; `prefix` is what moxd adds before the file.
    pub fn finish(self, prefix: Vec<u8>) -> io::Result<MessageFile> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let mut file = self.writer.into_inner().map_err(|e| e.into_error())?;
        let size = file.seek(SeekFrom::End(0))?;
        fcntl(
            &file,
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_SHRINK
                    | SealFlag::F_SEAL_GROW
                    | SealFlag::F_SEAL_WRITE
                    | SealFlag::F_SEAL_SEAL,
            ),
        )
        .map_err(io::Error::from)?;
        file.seek(SeekFrom::Start(0))?;
        Ok(MessageFile { file, size, prefix })
    }
}

impl Write for Spool {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.error.is_none()
            && let Err(e) = self.writer.write_all(buf)
        {
            self.error = Some(e);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A received message: the sealed file and the headers added in front.
#[derive(Debug)]
pub struct MessageFile {
    pub file: File,
    /// Octets in `file`.
    pub size: u64,
    /// Headers added by moxd (Received, Message-ID, Date), CRLF-terminated.
    pub prefix: Vec<u8>,
}

impl MessageFile {
    /// Total stored size: prefix plus file (DESIGN.md "Storage layout").
    pub fn total_size(&self) -> u64 {
        self.size + self.prefix.len() as u64
    }

    /// The file content, read from the start (for in-memory backends and tests).
    pub fn read_body(&mut self) -> io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(usize::try_from(self.size).unwrap_or(0));
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut out)?;
        Ok(out)
    }

    /// The descriptor to pass to the store (SCM_RIGHTS).
    pub fn into_fd(self) -> (OwnedFd, Vec<u8>) {
        (OwnedFd::from(self.file), self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spool_round_trip_and_seals() {
        let mut s = Spool::new().unwrap();
        s.write_all(b"hello\r\n").unwrap();
        let mut m = s.finish(b"Received: x\r\n".to_vec()).unwrap();
        assert_eq!(m.size, 7);
        assert_eq!(m.total_size(), 20);
        assert_eq!(m.read_body().unwrap(), b"hello\r\n");
        // Sealed: writing fails.
        assert!(m.file.write_all(b"more").is_err());
    }
}
