//! Domains, accounts, addresses, recipient resolution and the versioned
//! schema across reopen.

mod common;

use ipc::config::{AccountDecl, DomainsDecl};
use ipc::store::StoreErrorKind;
use store::Store;

#[test]
fn reopen_keeps_data_and_does_not_migrate_again() {
    let dir = common::tempdir();
    {
        let s = common::open(dir.path());
        s.domain_add("Example.ORG").unwrap();
        s.account_add("mox", "mox@example.org").unwrap();
    }
    let system = dir.path().join("system.db");
    let index = dir.path().join("accounts/mox/index.db");
    let (v_sys, v_acc) = (common::user_version(&system), common::user_version(&index));
    // Every step applied (system.db has at least 3, index.db at least 2).
    assert!(v_sys >= 3 && v_acc >= 2, "{v_sys} {v_acc}");
    for _ in 0..2 {
        let s = common::open(dir.path());
        assert_eq!(s.domain_list().unwrap(), ["example.org"]);
        let accounts = s.account_list().unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].addresses, ["mox@example.org"]);
        assert_eq!(
            s.mailboxes("mox").unwrap().len(),
            6,
            "default mailboxes not created twice"
        );
    }
    assert_eq!(common::user_version(&system), v_sys);
    assert_eq!(common::user_version(&index), v_acc);
    for sub in ["accounts", "queue/msg", "tmp"] {
        assert!(dir.path().join(sub).is_dir(), "{sub}");
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("accounts/mox"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
}

#[test]
fn one_store_per_data_directory() {
    let dir = common::tempdir();
    let first = common::open(dir.path());
    let err = Store::open(dir.path()).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Temporary);
    assert!(err.message.contains("in use"), "{err}");
    drop(first);
    common::open(dir.path());
}

#[test]
fn newer_schema_is_refused() {
    let dir = common::tempdir();
    drop(common::open(dir.path()));
    let conn = rusqlite::Connection::open(dir.path().join("system.db")).unwrap();
    conn.pragma_update(None, "user_version", 7).unwrap();
    drop(conn);
    let err = Store::open(dir.path()).unwrap_err();
    assert_eq!(err.kind, StoreErrorKind::Invalid);
    assert!(err.message.contains("version 7"), "{err}");
}

