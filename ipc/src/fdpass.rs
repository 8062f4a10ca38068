//! Passing file descriptors over unix sockets with SCM_RIGHTS (unix(7)).
//!
//! Descriptors ride on the first byte of the frame that claims them; the
//! receiver queues them in the [`crate::frame::FrameDecoder`].

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

use crate::{IpcError, frame::MAX_FDS_PER_FRAME};

/// Send `bytes` with `fds` attached. Returns how many bytes went out (may be
/// fewer than asked; the caller sends the rest without descriptors).
pub fn send_with_fds(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[BorrowedFd<'_>],
) -> std::io::Result<usize> {
    let raw: Vec<RawFd> = fds.iter().map(|f| f.as_raw_fd()).collect();
    let iov = [IoSlice::new(bytes)];
    let cmsgs = if raw.is_empty() {
        vec![]
    } else {
        vec![ControlMessage::ScmRights(&raw)]
    };
    // MSG_NOSIGNAL: a dead peer is an EPIPE error, not a SIGPIPE.
    sendmsg::<()>(sock.as_raw_fd(), &iov, &cmsgs, MsgFlags::MSG_NOSIGNAL, None)
        .map_err(std::io::Error::from)
}

/// Receive into `buf`; returns the byte count (0 = end of stream) and any
/// descriptors that came with them (already close-on-exec).
pub fn recv_with_fds(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
) -> Result<(usize, Vec<OwnedFd>), IpcError> {
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_FDS_PER_FRAME]);
    let mut iov = [IoSliceMut::new(buf)];
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(|e| IpcError::Io(std::io::Error::from(e)))?;
    let mut fds = Vec::new();
    for c in msg
        .cmsgs()
        .map_err(|e| IpcError::Io(std::io::Error::from(e)))?
    {
        if let ControlMessageOwned::ScmRights(list) = c {
            for fd in list {
                // SAFETY: the kernel just installed `fd` in our table for us
                // (SCM_RIGHTS); nothing else owns it, so taking ownership here
                // is the only way it is ever closed.
                fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
            }
        }
    }
    if msg.flags.contains(MsgFlags::MSG_CTRUNC) {
        return Err(IpcError::ControlTruncated);
    }
    Ok((msg.bytes, fds))
}
