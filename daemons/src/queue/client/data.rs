//! The message as it goes on the wire after DATA (RFC 5321 §4.1.1.4,
//! §4.5.2): every line ends in CRLF (a bare LF or a bare CR becomes CRLF,
//! so no bare CR or LF ever reaches the peer — the SMTP smuggling shapes),
//! a line starting with "." gets another "." (transparency), and the
//! message ends with CRLF "." CRLF. Works chunk by chunk, so a CR at the
//! end of one chunk and its LF at the start of the next stay one line end.

/// Streaming encoder of message content for DATA.
#[derive(Debug)]
pub struct DataEncoder {
    at_line_start: bool,
    pending_cr: bool,
}

impl Default for DataEncoder {
    fn default() -> Self {
        DataEncoder {
            at_line_start: true,
            pending_cr: false,
        }
    }
}

impl DataEncoder {
    /// Appends the encoding of `input` to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() + input.len() / 64 + 4);
        for &b in input {
            if self.pending_cr {
                self.pending_cr = false;
                out.extend_from_slice(b"\r\n");
                self.at_line_start = true;
                if b == b'\n' {
                    continue;
                }
            }
            match b {
                b'\r' => self.pending_cr = true,
                b'\n' => {
                    out.extend_from_slice(b"\r\n");
                    self.at_line_start = true;
                }
                _ => {
                    // RFC 5321 §4.5.2: double a leading period.
                    if self.at_line_start && b == b'.' {
                        out.push(b'.');
                    }
                    out.push(b);
                    self.at_line_start = false;
                }
            }
        }
    }

    /// Ends the message: a last line end if missing, then ".\r\n".
    pub fn finish(self, out: &mut Vec<u8>) {
        if self.pending_cr || !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(chunks: &[&[u8]]) -> Vec<u8> {
        let mut e = DataEncoder::default();
        let mut out = Vec::new();
        for c in chunks {
            e.encode(c, &mut out);
        }
        e.finish(&mut out);
        out
    }

    #[test]
    fn crlf_message_is_unchanged_but_terminated() {
        assert_eq!(
            enc(&[b"a: b\r\n\r\nbody\r\n"]),
            b"a: b\r\n\r\nbody\r\n.\r\n"
        );
        assert_eq!(enc(&[b""]), b".\r\n");
    }

    #[test]
    fn dots_are_stuffed() {
        assert_eq!(
            enc(&[b".\r\n..x\r\na.b\r\n.\r\n"]),
            b"..\r\n...x\r\na.b\r\n..\r\n.\r\n"
        );
        // Across chunk boundaries.
        assert_eq!(enc(&[b"a\r", b"\n.b"]), b"a\r\n..b\r\n.\r\n");
    }

    #[test]
    fn bare_cr_and_lf_become_crlf() {
        assert_eq!(enc(&[b"a\nb\rc\r\n"]), b"a\r\nb\r\nc\r\n.\r\n");
        assert_eq!(enc(&[b"a\r\r\n"]), b"a\r\n\r\n.\r\n");
        // The smuggling shapes never survive.
        let out = enc(&[b"x\n.\ny\r.\rz\r\n.\n"]);
        assert_eq!(out, b"x\r\n..\r\ny\r\n..\r\nz\r\n..\r\n.\r\n");
        for (i, &b) in out.iter().enumerate() {
            if b == b'\n' {
                assert_eq!(out[i - 1], b'\r', "bare LF at {i}");
            }
            if b == b'\r' {
                assert_eq!(out[i + 1], b'\n', "bare CR at {i}");
            }
        }
    }

    #[test]
    fn unterminated_last_line() {
        assert_eq!(enc(&[b"a"]), b"a\r\n.\r\n");
        assert_eq!(enc(&[b"a\r"]), b"a\r\n.\r\n");
    }
}
