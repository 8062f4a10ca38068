//! Passwords are kept only as salted SCRAM keys and checked against them.

mod common;

use ipc::store::{ScramMechanism, StoreErrorKind};
use store::scram;

const PASSWORD: &str = "correct horse battery staple 7Z";

#[test]
fn verify_right_wrong_unknown() {
    let (_dir, s) = common::with_account();
    assert_eq!(
        s.verify_password("mox@example.org", PASSWORD).unwrap(),
        None,
        "no password set yet"
    );
    s.set_password("mox", PASSWORD).unwrap();
    assert_eq!(
        s.verify_password("mox@example.org", PASSWORD)
            .unwrap()
            .as_deref(),
        Some("mox")
    );
    assert_eq!(
        s.verify_password("MOX@Example.Org", PASSWORD)
            .unwrap()
            .as_deref(),
        Some("mox")
    );
    assert_eq!(
        s.verify_password("mox", PASSWORD).unwrap().as_deref(),
        Some("mox"),
        "by account name"
    );
    assert_eq!(s.verify_password("mox@example.org", "wrong").unwrap(), None);
    assert_eq!(
        s.verify_password("mox@example.org", &PASSWORD.to_uppercase())
            .unwrap(),
        None
    );
    assert_eq!(
        s.verify_password("nobody@example.org", PASSWORD).unwrap(),
        None
    );
    assert_eq!(s.verify_password("nobody", PASSWORD).unwrap(), None);
    assert_eq!(s.verify_password("../mox", PASSWORD).unwrap(), None);
    // A new password replaces the old one.
    s.set_password("mox", "second password").unwrap();
    assert_eq!(s.verify_password("mox", PASSWORD).unwrap(), None);
    assert_eq!(
        s.verify_password("mox", "second password")
            .unwrap()
            .as_deref(),
        Some("mox")
    );

    assert_eq!(
        s.set_password("nobody", "x").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(
        s.set_password("mox", "").unwrap_err().kind,
        StoreErrorKind::Invalid
    );
}

#[test]
fn scram_credentials_are_salted_keys() {
    let (dir, s) = common::with_account();
    s.set_password("mox", PASSWORD).unwrap();
    let c256 = s
        .scram_credentials("mox@example.org", ScramMechanism::Sha256)
        .unwrap()
        .unwrap();
    let c1 = s
        .scram_credentials("mox@example.org", ScramMechanism::Sha1)
        .unwrap()
        .unwrap();
    assert_eq!(
        (c256.account.as_str(), c256.iterations, c256.salt.len()),
        ("mox", 4096, 16)
    );
    assert_eq!(
        (
            c1.iterations,
            c1.salt.len(),
            c1.stored_key.len(),
            c1.server_key.len()
        ),
        (8192, 16, 20, 20)
    );
    assert_ne!(c256.salt, c1.salt, "each mechanism has its own salt");
    for (mech, c) in [(ScramMechanism::Sha256, &c256), (ScramMechanism::Sha1, &c1)] {
        let k = scram::derive(mech, PASSWORD.as_bytes(), &c.salt, c.iterations);
        assert_eq!(k.stored_key, c.stored_key);
        assert_eq!(k.server_key, c.server_key);
    }
    assert_eq!(
        s.scram_credentials("nobody@example.org", ScramMechanism::Sha256)
            .unwrap(),
        None
    );

    // The password itself is nowhere in the data directory.
    drop(s);
    for name in common::entries(dir.path()) {
        let path = dir.path().join(&name);
        if path.is_file() {
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes
                    .windows(PASSWORD.len())
                    .any(|w| w == PASSWORD.as_bytes()),
                "password found in {name}"
            );
        }
    }
}
