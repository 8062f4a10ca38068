//! Golden bytes: fails when the wire format changes by accident. If you
//! change a message type on purpose, bump `IPC_VERSION` and update these.

use ipc::IPC_VERSION;
use ipc::frame::encode_frame;
use ipc::hello::Hello;
use ipc::role::Peer;
use ipc::store::StoreRequest;

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn version_is_pinned() {
    assert_eq!(IPC_VERSION, 7);
}

#[test]
fn hello_bytes() {
    let f = encode_frame(0, &Hello::new(Peer::Worker(ipc::Role::Store)), 0).unwrap();
    // len=25 | nfds=0 | id=0 | magic "MOXD" | version 7 | Peer::Worker = 1 | Role::Store = 0 (u32 variant indices)
    assert_eq!(
        hex(&f),
        "000000190000000000000000004d4f5844000000070000000100000000"
    );
}

#[test]
fn store_request_bytes() {
    let f = encode_frame(
        7,
        &StoreRequest::ResolveRecipient {
            address: "a@b".into(),
        },
        0,
    )
    .unwrap();
    assert_eq!(
        hex(&f),
        "000000180000000000000000070000000a0000000000000003614062"
    );
}

#[test]
fn queue_request_bytes() {
    // Queue requests were appended: QueueKick is variant 30.
    let f = encode_frame(7, &StoreRequest::QueueKick { id: 5 }, 0).unwrap();
    assert_eq!(
        hex(&f),
        "000000150000000000000000070000001e0000000000000005"
    );
}

#[test]
fn recent_claim_bytes() {
    // Appended after DmarcReportList: RecentClaim is variant 65.
    let f = encode_frame(
        7,
        &StoreRequest::RecentClaim {
            account: "a".into(),
            mailbox_id: 7,
            up_to: 9,
            claim: true,
        },
        0,
    )
    .unwrap();
    assert_eq!(
        hex(&f),
        "000000230000000000000000070000004100000000000000016100000000000000070000000901"
    );
}
