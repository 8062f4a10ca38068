//! The version handshake every connection starts with: each side sends a
//! [`Hello`] as frame id 0 and checks the peer's before anything else.

use serde::{Deserialize, Serialize};

use crate::role::Peer;
use crate::{AsyncReceiver, AsyncSender, BlockingConn, IPC_VERSION, IpcError};

const MAGIC: [u8; 4] = *b"MOXD";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub magic: [u8; 4],
    pub version: u32,
    pub peer: Peer,
}

impl Hello {
    pub fn new(peer: Peer) -> Self {
        Hello {
            magic: MAGIC,
            version: IPC_VERSION,
            peer,
        }
    }

    fn check(self) -> Result<Peer, IpcError> {
        if self.magic != MAGIC {
            return Err(IpcError::Malformed("bad hello magic".into()));
        }
        if self.version != IPC_VERSION {
            return Err(IpcError::Version {
                peer: self.version,
                ours: IPC_VERSION,
            });
        }
        Ok(self.peer)
    }
}

/// Blocking handshake; returns who the peer says it is.
pub fn handshake_blocking(conn: &mut BlockingConn, me: Peer) -> Result<Peer, IpcError> {
    conn.send(0, &Hello::new(me), &[])?;
    match conn.recv::<Hello>()? {
        Some(m) => m.body.check(),
        None => Err(IpcError::Closed),
    }
}

/// Async handshake; returns who the peer says it is.
pub async fn handshake(
    rx: &mut AsyncReceiver,
    tx: &AsyncSender,
    me: Peer,
) -> Result<Peer, IpcError> {
    tx.send(0, &Hello::new(me), &[]).await?;
    match rx.recv::<Hello>().await? {
        Some(m) => m.body.check(),
        None => Err(IpcError::Closed),
    }
}
