//! The DATA reader: a streaming decoder for the message text after `354`
//! (RFC 5321 §4.1.1.4), fed with chunks at any boundaries.
//!
//! - Only CRLF "." CRLF ends the message (RFC 5321 §4.1.1.4). The CRLF of
//!   the DATA command line counts, so an immediate ".\r\n" is an empty
//!   message.
//! - Dot-unstuffing after CRLF (RFC 5321 §4.5.2).
//! - SMTP smuggling (threats T6, CVE-2023-51764): a bare CR anywhere, and a
//!   dot line not framed by CRLF on both sides ("\n.\n", "\n.\r\n",
//!   "\r\n.\n", …) mark the message bad. They never end it; the decoder
//!   keeps reading to the real end and reports [`DataOutcome::Smuggling`].
//! - Other bare LFs are message data and are written as CRLF.
//! - At most `max_size` octets are written; the rest is consumed and
//!   dropped, and the outcome is [`DataOutcome::TooLarge`].

use std::io::{self, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a line; `crlf` is whether the previous line ended in
    /// CRLF (true at the start of the data).
    LineStart {
        crlf: bool,
    },
    /// A "." at the start of a line.
    Dot {
        crlf: bool,
    },
    /// ".\r" at the start of a line.
    DotCr {
        crlf: bool,
    },
    /// Inside a line.
    Mid,
    /// A CR inside a line (or as the first octet of a line).
    Cr,
    Done,
}

/// Progress of one [`DataDecoder::feed`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// All input consumed; more is needed.
    NeedMore,
    /// The end-of-data line was seen after `consumed` octets of this input;
    /// the rest belongs to the next command.
    End { consumed: usize },
}

/// The result of a complete DATA transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataOutcome {
    /// The message was written in full.
    Complete,
    /// Bare CR or an unframed dot line: reply `500 5.5.2` (SMTP smuggling).
    Smuggling,
    /// More than the maximum size: reply `552 5.3.4` (RFC 1870 §6.2).
    TooLarge,
}

/// Streaming DATA decoder; see the module comment.
#[derive(Debug)]
pub struct DataDecoder {
    state: State,
    bad: bool,
    written: u64,
    max_size: u64,
    too_large: bool,
}

impl DataDecoder {
    pub fn new(max_size: u64) -> DataDecoder {
        DataDecoder {
            state: State::LineStart { crlf: true },
            bad: false,
            written: 0,
            max_size,
            too_large: false,
        }
    }

    /// Octets written to the sink so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decode `input`, writing message octets to `out`. After
    /// [`Progress::End`] the decoder is done and must not be fed again.
    pub fn feed(&mut self, input: &[u8], out: &mut impl Write) -> io::Result<Progress> {
        let mut i = 0;
        while i < input.len() {
            let b = input[i];
            match self.state {
                State::Done => return Ok(Progress::End { consumed: i }),
                State::Mid => {
                    // Fast path: copy up to the next CR or LF in one write.
                    let run = input[i..]
                        .iter()
                        .position(|&c| c == b'\r' || c == b'\n')
                        .unwrap_or(input.len() - i);
                    if run > 0 {
                        self.emit(&input[i..i + run], out)?;
                        i += run;
                        continue;
                    }
                    self.state = if b == b'\r' {
                        State::Cr
                    } else {
                        // Bare LF: data, stored as CRLF.
                        self.emit(b"\r\n", out)?;
                        State::LineStart { crlf: false }
                    };
                }
                State::LineStart { crlf } => match b {
                    b'.' => self.state = State::Dot { crlf },
                    b'\r' => self.state = State::Cr,
                    b'\n' => {
                        self.emit(b"\r\n", out)?;
                        self.state = State::LineStart { crlf: false };
                    }
                    _ => {
                        self.emit(&[b], out)?;
                        self.state = State::Mid;
                    }
                },
                State::Dot { crlf } => match b {
                    b'\r' => self.state = State::DotCr { crlf },
                    b'\n' => {
                        // "\r\n.\n" or "\n.\n": a dot line ended by a bare LF.
                        self.bad = true;
                        self.emit(b".\r\n", out)?;
                        self.state = State::LineStart { crlf: false };
                    }
                    _ => {
                        // RFC 5321 §4.5.2: drop the first dot of a line. After
                        // a bare LF the line is not a real line start; the dot
                        // is kept (as mox does).
                        if !crlf {
                            self.emit(b".", out)?;
                        }
                        self.state = State::Mid;
                        continue; // Process `b` in Mid.
                    }
                },
                State::DotCr { crlf } => {
                    if b == b'\n' {
                        if crlf {
                            self.state = State::Done;
                            return Ok(Progress::End { consumed: i + 1 });
                        }
                        // "\n.\r\n": not framed by CRLF before the dot.
                        self.bad = true;
                        self.emit(b".\r\n", out)?;
                        self.state = State::LineStart { crlf: true };
                    } else {
                        // ".\r" + other: a bare CR.
                        self.bad = true;
                        self.emit(b".\r", out)?;
                        self.state = State::Mid;
                        continue;
                    }
                }
                State::Cr => {
                    if b == b'\n' {
                        self.emit(b"\r\n", out)?;
                        self.state = State::LineStart { crlf: true };
                    } else {
                        self.bad = true;
                        self.emit(b"\r", out)?;
                        self.state = State::Mid;
                        continue;
                    }
                }
            }
            i += 1;
        }
        Ok(if self.state == State::Done {
            Progress::End { consumed: i }
        } else {
            Progress::NeedMore
        })
    }

    /// The outcome once [`Progress::End`] was returned. Smuggling is
    /// reported before size: it says more about the peer.
    pub fn outcome(&self) -> DataOutcome {
        if self.bad {
            DataOutcome::Smuggling
        } else if self.too_large {
            DataOutcome::TooLarge
        } else {
            DataOutcome::Complete
        }
    }

    /// Write `bytes`, or as much as fits under the maximum size; the
    /// stored part is always a prefix of the decoded message, whatever the
    /// chunk boundaries were.
    fn emit(&mut self, bytes: &[u8], out: &mut impl Write) -> io::Result<()> {
        if self.too_large {
            return Ok(());
        }
        let room = self.max_size - self.written;
        let n = usize::try_from(room).map_or(bytes.len(), |r| r.min(bytes.len()));
        if n < bytes.len() {
            self.too_large = true;
        }
        self.written += n as u64;
        out.write_all(&bytes[..n])
    }
}

#[cfg(test)]
mod tests;
