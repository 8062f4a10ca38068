//! The one place that knows the body encoding (bincode 2 with serde), so it
//! can be swapped without touching any message type.

use serde::{Serialize, de::DeserializeOwned};

use crate::{IpcError, frame::MAX_FRAME_SIZE};

fn config() -> impl bincode::config::Config {
    // Fixed-width big-endian integers keep the golden bytes easy to read; the
    // limit bounds every allocation the decoder makes to one frame's size.
    bincode::config::standard()
        .with_big_endian()
        .with_fixed_int_encoding()
        .with_limit::<MAX_FRAME_SIZE>()
}

/// Encode a message body.
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, IpcError> {
    bincode::serde::encode_to_vec(msg, config()).map_err(|e| IpcError::Malformed(e.to_string()))
}

/// Decode a message body; trailing bytes are an error (a frame holds exactly
/// one message).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, IpcError> {
    let (msg, used) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| IpcError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(IpcError::Malformed(format!(
            "{} trailing bytes after message",
            bytes.len() - used
        )));
    }
    Ok(msg)
}