#[test]
fn domains_crud_and_validation() {
    let dir = common::tempdir();
    let s = common::open(dir.path());
    s.domain_add("b.example").unwrap();
    s.domain_add("A.example").unwrap();
    assert_eq!(
        s.domain_add("a.EXAMPLE").unwrap_err().kind,
        StoreErrorKind::Exists
    );
    for bad in ["", "a..b", "a b", "-x.example", "x/y", "x\n.example"] {
        assert_eq!(
            s.domain_add(bad).unwrap_err().kind,
            StoreErrorKind::Invalid,
            "{bad:?}"
        );
    }
    assert_eq!(s.domain_list().unwrap(), ["a.example", "b.example"]);
    s.account_add("acc", "x@a.example").unwrap();
    assert_eq!(
        s.domain_del("a.example").unwrap_err().kind,
        StoreErrorKind::Invalid,
        "still used"
    );
    s.domain_del("B.example").unwrap();
    assert_eq!(
        s.domain_del("b.example").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(s.domain_list().unwrap(), ["a.example"]);
}

#[test]
fn account_names_cannot_escape_the_accounts_directory() {
    let dir = common::tempdir();
    let s = common::open(dir.path());
    s.domain_add("example.org").unwrap();
    for bad in [
        "..",
        ".",
        "../evil",
        "a/b",
        "/abs",
        "",
        "a\0b",
        "sp ace",
        &"x".repeat(65),
    ] {
        let err = s.account_add(bad, "u@example.org").unwrap_err();
        assert_eq!(err.kind, StoreErrorKind::Invalid, "{bad:?}");
        assert_eq!(
            s.mailboxes(bad).unwrap_err().kind,
            StoreErrorKind::Invalid,
            "{bad:?}"
        );
        assert_eq!(
            s.account_del(bad).unwrap_err().kind,
            StoreErrorKind::Invalid,
            "{bad:?}"
        );
    }
    assert!(!dir.path().join("evil").exists());
    assert!(common::entries(&dir.path().join("accounts")).is_empty());
    assert!(s.account_list().unwrap().is_empty());
    assert_eq!(
        common::entries(dir.path()),
        [
            "accounts",
            "queue",
            "store.lock",
            "system.db",
            "system.db-shm",
            "system.db-wal",
            "tmp"
        ]
    );
}

#[test]
fn accounts_and_addresses_crud() {
    let dir = common::tempdir();
    let s = common::open(dir.path());
    assert_eq!(
        s.account_add("mox", "mox@example.org").unwrap_err().kind,
        StoreErrorKind::NotFound,
        "no domain"
    );
    assert!(!dir.path().join("accounts/mox").exists());
    assert!(s.account_list().unwrap().is_empty());

    s.domain_add("example.org").unwrap();
    s.account_add("mox", "Mox@Example.org").unwrap();
    assert_eq!(
        s.account_add("mox", "other@example.org").unwrap_err().kind,
        StoreErrorKind::Exists
    );
    assert_eq!(
        s.account_add("second", "MOX@example.org").unwrap_err().kind,
        StoreErrorKind::Exists
    );
    assert!(
        !dir.path().join("accounts/second").exists(),
        "failed creation leaves no directory"
    );
    s.account_add("second", "second@example.org").unwrap();
    s.address_add("alias@example.org", "mox").unwrap();
    assert_eq!(
        s.address_add("ALIAS@example.org", "second")
            .unwrap_err()
            .kind,
        StoreErrorKind::Exists
    );
    assert_eq!(
        s.address_add("x@nodomain.example", "mox").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(
        s.address_add("x@example.org", "nobody").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(
        s.address_add("bad address@example.org", "mox")
            .unwrap_err()
            .kind,
        StoreErrorKind::Invalid
    );

    let list = s.account_list().unwrap();
    let names: Vec<&str> = list.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["mox", "second"]);
    assert_eq!(list[0].addresses, ["alias@example.org", "Mox@example.org"]);
    assert_eq!((list[0].messages, list[0].size), (0, 0));

    s.address_del("Alias@EXAMPLE.org").unwrap();
    assert_eq!(
        s.address_del("alias@example.org").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(s.resolve_recipient("alias@example.org").unwrap(), None);

    s.set_password("second", "pw-second").unwrap();
    assert!(dir.path().join("accounts/second/index.db").exists());
    s.account_del("second").unwrap();
    assert!(!dir.path().join("accounts/second").exists());
    assert_eq!(s.resolve_recipient("second@example.org").unwrap(), None);
    assert_eq!(s.verify_password("second", "pw-second").unwrap(), None);
    assert_eq!(
        s.mailboxes("second").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert_eq!(
        s.account_del("second").unwrap_err().kind,
        StoreErrorKind::NotFound
    );
    assert!(
        common::entries(&dir.path().join("tmp")).is_empty(),
        "deleted directory not left in tmp"
    );
    // The name can be used again, and starts empty.
    s.account_add("second", "second@example.org").unwrap();
    assert_eq!(s.mailboxes("second").unwrap().len(), 6);
}

#[test]
fn resolve_recipient_and_catchall() {
    let (_dir, s) = common::with_account();
    assert_eq!(
        s.resolve_recipient("mox@example.org").unwrap().as_deref(),
        Some("mox")
    );
    assert_eq!(
        s.resolve_recipient("MoX@EXAMPLE.ORG").unwrap().as_deref(),
        Some("mox")
    );
    assert_eq!(s.resolve_recipient("other@example.org").unwrap(), None);
    assert_eq!(
        s.resolve_recipient("mox@other.example").unwrap(),
        None,
        "domain must be configured"
    );
    assert_eq!(
        s.resolve_recipient("no-at-sign").unwrap_err().kind,
        StoreErrorKind::Invalid
    );

    s.set_catchall(Some("mox".into())).unwrap();
    assert_eq!(
        s.resolve_recipient("anyone@anywhere.example")
            .unwrap()
            .as_deref(),
        Some("mox")
    );
    assert_eq!(
        s.set_catchall(Some("../x".into())).unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    s.set_catchall(None).unwrap();
    assert_eq!(
        s.resolve_recipient("anyone@anywhere.example").unwrap(),
        None
    );
}

#[test]
fn apply_declared_adds_and_never_deletes() {
    let (_dir, s) = common::with_account();
    s.domain_add("keep.example").unwrap();
    s.address_add("taken@example.org", "mox").unwrap();
    let decl = DomainsDecl {
        domains: vec!["example.org".into(), "New.Example".into()],
        accounts: vec![
            AccountDecl {
                name: "mox".into(),
                addresses: vec!["mox@example.org".into(), "more@new.example".into()],
            },
            AccountDecl {
                name: "fresh".into(),
                addresses: vec!["fresh@new.example".into(), "taken@example.org".into()],
            },
        ],
    };
    s.apply_declared(&decl).unwrap();
    s.apply_declared(&decl).unwrap();
    assert_eq!(
        s.domain_list().unwrap(),
        ["example.org", "keep.example", "new.example"]
    );
    assert_eq!(
        s.resolve_recipient("more@new.example").unwrap().as_deref(),
        Some("mox")
    );
    assert_eq!(
        s.resolve_recipient("fresh@new.example").unwrap().as_deref(),
        Some("fresh")
    );
    assert_eq!(
        s.resolve_recipient("taken@example.org").unwrap().as_deref(),
        Some("mox"),
        "not moved"
    );
    assert_eq!(s.mailboxes("fresh").unwrap().len(), 6);

    let bad = DomainsDecl {
        domains: vec!["ok.example".into()],
        accounts: vec![AccountDecl {
            name: "..".into(),
            addresses: vec![],
        }],
    };
    assert_eq!(
        s.apply_declared(&bad).unwrap_err().kind,
        StoreErrorKind::Invalid
    );
    assert!(
        !s.domain_list().unwrap().contains(&"ok.example".to_string()),
        "nothing applied when invalid"
    );
}
