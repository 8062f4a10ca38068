//! Message octets between the store and a session, on blocking threads
//! (files and MIME parsing may take a while): reading a message the store
//! attached as a file descriptor (read, never mapped), computing its
//! structure when the store has none, and writing APPEND data into sealed
//! memory files for the store.

use std::fs::File;
use std::io::{Seek, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};

use crate::imap::backend::{BackendError, MessageContent, NewMessage};
use crate::imap::parsed::ParsedMessage;

/// Largest message read into memory for a FETCH (the IMAP engine holds a
/// message whole); far above any configured message size limit.
pub const MAX_READ_SIZE: u64 = 1024 * 1024 * 1024;

/// A message as the store answered `MessageContent`.
pub struct Stored {
    pub prefix: Vec<u8>,
    /// Prefix plus file.
    pub size: u64,
    pub parsed: Option<Vec<u8>>,
    pub file: OwnedFd,
}

/// A message read, and its structure in store form if it had to be
/// computed now (to be saved with `MessageParsedSet`).
pub struct Loaded {
    pub content: MessageContent,
    pub computed: Option<Vec<u8>>,
}

fn temporary(what: &str, e: impl std::fmt::Display) -> BackendError {
    BackendError::Temporary(format!("{what}: {e}"))
}

/// Runs blocking work off the session's thread.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BackendError> + Send + 'static,
) -> Result<T, BackendError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| temporary("worker thread", e))?
}

/// Reads prefix and file; uses the stored structure when it describes
/// these octets, else parses them.
pub fn load(s: Stored) -> Result<Loaded, BackendError> {
    if s.size > MAX_READ_SIZE {
        return Err(BackendError::Temporary(format!(
            "message of {} octets is too large to read",
            s.size
        )));
    }
    let prefix_len = s.prefix.len();
    let size = usize::try_from(s.size).map_err(|e| temporary("message size", e))?;
    let Some(file_len) = size.checked_sub(prefix_len) else {
        return Err(BackendError::Temporary(
            "message size smaller than its prefix".into(),
        ));
    };
    let mut bytes = s.prefix;
    bytes.resize(prefix_len + file_len, 0);
    File::from(s.file)
        .read_exact_at(&mut bytes[prefix_len..], 0)
        .map_err(|e| temporary("reading message file", e))?;
    let stored = s
        .parsed
        .as_deref()
        .and_then(ParsedMessage::from_store_form)
        .filter(|p| p.size == s.size);
    let (parsed, computed) = match stored {
        Some(p) => (p, None),
        None => {
            let p = ParsedMessage::from_bytes(&bytes);
            let form = p.to_store_form();
            (p, form)
        }
    };
    Ok(Loaded {
        content: MessageContent {
            bytes: bytes.into(),
            parsed: Arc::new(parsed),
        },
        computed,
    })
}

/// One APPEND message made ready for the store.
pub struct Prepared {
    /// Sealed memory file with the message.
    pub file: OwnedFd,
    pub flags: Vec<String>,
    pub received: Option<i64>,
    /// Structure in store form.
    pub parsed: Option<Vec<u8>>,
    /// For the cache, once the store gave it a UID.
    pub content: MessageContent,
}

/// A sealed memory file holding `data` (size and content can no longer
/// change once the store has it).
pub fn sealed_memfd(data: &[u8]) -> std::io::Result<OwnedFd> {
    let fd = memfd_create(
        c"moxd-imap-append",
        MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
    )
    .map_err(std::io::Error::from)?;
    let mut f = File::from(fd);
    f.write_all(data)?;
    fcntl(
        &f,
        FcntlArg::F_ADD_SEALS(
            SealFlag::F_SEAL_SHRINK
                | SealFlag::F_SEAL_GROW
                | SealFlag::F_SEAL_WRITE
                | SealFlag::F_SEAL_SEAL,
        ),
    )
    .map_err(std::io::Error::from)?;
    f.rewind()?;
    Ok(f.into())
}

/// Parses and spools one APPEND message.
pub fn prepare(m: NewMessage) -> Result<Prepared, BackendError> {
    let parsed = ParsedMessage::from_bytes(&m.data);
    let file = sealed_memfd(&m.data).map_err(|e| temporary("memory file", e))?;
    Ok(Prepared {
        file,
        flags: m.flags,
        received: m.internal_date,
        parsed: parsed.to_store_form(),
        content: MessageContent {
            bytes: m.data.into(),
            parsed: Arc::new(parsed),
        },
    })
}

