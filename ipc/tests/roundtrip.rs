//! Property tests: every message survives encode → frame → decode, at any
//! split of the byte stream; random bytes never panic the decoder.

use ipc::control::{ControlReply, ControlRequest};
use ipc::frame::{FrameDecoder, MAX_FRAME_SIZE, encode_frame};
use ipc::store::{Delivery, ScramMechanism, StoreRequest};
use proptest::prelude::*;

fn store_request() -> impl Strategy<Value = StoreRequest> {
    prop_oneof![
        Just(StoreRequest::Ping),
        any::<String>().prop_map(|domain| StoreRequest::DomainAdd { domain }),
        (any::<String>(), any::<String>())
            .prop_map(|(name, address)| StoreRequest::AccountAdd { name, address }),
        (any::<String>(), any::<String>())
            .prop_map(|(login, password)| StoreRequest::VerifyPassword { login, password }),
        any::<String>().prop_map(|login| StoreRequest::ScramCredentials {
            login,
            mechanism: ScramMechanism::Sha256
        }),
        (
            any::<String>(),
            any::<String>(),
            proptest::collection::vec(any::<String>(), 0..5),
            any::<Vec<u8>>(),
            any::<Option<i64>>()
        )
            .prop_map(
                |(account, mailbox, flags, prefix, received)| StoreRequest::Deliver(Delivery {
                    account,
                    mailbox,
                    flags,
                    prefix,
                    received,
                    parsed: None,
                })
            ),
        (any::<String>(), any::<i64>()).prop_map(|(account, message_id)| {
            StoreRequest::MessageOpen {
                account,
                message_id,
            }
        }),
    ]
}

proptest! {
    #[test]
    fn store_requests_round_trip(reqs in proptest::collection::vec((any::<u64>(), store_request()), 1..8), split in any::<proptest::sample::Index>()) {
        let mut wire = Vec::new();
        for (id, r) in &reqs {
            wire.extend(encode_frame(*id, r, 0).unwrap());
        }
        let cut = split.index(wire.len() + 1);
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for part in [&wire[..cut], &wire[cut..]] {
            d.push_bytes(part);
            while let Some(f) = d.next_frame().unwrap() {
                got.push((f.id, f.decode::<StoreRequest>().unwrap()));
            }
        }
        prop_assert!(d.finish().is_ok());
        prop_assert_eq!(got, reqs);
    }

    #[test]
    fn control_round_trip(domain in any::<String>(), pw in any::<Option<String>>()) {
        let r = ControlRequest::AccountAdd { name: domain.clone(), address: domain, password: pw };
        let f = encode_frame(3, &r, 0).unwrap();
        let mut d = FrameDecoder::new();
        d.push_bytes(&f);
        let fr = d.next_frame().unwrap().unwrap();
        prop_assert_eq!(fr.decode::<ControlRequest>().unwrap(), r);
        let e = ControlReply::Error("x".into());
        let f = encode_frame(4, &e, 0).unwrap();
        d.push_bytes(&f);
        prop_assert_eq!(d.next_frame().unwrap().unwrap().decode::<ControlReply>().unwrap(), e);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut d = FrameDecoder::new();
        d.push_bytes(&bytes);
        // Either frames, an error, or a wait for more: never a panic, and
        // never an allocation beyond the frame limit.
        while let Ok(Some(f)) = d.next_frame() {
            prop_assert!(f.body.len() <= MAX_FRAME_SIZE);
            let _ = f.decode::<StoreRequest>();
            let _ = f.decode::<ControlRequest>();
        }
    }
}
