//! Descriptors travel with their frame over a real socketpair, in both the
//! blocking and async connections; a bad stream ends with an error.

use std::io::{Read, Seek, Write};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use ipc::{BlockingConn, IpcError};

fn memfd_with(data: &[u8]) -> std::fs::File {
    let fd = nix::sys::memfd::memfd_create(c"t", nix::sys::memfd::MFdFlags::MFD_CLOEXEC).unwrap();
    let mut f = std::fs::File::from(fd);
    f.write_all(data).unwrap();
    f
}

#[test]
fn blocking_fd_pass() {
    let (a, b) = UnixStream::pair().unwrap();
    let (mut a, mut b) = (BlockingConn::new(a), BlockingConn::new(b));
    let f1 = memfd_with(b"first");
    let f2 = memfd_with(b"second");
    a.send(1, &"one".to_string(), &[f1.as_fd()]).unwrap();
    a.send(2, &"none".to_string(), &[]).unwrap();
    a.send(3, &"two".to_string(), &[f1.as_fd(), f2.as_fd()])
        .unwrap();
    let m = b.recv::<String>().unwrap().unwrap();
    assert_eq!((m.id, m.body.as_str(), m.fds.len()), (1, "one", 1));
    let m2 = b.recv::<String>().unwrap().unwrap();
    assert_eq!((m2.id, m2.fds.len()), (2, 0));
    let m3 = b.recv::<String>().unwrap().unwrap();
    assert_eq!(m3.fds.len(), 2);
    let mut s = String::new();
    let mut f = std::fs::File::from(m3.fds.into_iter().nth(1).unwrap());
    f.rewind().unwrap();
    f.read_to_string(&mut s).unwrap();
    assert_eq!(s, "second");
    drop(a);
    assert!(b.recv::<String>().unwrap().is_none(), "clean EOF");
}

#[test]
fn blocking_truncated_is_error() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let mut b = BlockingConn::new(b);
    let f = ipc::frame::encode_frame(1, &"hello".to_string(), 0).unwrap();
    a.write_all(&f[..f.len() - 1]).unwrap();
    drop(a);
    assert!(matches!(b.recv::<String>(), Err(IpcError::Truncated(_))));
}

#[tokio::test]
async fn async_fd_pass_and_garbage() {
    let (a, b) = tokio::net::UnixStream::pair().unwrap();
    let (_arx, atx) = ipc::conn::split(a);
    let (mut brx, _btx) = ipc::conn::split(b);
    let f = memfd_with(b"payload");
    atx.send(9, &42u32, &[f.as_fd()]).await.unwrap();
    let m = brx.recv::<u32>().await.unwrap().unwrap();
    assert_eq!((m.id, m.body), (9, 42));
    let mut got = std::fs::File::from(m.fds.into_iter().next().unwrap());
    got.rewind().unwrap();
    let mut s = String::new();
    got.read_to_string(&mut s).unwrap();
    assert_eq!(s, "payload");

    let (c, d) = tokio::net::UnixStream::pair().unwrap();
    let (mut drx, _dtx) = ipc::conn::split(d);
    let c = c.into_std().unwrap();
    c.set_nonblocking(false).unwrap();
    (&c).write_all(&[0xff, 0xff, 0xff, 0xff, 0, 0]).unwrap();
    assert!(matches!(
        drx.recv::<u32>().await,
        Err(IpcError::FrameTooLarge(_))
    ));
}