/// Drops structures (largest first) until those left fit in `budget`
/// octets, so that the request stays within one IPC frame; the worker
/// that first reads such a message parses it then.
pub fn fit_structures(forms: &mut [Option<Vec<u8>>], budget: usize) {
    let total = |f: &[Option<Vec<u8>>]| f.iter().flatten().map(Vec::len).sum::<usize>();
    while total(forms) > budget {
        let largest = forms
            .iter_mut()
            .filter(|f| f.is_some())
            .max_by_key(|f| f.as_ref().map_or(0, Vec::len));
        match largest {
            Some(f) => *f = None,
            None => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    const MSG: &[u8] = b"Subject: hi\r\nContent-Type: text/plain\r\n\r\nhello\r\n";

    fn stored(prefix: &[u8], file: &[u8], parsed: Option<Vec<u8>>) -> Stored {
        Stored {
            prefix: prefix.to_vec(),
            size: (prefix.len() + file.len()) as u64,
            parsed,
            file: sealed_memfd(file).unwrap(),
        }
    }

    #[test]
    fn load_reads_prefix_and_file_and_parses_once() {
        let prefix = b"Received: from x\r\n";
        let l = load(stored(prefix, MSG, None)).unwrap();
        let mut want = prefix.to_vec();
        want.extend_from_slice(MSG);
        assert_eq!(&l.content.bytes[..], &want[..]);
        assert_eq!(l.content.parsed.size, want.len() as u64);
        let form = l.computed.expect("structure computed");
        // With the structure stored, nothing is computed again.
        let again = load(stored(prefix, MSG, Some(form.clone()))).unwrap();
        assert!(again.computed.is_none());
        assert_eq!(*again.content.parsed, *l.content.parsed);
    }

    #[test]
    fn a_structure_of_other_octets_is_not_trusted() {
        let other = ParsedMessage::from_bytes(b"Subject: x\r\n\r\n")
            .to_store_form()
            .unwrap();
        let l = load(stored(b"", MSG, Some(other))).unwrap();
        assert!(l.computed.is_some(), "parsed again");
        assert_eq!(l.content.parsed.size, MSG.len() as u64);
        let garbage = load(stored(b"", MSG, Some(vec![0xff; 7]))).unwrap();
        assert!(garbage.computed.is_some());
    }

    #[test]
    fn short_file_is_an_error() {
        let mut s = stored(b"", MSG, None);
        s.size += 10;
        assert!(matches!(load(s), Err(BackendError::Temporary(_))));
        let mut s = stored(b"abc", b"", None);
        s.size = 1;
        assert!(matches!(load(s), Err(BackendError::Temporary(_))));
    }

    #[test]
    fn prepared_file_is_sealed_and_holds_the_message() {
        let p = prepare(NewMessage {
            data: MSG.to_vec(),
            flags: vec!["\\Seen".into()],
            internal_date: Some(5),
        })
        .unwrap();
        let mut f = File::from(p.file);
        assert!(f.write_all(b"more").is_err(), "sealed against writes");
        let mut back = Vec::new();
        f.read_to_end(&mut back).unwrap();
        assert_eq!(back, MSG);
        assert_eq!(p.received, Some(5));
        let parsed = ParsedMessage::from_store_form(&p.parsed.unwrap()).unwrap();
        assert_eq!(parsed.size, MSG.len() as u64);
        assert_eq!(&p.content.bytes[..], MSG);
    }

    #[test]
    fn structures_are_dropped_largest_first() {
        let mut forms = vec![
            Some(vec![0; 10]),
            Some(vec![0; 50]),
            None,
            Some(vec![0; 30]),
        ];
        fit_structures(&mut forms, 45);
        assert_eq!(
            forms
                .iter()
                .map(|f| f.as_ref().map(Vec::len))
                .collect::<Vec<_>>(),
            vec![Some(10), None, None, Some(30)]
        );
        fit_structures(&mut forms, 0);
        assert!(forms.iter().all(Option::is_none));
    }
}
