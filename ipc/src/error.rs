//! Errors of the IPC layer. Any of them closes the connection it came from.

use thiserror::Error;

#[derive(Debug, Error)]
pub enum IpcError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("frame of {0} bytes exceeds the maximum of {max}", max = crate::frame::MAX_FRAME_SIZE)]
    FrameTooLarge(usize),
    #[error("malformed frame: {0}")]
    Malformed(String),
    #[error("connection closed in the middle of a frame ({0} bytes pending)")]
    Truncated(usize),
    #[error("frame announced {wanted} file descriptors but {got} arrived")]
    MissingFds { wanted: usize, got: usize },
    #[error("too many file descriptors pending on the connection")]
    TooManyFds,
    #[error("control message truncated by the kernel (file descriptors lost)")]
    ControlTruncated,
    #[error("protocol version mismatch: peer speaks {peer}, we speak {ours}")]
    Version { peer: u32, ours: u32 },
    #[error("unexpected message: {0}")]
    Unexpected(String),
    #[error("connection closed")]
    Closed,
}

impl From<nix::Error> for IpcError {
    fn from(e: nix::Error) -> Self {
        IpcError::Io(std::io::Error::from(e))
    }
}
