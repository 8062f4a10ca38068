//! Tests of the DATA decoder: unstuffing, bare LF, the smuggling table
//! (threats T6) and chunk-boundary independence.

use super::*;
use proptest::prelude::*;

/// Decode `input` in one piece: (outcome, message, consumed) at the end.
fn decode(input: &[u8], max: u64) -> Option<(DataOutcome, Vec<u8>, usize)> {
    decode_chunks(&[input], max)
}

fn decode_chunks(chunks: &[&[u8]], max: u64) -> Option<(DataOutcome, Vec<u8>, usize)> {
    let mut d = DataDecoder::new(max);
    let mut out = Vec::new();
    let mut offset = 0;
    for c in chunks {
        match d.feed(c, &mut out).ok()? {
            Progress::NeedMore => offset += c.len(),
            Progress::End { consumed } => return Some((d.outcome(), out, offset + consumed)),
        }
    }
    None
}

const MAX: u64 = 1 << 20;

#[test]
fn simple_message_and_leftover() {
    let input = b"Subject: a\r\n\r\nbody\r\n.\r\nQUIT\r\n";
    let (o, msg, consumed) = decode(input, MAX).unwrap();
    assert_eq!(o, DataOutcome::Complete);
    assert_eq!(msg, b"Subject: a\r\n\r\nbody\r\n");
    assert_eq!(&input[consumed..], b"QUIT\r\n");
}

#[test]
fn empty_message() {
    assert_eq!(
        decode(b".\r\n", MAX),
        Some((DataOutcome::Complete, vec![], 3))
    );
}

#[test]
fn dot_unstuffing() {
    let (o, msg, _) = decode(b"..a\r\n..\r\n...\r\nx.y\r\n.\r\n", MAX).unwrap();
    assert_eq!(o, DataOutcome::Complete);
    assert_eq!(msg, b".a\r\n.\r\n..\r\nx.y\r\n");
}

#[test]
fn bare_lf_is_stored_as_crlf() {
    let (o, msg, _) = decode(b"a\nb\n\nc\r\n.\r\n", MAX).unwrap();
    assert_eq!(o, DataOutcome::Complete);
    assert_eq!(msg, b"a\r\nb\r\n\r\nc\r\n");
    // A dot line after a bare LF keeps its dot (no unstuffing there).
    let (o, msg, _) = decode(b"a\n.b\r\n.\r\n", MAX).unwrap();
    assert_eq!((o, msg), (DataOutcome::Complete, b"a\r\n.b\r\n".to_vec()));
}

/// threats.md T6: each variant, followed by a smuggled transaction, then
/// the real end. Exactly one end, at the real end; smuggling flagged.
#[test]
fn smuggling_table() {
    let cases: &[(&[u8], DataOutcome)] = &[
        (b"\n.\n", DataOutcome::Smuggling),
        (b"\n.\r\n", DataOutcome::Smuggling),
        (b"\r.\r\n", DataOutcome::Smuggling),
        (b"\r\n.\r", DataOutcome::Smuggling),
        (b"\r\n.\n", DataOutcome::Smuggling),
        (b"\n\n.\r\n", DataOutcome::Smuggling),
        (b"\r\n\0.\r\n", DataOutcome::Complete),
        (b"\r\n.\0\r\n", DataOutcome::Complete),
        (b"\r\n\0.\r", DataOutcome::Smuggling),
        (b"\r\n\0.\n", DataOutcome::Complete),
        (b"\r\n.\r\r\n", DataOutcome::Smuggling),
        (b"x\r", DataOutcome::Smuggling),
    ];
    let smuggled = b"MAIL FROM:<x@ex.test>\r\nRCPT TO:<b@ex.test>\r\nDATA\r\nSubject: smuggled\r\n";
    for (variant, want) in cases {
        let mut input = b"Subject: real\r\n\r\nbody".to_vec();
        input.extend_from_slice(variant);
        input.extend_from_slice(smuggled);
        input.extend_from_slice(b"\r\n.\r\n");
        let got = decode(&input, MAX);
        let (o, msg, consumed) = got.unwrap_or_else(|| panic!("{variant:?}: no end"));
        assert_eq!(o, *want, "{variant:?}");
        assert_eq!(consumed, input.len(), "{variant:?} ended early");
        if o == DataOutcome::Complete {
            // The smuggled text is part of the one message, not a command.
            assert!(
                msg.windows(smuggled.len()).any(|w| w == smuggled),
                "{variant:?}"
            );
        }
    }
}

