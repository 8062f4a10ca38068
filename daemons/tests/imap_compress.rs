//! COMPRESS=DEFLATE (RFC 4978): after the tagged OK both directions are
//! raw deflate; commands and responses, literals included, still work,
//! and a second COMPRESS is refused.

mod imap_common;

use std::sync::Arc;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use imap_common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

/// A client speaking deflate on a raw stream.
struct ZClient {
    io: DuplexStream,
    comp: Compress,
    decomp: Decompress,
    plain: Vec<u8>,
}

impl ZClient {
    async fn send(&mut self, data: &[u8]) {
        // Room for the whole deflated command and its sync flush.
        let mut out = Vec::with_capacity(data.len() + 1024);
        self.comp
            .compress_vec(data, &mut out, FlushCompress::Sync)
            .expect("deflate");
        self.io.write_all(&out).await.expect("write");
    }

    async fn line(&mut self) -> String {
        loop {
            if let Some(p) = self.plain.iter().position(|&b| b == b'\n') {
                let l: Vec<u8> = self.plain.drain(..=p).collect();
                return String::from_utf8_lossy(&l).trim_end().to_string();
            }
            let mut z = [0u8; 4096];
            let n = tokio::time::timeout(WAIT, self.io.read(&mut z))
                .await
                .expect("read timed out")
                .expect("read");
            assert!(n > 0, "closed");
            let mut out = Vec::with_capacity(64 * 1024);
            self.decomp
                .decompress_vec(&z[..n], &mut out, FlushDecompress::None)
                .expect("inflate");
            self.plain.extend_from_slice(&out);
        }
    }

    async fn cmd(&mut self, tag: &str, cmd: &str) -> Vec<String> {
        self.send(format!("{tag} {cmd}\r\n").as_bytes()).await;
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            let done = l.starts_with(&format!("{tag} "));
            lines.push(l);
            if done {
                return lines;
            }
        }
    }
}

#[tokio::test]
async fn compress_deflate() {
    let b = Arc::new(backend());
    let body = "line of text\r\n".repeat(2000);
    b.deliver(ACCOUNT, "Inbox", message("big", &body).as_bytes(), &[])
        .unwrap();
    let mut r = start(config(), Arc::clone(&b));
    let g = r.client.line().await.unwrap();
    assert!(g.contains("COMPRESS=DEFLATE"), "{g}");
    r.client.status("COMPRESS DEFLATE", "BAD").await;
    r.client.ok(&format!("LOGIN {USER} {PASSWORD}")).await;
    r.client.status("COMPRESS LZW", "BAD").await;
    let ok = r.client.ok("COMPRESS DEFLATE").await;
    assert_eq!(ok.tagged, "OK DEFLATE active");
    let io = std::mem::replace(&mut r.client, Client::new(tokio::io::duplex(1).0)).into_inner();
    let mut z = ZClient {
        io,
        comp: Compress::new(Compression::default(), false),
        decomp: Decompress::new(false),
        plain: Vec::new(),
    };
    let caps = z.cmd("c1", "CAPABILITY").await;
    assert!(!caps[0].contains("COMPRESS"), "{caps:?}");
    let s = z.cmd("c2", "SELECT INBOX").await;
    assert!(s.iter().any(|l| l == "* 1 EXISTS"), "{s:?}");
    let f = z.cmd("c3", "FETCH 1 BODY.PEEK[TEXT]").await;
    assert!(f[0].ends_with(&format!("{{{}}}", body.len() + 2)), "{f:?}");
    assert_eq!(f.last().unwrap(), "c3 OK FETCH completed");
    // A literal from the client, compressed too.
    let a = z.cmd("c4", "APPEND INBOX {5+}\r\nhello").await;
    assert!(a.last().unwrap().starts_with("c4 OK [APPENDUID"), "{a:?}");
    assert_eq!(b.content(ACCOUNT, "Inbox", 2).unwrap(), b"hello");
    let again = z.cmd("c5", "COMPRESS DEFLATE").await;
    assert_eq!(
        again.last().unwrap(),
        "c5 NO [COMPRESSIONACTIVE] compression already active"
    );
    let bye = z.cmd("c6", "LOGOUT").await;
    assert_eq!(bye, vec!["* BYE logging out", "c6 OK LOGOUT completed"]);
}