/// "\r\r\n.\r\n" contains a real CRLF.CRLF: every SMTP peer sees the
/// end there, so it ends the data, and the bare CR before it refuses the
/// message.
#[test]
fn bare_cr_before_real_end() {
    let input = b"body\r\r\n.\r\nMAIL FROM:<x@ex.test>\r\n";
    let (o, _, consumed) = decode(input, MAX).unwrap();
    assert_eq!(o, DataOutcome::Smuggling);
    assert_eq!(&input[consumed..], b"MAIL FROM:<x@ex.test>\r\n");
}

#[test]
fn dot_at_eof_is_not_an_end() {
    assert_eq!(decode(b"body\r\n.", MAX), None);
    assert_eq!(decode(b"body\r\n.\r", MAX), None);
    assert_eq!(decode(b"body\n.\n", MAX), None);
}

#[test]
fn size_limit_consumes_to_end() {
    let input = b"0123456789\r\n0123456789\r\n.\r\nNEXT";
    let (o, msg, consumed) = decode(input, 15).unwrap();
    assert_eq!(o, DataOutcome::TooLarge);
    assert_eq!(msg, b"0123456789\r\n012");
    assert_eq!(&input[consumed..], b"NEXT");
    // Exactly at the limit is fine.
    let (o, msg, _) = decode(input, 24).unwrap();
    assert_eq!((o, msg.len()), (DataOutcome::Complete, 24));
}

#[test]
fn smuggling_wins_over_size() {
    let (o, _, _) = decode(b"0123456789\rx\r\n.\r\n", 3).unwrap();
    assert_eq!(o, DataOutcome::Smuggling);
}

/// Split `input` at the given points (sorted, deduplicated, in range).
fn split_at<'a>(input: &'a [u8], points: &[usize]) -> Vec<&'a [u8]> {
    let mut pts: Vec<usize> = points.iter().map(|p| p % (input.len() + 1)).collect();
    pts.sort_unstable();
    pts.dedup();
    let mut out = Vec::new();
    let mut last = 0;
    for p in pts {
        out.push(&input[last..p]);
        last = p;
    }
    out.push(&input[last..]);
    out
}

fn stuff(lines: &[Vec<u8>]) -> Vec<u8> {
    let mut s = Vec::new();
    for l in lines {
        if l.first() == Some(&b'.') {
            s.push(b'.');
        }
        s.extend_from_slice(l);
        s.extend_from_slice(b"\r\n");
    }
    s.extend_from_slice(b".\r\n");
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn chunking_does_not_matter(
        input in proptest::collection::vec(
            prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'.'), Just(b'a'), Just(0u8), any::<u8>()], 0..200),
        points in proptest::collection::vec(any::<usize>(), 0..12),
        max in 0u64..64,
    ) {
        let whole = decode(&input, max);
        let parts = split_at(&input, &points);
        prop_assert_eq!(decode_chunks(&parts, max), whole.clone());
        // Byte by byte too.
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        prop_assert_eq!(decode_chunks(&bytes, max), whole);
    }

    #[test]
    fn complete_messages_have_only_crlf(input in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut input = input;
        input.extend_from_slice(b"\r\n.\r\n");
        if let Some((DataOutcome::Complete, msg, _)) = decode(&input, MAX) {
            for (i, &b) in msg.iter().enumerate() {
                if b == b'\n' {
                    prop_assert!(i > 0 && msg[i - 1] == b'\r');
                }
                if b == b'\r' {
                    prop_assert_eq!(msg.get(i + 1), Some(&b'\n'));
                }
            }
        }
    }

    #[test]
    fn stuffing_round_trips(
        lines in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(b'.'), Just(b'x'), 0x0eu8..0xff], 0..20), 0..20),
        points in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        // Lines never contain CR or LF (ranges exclude them).
        let lines: Vec<Vec<u8>> =
            lines.into_iter().map(|l| l.into_iter().filter(|&b| b != b'\r' && b != b'\n').collect()).collect();
        let wire = stuff(&lines);
        let mut want = Vec::new();
        for l in &lines {
            want.extend_from_slice(l);
            want.extend_from_slice(b"\r\n");
        }
        let parts = split_at(&wire, &points);
        prop_assert_eq!(decode_chunks(&parts, MAX), Some((DataOutcome::Complete, want, wire.len())));
    }
}
