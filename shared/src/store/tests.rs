//! Unit tests of every table operation, each on its own temporary store.

use lmdb::{Transaction, WriteFlags};
use serde::Serialize;

use super::*;

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store"), 16).unwrap();
    (dir, store)
}

fn binding(aor: &str, contact: &str, expires_at: u64) -> Binding {
    Binding {
        aor: aor.into(),
        contact: contact.into(),
        expires_at,
        q: 1000,
        call_id: format!("cid-{contact}"),
        cseq: 7,
        received: Some("192.0.2.1:5060".into()),
        transport: "udp".into(),
        worker: 3,
        path: vec!["<sip:edge1;lr>".into()],
        user_agent: "test/1".into(),
        flags: 0b101,
    }
}

#[test]
fn errors_cross_threads() {
    // A `Store` itself stays on the thread that opened it (each process is single-threaded,
    // and a group commit holds LMDB's thread-bound write transaction); its errors travel.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<StoreError>();
}

#[test]
fn group_commit_is_one_transaction() {
    let (_d, s) = open();
    s.begin_batch();
    assert_eq!(s.write(|w| w.incr(b"a", 1)).unwrap(), 1);
    assert_eq!(
        s.write(|w| w.incr(b"a", 2)).unwrap(),
        3,
        "later writes see earlier ones"
    );
    s.write(|w| w.put_binding(&binding("sip:g@x", "sip:g@1.2.3.4", 100)))
        .unwrap();
    // Readers see nothing until the group commits.
    assert_eq!(s.get_counter(b"a").unwrap(), 0);
    assert!(s.bindings("sip:g@x").unwrap().is_empty());
    assert_eq!(s.end_batch().unwrap(), 3);
    assert_eq!(s.get_counter(b"a").unwrap(), 3);
    assert_eq!(s.bindings("sip:g@x").unwrap().len(), 1);
    // Outside a group, each write commits on its own again.
    s.incr(b"a", 1).unwrap();
    assert_eq!(s.get_counter(b"a").unwrap(), 4);
}

#[test]
fn group_without_writes_takes_no_lock() {
    let (_d, s) = open();
    s.begin_batch();
    assert_eq!(s.get_counter(b"x").unwrap(), 0);
    assert_eq!(s.end_batch().unwrap(), 0);
    assert_eq!(s.end_batch().unwrap(), 0, "ending twice is harmless");
}

#[test]
fn failed_write_rolls_back_the_whole_group() {
    let (_d, s) = open();
    s.begin_batch();
    s.write(|w| w.incr(b"kept?", 5)).unwrap();
    let failed = s.write(|w| {
        w.incr(b"half", 1)?;
        w.incr(b"", 1) // empty key: invalid
    });
    assert!(
        matches!(failed, Err(StoreError::InvalidKey { .. })),
        "{failed:?}"
    );
    let after = s.write(|w| w.incr(b"later", 1));
    assert!(
        matches!(after, Err(StoreError::BatchAborted { .. })),
        "{after:?}"
    );
    assert!(matches!(
        s.end_batch(),
        Err(StoreError::BatchAborted { .. })
    ));
    for k in [&b"kept?"[..], b"half", b"later"] {
        assert_eq!(s.get_counter(k).unwrap(), 0, "{k:?} was rolled back");
    }
    // The next group starts clean.
    s.begin_batch();
    s.write(|w| w.incr(b"kept?", 1)).unwrap();
    assert_eq!(s.end_batch().unwrap(), 1);
    assert_eq!(s.get_counter(b"kept?").unwrap(), 1);
}

#[test]
fn nested_write_inside_a_group_is_an_error() {
    let (_d, s) = open();
    s.begin_batch();
    let r = s.write(|_| s.incr(b"n", 1));
    assert!(matches!(r, Err(StoreError::NestedWrite { .. })), "{r:?}");
    let _ = s.end_batch();
}

#[test]
fn dropping_a_store_with_an_open_group_aborts_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    {
        let s = Store::open(&path, 16).unwrap();
        s.begin_batch();
        s.write(|w| w.incr(b"lost", 1)).unwrap();
    }
    let s = Store::open(&path, 16).unwrap();
    assert_eq!(s.get_counter(b"lost").unwrap(), 0);
    // The writer lock was released: a new write goes through.
    assert_eq!(s.incr(b"lost", 2).unwrap(), 2);
}

#[test]
fn open_creates_directory_and_data_persists() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a/b/store");
    {
        let s = Store::open(&path, 16).unwrap();
        assert_eq!(s.path(), path.as_path());
        s.incr(b"x", 5).unwrap();
        s.sync().unwrap();
    }
    assert!(path.join("data.mdb").exists());
    let s = Store::open(&path, 16).unwrap();
    assert_eq!(s.get_counter(b"x").unwrap(), 5);
}

#[test]
fn open_rejects_bad_options() {
    let dir = tempfile::tempdir().unwrap();
    let e = Store::open(dir.path(), 0).unwrap_err();
    assert!(e.to_string().contains("map_size_mb = 0"), "{e}");
    let opts = StoreOptions {
        max_readers: 0,
        ..StoreOptions::default()
    };
    assert!(Store::open_with(dir.path(), &opts).is_err());
    // A file where the directory should be.
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let e = Store::open(&file.join("store"), 16).unwrap_err();
    assert!(matches!(e, StoreError::CreateDir { .. }));
    assert!(
        e.to_string()
            .starts_with(&format!("store {}", file.display())),
        "{e}"
    );
}

#[test]
fn bindings_put_get_replace_delete() {
    let (_d, s) = open();
    s.put_binding(&binding("sip:a@x", "sip:a@1.1.1.1", 100))
        .unwrap();
    s.put_binding(&binding("sip:a@x", "sip:a@2.2.2.2", 200))
        .unwrap();
    // Same text prefix, different AOR: must not show up in sip:a@x's scan.
    s.put_binding(&binding("sip:a@x.com", "sip:a@3.3.3.3", 300))
        .unwrap();
    s.put_binding(&binding("sip:a", "sip:a@4.4.4.4", 300))
        .unwrap();

    let got = s.bindings("sip:a@x").unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0], binding("sip:a@x", "sip:a@1.1.1.1", 100));
    assert_eq!(got[1].contact, "sip:a@2.2.2.2");
    assert_eq!(s.bindings("sip:nobody@x").unwrap(), vec![]);
    assert_eq!(s.count_bindings().unwrap(), 4);

    // Replace.
    let mut b = binding("sip:a@x", "sip:a@1.1.1.1", 999);
    b.received = None;
    s.put_binding(&b).unwrap();
    assert_eq!(s.binding("sip:a@x", "sip:a@1.1.1.1").unwrap(), Some(b));
    assert_eq!(s.count_bindings().unwrap(), 4);

    assert!(s.delete_binding("sip:a@x", "sip:a@1.1.1.1").unwrap());
    assert!(!s.delete_binding("sip:a@x", "sip:a@1.1.1.1").unwrap());
    assert_eq!(s.binding("sip:a@x", "sip:a@1.1.1.1").unwrap(), None);
    assert_eq!(s.count_bindings().unwrap(), 3);

    assert_eq!(s.delete_aor("sip:a@x.com").unwrap(), 1);
    assert_eq!(s.delete_aor("sip:a@x.com").unwrap(), 0);
    assert_eq!(s.bindings("sip:a@x").unwrap().len(), 1);
    assert_eq!(s.count_bindings().unwrap(), 2);
}

#[test]
fn bindings_expire_and_list_all() {
    let (_d, s) = open();
    s.write(|w| {
        for i in 0..10u64 {
            w.put_binding(&binding(
                &format!("sip:u{}@x", i % 3),
                &format!("sip:c{i}"),
                i,
            ))?;
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(s.all_bindings(4).unwrap().len(), 4);
    assert_eq!(s.all_bindings(0).unwrap().len(), 0);
    assert_eq!(s.all_bindings(usize::MAX).unwrap().len(), 10);
    // expires_at <= 4 goes: 0..=4.
    assert_eq!(s.expire_bindings(4).unwrap(), 5);
    assert_eq!(s.count_bindings().unwrap(), 5);
    assert!(s
        .all_bindings(100)
        .unwrap()
        .iter()
        .all(|b| b.expires_at > 4));
    assert_eq!(s.expire_bindings(4).unwrap(), 0);
    assert_eq!(s.expire_bindings(u64::MAX).unwrap(), 5);
    assert_eq!(s.count_bindings().unwrap(), 0);
}

#[test]
fn invalid_keys_are_errors_not_panics() {
    let (_d, s) = open();
    let e = s.put_binding(&binding("sip:a\0b", "c", 1)).unwrap_err();
    assert!(matches!(e, StoreError::InvalidKey { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("registrations: invalid key \"sip:a\\\\0b\""),
        "{e}"
    );
    assert!(s.put_binding(&binding("", "c", 1)).is_err());
    assert!(s.put_binding(&binding("a", "", 1)).is_err());
    assert!(s.bindings("").is_err());
    let long = "x".repeat(600);
    assert!(s.put_binding(&binding("a", &long, 1)).is_err());
    assert!(s.incr(b"", 1).is_err());
    assert!(s.incr(long.as_bytes(), 1).is_err());
    assert!(s.get_ban("").is_err());
    assert!(s.profile_add("p\0", "v", 1).is_err());
    assert!(s.set_dest_state("", "u", &DestState::default()).is_err());
    // A contact may hold a NUL: only the first component is separated by it.
    s.put_binding(&binding("a", "c\0d", 1)).unwrap();
    assert_eq!(s.bindings("a").unwrap()[0].contact, "c\0d");
    // The largest key that fits.
    let contact = "y".repeat(MAX_KEY_FOR_TEST - 2);
    s.put_binding(&binding("a", &contact, 1)).unwrap();
    assert_eq!(s.count_bindings().unwrap(), 2);
}

const MAX_KEY_FOR_TEST: usize = 511;

#[test]
fn subscribers_put_get_delete_list() {
    let (_d, s) = open();
    let alice = Subscriber {
        user: "alice".into(),
        domain: "example.com".into(),
        ha1_md5: "0123".into(),
        ha1_sha256: "4567".into(),
        password: None,
        disabled: false,
    };
    let bob = Subscriber {
        user: "bob".into(),
        domain: "example.com".into(),
        password: Some("pw".into()),
        disabled: true,
        ..Subscriber::default()
    };
    s.put_subscriber(&alice).unwrap();
    s.put_subscriber(&bob).unwrap();
    assert_eq!(
        s.get_subscriber("alice", "example.com").unwrap(),
        Some(alice.clone())
    );
    assert_eq!(s.get_subscriber("alice", "example.org").unwrap(), None);
    assert_eq!(
        s.list_subscribers(10).unwrap(),
        vec![alice.clone(), bob.clone()]
    );
    assert_eq!(s.list_subscribers(1).unwrap(), vec![alice]);
    assert!(s.delete_subscriber("alice", "example.com").unwrap());
    assert!(!s.delete_subscriber("alice", "example.com").unwrap());
    assert_eq!(s.list_subscribers(10).unwrap(), vec![bob]);
    // `user@domain` must stay unambiguous.
    let bad = Subscriber {
        user: "a".into(),
        domain: "b@c".into(),
        ..Subscriber::default()
    };
    assert!(s.put_subscriber(&bad).is_err());
    assert!(s.get_subscriber("", "x").is_err());
}

#[test]
fn digest_secret_reads_one_ha1_alone_and_inside_a_group() {
    let (_d, s) = open();
    let sha = "ab".repeat(32);
    s.put_subscriber(&Subscriber {
        user: "alice".into(),
        domain: "example.com".into(),
        ha1_md5: "0123".into(),
        ha1_sha256: sha.clone(),
        password: None,
        disabled: false,
    })
    .unwrap();
    s.put_subscriber(&Subscriber {
        user: "bob".into(),
        domain: "example.com".into(),
        password: Some("pw".into()),
        disabled: true,
        ..Subscriber::default()
    })
    .unwrap();
    let md5 = s
        .digest_secret("alice", "example.com", Ha1Kind::Md5)
        .unwrap()
        .unwrap();
    assert_eq!(
        (md5.ha1(), md5.password.as_deref(), md5.disabled),
        (&b"0123"[..], None, false)
    );
    let sha256 = s
        .digest_secret("alice", "example.com", Ha1Kind::Sha256)
        .unwrap()
        .unwrap();
    assert_eq!(sha256.ha1(), sha.as_bytes());
    let bob = s
        .digest_secret("bob", "example.com", Ha1Kind::Md5)
        .unwrap()
        .unwrap();
    assert_eq!(
        (bob.ha1(), bob.password.as_deref(), bob.disabled),
        (&b""[..], Some("pw"), true)
    );
    assert_eq!(
        s.digest_secret("alice", "example.org", Ha1Kind::Md5)
            .unwrap(),
        None
    );
    assert!(s.digest_secret("", "x", Ha1Kind::Md5).is_err());
    assert!(s.digest_secret("a", "b@c", Ha1Kind::Md5).is_err());
    assert!(s
        .digest_secret(&"u".repeat(600), "x", Ha1Kind::Md5)
        .is_err());
    // Inside a group that already wrote, the read joins the group's transaction and sees
    // its uncommitted writes.
    s.begin_batch();
    s.write(|w| {
        w.put_subscriber(&Subscriber {
            user: "carol".into(),
            domain: "example.com".into(),
            ha1_md5: "89ab".into(),
            ..Subscriber::default()
        })
    })
    .unwrap();
    let carol = s
        .digest_secret("carol", "example.com", Ha1Kind::Md5)
        .unwrap()
        .unwrap();
    assert_eq!(carol.ha1(), b"89ab");
    assert!(s
        .digest_secret("alice", "example.com", Ha1Kind::Md5)
        .unwrap()
        .is_some());
    assert_eq!(s.end_batch().unwrap(), 1);
    // A stored HA1 longer than any digest is a decode error, not a truncated secret.
    s.put_subscriber(&Subscriber {
        user: "dave".into(),
        domain: "example.com".into(),
        ha1_md5: "f".repeat(65),
        ..Subscriber::default()
    })
    .unwrap();
    assert!(s
        .digest_secret("dave", "example.com", Ha1Kind::Md5)
        .is_err());
}

#[test]
fn counters_incr_get_reset() {
    let (_d, s) = open();
    assert_eq!(s.get_counter(b"c").unwrap(), 0);
    assert_eq!(s.incr(b"c", 1).unwrap(), 1);
    assert_eq!(s.incr(b"c", 41).unwrap(), 42);
    assert_eq!(s.get_counter(b"c").unwrap(), 42);
    assert_eq!(s.incr(b"c", u64::MAX).unwrap(), u64::MAX);
    assert_eq!(s.reset_counter(b"c").unwrap(), u64::MAX);
    assert_eq!(s.reset_counter(b"c").unwrap(), 0);
    assert_eq!(s.get_counter(b"c").unwrap(), 0);
    // Binary keys are fine.
    assert_eq!(s.incr(&[0, 1, 2, 255], 3).unwrap(), 3);
    assert_eq!(s.get_counter(&[0, 1, 2, 255]).unwrap(), 3);
    // The value is 8 little-endian bytes.
    let txn = s.env().unwrap().begin_ro_txn().unwrap();
    let raw = txn.get(s.tables.counters, &[0u8, 1, 2, 255]).unwrap();
    assert_eq!(raw, 3u64.to_le_bytes());
}

#[test]
fn windowed_counters() {
    let (_d, s) = open();
    assert_eq!(s.get_window(b"w").unwrap(), None);
    assert_eq!(s.incr_window(b"w", 100, 1).unwrap(), 1);
    assert_eq!(s.incr_window(b"w", 100, 2).unwrap(), 3);
    assert_eq!(s.get_window(b"w").unwrap(), Some((100, 3)));
    // A new window restarts the count.
    assert_eq!(s.incr_window(b"w", 110, 1).unwrap(), 1);
    // A late caller with the previous window counts in the current one.
    assert_eq!(s.incr_window(b"w", 100, 1).unwrap(), 2);
    assert_eq!(s.get_window(b"w").unwrap(), Some((110, 2)));
    // Delta 0 reads: the current window's count, 0 for an older or missing window, and
    // nothing is written (a check must not create records).
    assert_eq!(s.incr_window(b"w", 110, 0).unwrap(), 2);
    assert_eq!(s.incr_window(b"w", 120, 0).unwrap(), 0);
    assert_eq!(s.get_window(b"w").unwrap(), Some((110, 2)));
    assert_eq!(s.incr_window(b"unseen", 110, 0).unwrap(), 0);
    assert_eq!(s.get_window(b"unseen").unwrap(), None);
    // Plain and windowed values do not mix silently.
    let e = s.get_counter(b"w").unwrap_err();
    assert!(matches!(e, StoreError::Decode { .. }), "{e}");
    assert!(s.incr(b"w", 1).is_err());
    s.incr(b"plain", 1).unwrap();
    assert!(s.get_window(b"plain").is_err());
    assert_eq!(s.reset_counter(b"w").unwrap(), 0);
    assert_eq!(s.get_window(b"w").unwrap(), None);
}

#[test]
fn bans() {
    let (_d, s) = open();
    let ban = Ban {
        ip: "198.51.100.7".into(),
        until: 1000,
        reason: "flood".into(),
        created: 900,
        hits: 0,
    };
    s.ban(&ban).unwrap();
    s.ban(&Ban {
        ip: "2001:db8::1".into(),
        until: u64::MAX,
        reason: "permanent".into(),
        ..Ban::default()
    })
    .unwrap();
    assert_eq!(s.get_ban("198.51.100.7").unwrap(), Some(ban.clone()));
    assert!(s.is_banned("198.51.100.7", 999).unwrap());
    assert!(!s.is_banned("198.51.100.7", 1000).unwrap());
    assert!(!s.is_banned("203.0.113.1", 0).unwrap());
    assert!(s.is_banned("2001:db8::1", u64::MAX - 1).unwrap());
    assert_eq!(s.list_bans(10).unwrap().len(), 2);
    assert_eq!(s.list_bans(1).unwrap().len(), 1);

    // Count a hit in a batch: read-modify-write in one transaction.
    s.write(|w| {
        let mut b = w.get_ban("198.51.100.7")?.unwrap_or_default();
        b.hits += 1;
        w.ban(&b)
    })
    .unwrap();
    assert_eq!(s.get_ban("198.51.100.7").unwrap().unwrap().hits, 1);

    assert_eq!(s.expire_bans(999).unwrap(), 0);
    assert_eq!(s.expire_bans(1000).unwrap(), 1);
    assert_eq!(s.get_ban("198.51.100.7").unwrap(), None);
    assert!(s.unban("2001:db8::1").unwrap());
    assert!(!s.unban("2001:db8::1").unwrap());
    assert_eq!(s.list_bans(10).unwrap(), vec![]);
}

#[test]
fn profiles_never_go_below_zero() {
    let (_d, s) = open();
    assert_eq!(s.profile_count("calls", "alice").unwrap(), 0);
    assert_eq!(s.profile_add("calls", "alice", 1).unwrap(), 1);
    assert_eq!(s.profile_add("calls", "alice", 2).unwrap(), 3);
    assert_eq!(s.profile_add("calls", "bob", 1).unwrap(), 1);
    assert_eq!(s.profile_add("calls2", "alice", 5).unwrap(), 5);
    assert_eq!(
        s.profile_values("calls").unwrap(),
        vec![("alice".to_string(), 3), ("bob".to_string(), 1)]
    );
    assert_eq!(s.profile_add("calls", "alice", -5).unwrap(), 0);
    assert_eq!(s.profile_count("calls", "alice").unwrap(), 0);
    // A count of 0 is not stored.
    assert_eq!(
        s.profile_values("calls").unwrap(),
        vec![("bob".to_string(), 1)]
    );
    assert_eq!(s.profile_add("calls", "bob", -1).unwrap(), 0);
    assert_eq!(s.profile_add("calls", "bob", -1).unwrap(), 0);
    assert_eq!(s.stat().unwrap().profiles, 1);
}

#[test]
fn dispatcher_states() {
    let (_d, s) = open();
    let a = DestState {
        state: DestStatus::Active,
        since: 10,
        fails: 0,
        last_code: 200,
    };
    let b = DestState {
        state: DestStatus::Inactive,
        since: 20,
        fails: 3,
        last_code: 0,
    };
    let c = DestState {
        state: DestStatus::Probing,
        since: 30,
        fails: 1,
        last_code: 503,
    };
    s.set_dest_state("1", "sip:b.example.com", &b).unwrap();
    s.set_dest_state("1", "sip:a.example.com", &a).unwrap();
    s.set_dest_state("10", "sip:c.example.com", &c).unwrap();
    assert_eq!(
        s.dest_states("1").unwrap(),
        vec![
            ("sip:a.example.com".to_string(), a),
            ("sip:b.example.com".to_string(), b)
        ]
    );
    assert_eq!(s.dest_state("10", "sip:c.example.com").unwrap(), Some(c));
    assert_eq!(s.dest_state("1", "sip:c.example.com").unwrap(), None);
    assert!(s.delete_dest("1", "sip:a.example.com").unwrap());
    assert!(!s.delete_dest("1", "sip:a.example.com").unwrap());
    assert_eq!(s.dest_states("1").unwrap().len(), 1);
}

#[test]
fn write_batch_commits_on_ok_and_aborts_on_err() {
    let (_d, s) = open();
    let n = s
        .write(|w| {
            w.incr(b"a", 1)?;
            w.incr(b"a", 1)?;
            w.put_binding(&binding("sip:x@y", "sip:c", 5))?;
            // Reads inside the batch see its own writes.
            assert_eq!(w.get_counter(b"a")?, 2);
            assert_eq!(w.count_bindings()?, 1);
            w.profile_add("p", "v", 1)
        })
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(s.get_counter(b"a").unwrap(), 2);

    let e = s
        .write(|w| {
            w.incr(b"a", 100)?;
            w.delete_aor("sip:x@y")?;
            w.incr(b"", 1) // invalid key: aborts everything above
        })
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidKey { .. }));
    assert_eq!(s.get_counter(b"a").unwrap(), 2);
    assert_eq!(s.count_bindings().unwrap(), 1);

    // A read transaction sees a snapshot.
    s.read(|r| {
        s.incr(b"a", 1)?;
        assert_eq!(r.get_counter(b"a")?, 2);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.get_counter(b"a").unwrap(), 3);
}

#[test]
fn nested_write_is_an_error_not_a_deadlock() {
    let (_d, s) = open();
    let e = s.write(|_| s.incr(b"a", 1)).unwrap_err();
    assert!(matches!(e, StoreError::NestedWrite { .. }), "{e}");
    // The guard was released.
    assert_eq!(s.incr(b"a", 1).unwrap(), 1);
    // Reads inside a write are fine (MDB_NOTLS).
    s.write(|w| {
        w.incr(b"a", 1)?;
        assert_eq!(s.get_counter(b"a")?, 1);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.get_counter(b"a").unwrap(), 2);
}

#[test]
fn map_full_is_reported_and_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), 1).unwrap();
    let big = "z".repeat(4000);
    let mut result = Ok(());
    for i in 0..1000 {
        result = s.put_binding(&Binding {
            user_agent: big.clone(),
            ..binding("sip:big@x", &format!("c{i}"), 1)
        });
        if result.is_err() {
            break;
        }
    }
    let e = result.unwrap_err();
    assert!(e.is_map_full(), "{e}");
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("store {}: ", dir.path().display())),
        "{msg}"
    );
    assert!(msg.contains("map full (map_size_mb = 1)"), "{msg}");
    // The failed transaction was aborted; freeing space makes writes work again.
    assert!(s.delete_aor("sip:big@x").unwrap() > 0);
    s.incr(b"after", 1).unwrap();
}

#[test]
fn stat_reports_counts_and_map() {
    let (_d, s) = open();
    s.write(|w| {
        w.put_binding(&binding("a", "b", 1))?;
        w.put_binding(&binding("a", "c", 1))?;
        w.put_subscriber(&Subscriber {
            user: "u".into(),
            domain: "d".into(),
            ..Subscriber::default()
        })?;
        w.incr(b"k", 1)?;
        w.incr_window(b"w", 1, 1)?;
        w.ban(&Ban {
            ip: "192.0.2.9".into(),
            until: 5,
            ..Ban::default()
        })?;
        w.profile_add("p", "v", 1)?;
        w.set_dest_state("s", "u", &DestState::default())
    })
    .unwrap();
    let st = s.stat().unwrap();
    assert_eq!(
        (
            st.registrations,
            st.subscribers,
            st.counters,
            st.bans,
            st.profiles,
            st.dispatcher
        ),
        (2, 1, 2, 1, 1, 1)
    );
    assert_eq!(st.map_size, 16 * 1024 * 1024);
    assert!(st.page_size >= 4096);
    assert!(st.used_pages > 0 && st.used_bytes() < st.map_size);
    assert_eq!(st.max_readers, 1024);
}

#[test]
fn reader_check_with_no_dead_readers() {
    let (_d, s) = open();
    assert_eq!(s.reader_check().unwrap(), 0);
}

#[test]
fn use_from_another_process_is_refused() {
    let (_d, mut s) = open();
    let real = s.pid;
    s.pid = real.wrapping_add(1);
    let e = s.incr(b"a", 1).unwrap_err();
    assert!(matches!(e, StoreError::WrongProcess { .. }), "{e}");
    assert!(e.to_string().contains("open the store after fork"), "{e}");
    assert!(s.reader_check().is_err());
    s.pid = real;
    assert_eq!(s.incr(b"a", 1).unwrap(), 1);
}

#[test]
fn records_evolve_added_and_removed_fields() {
    // An "old" record lacking most fields and carrying one this version does not know.
    #[derive(Serialize)]
    struct OldBinding<'a> {
        aor: &'a str,
        contact: &'a str,
        expires_at: u64,
        retired_field: &'a str,
    }
    let (_d, s) = open();
    let old = rmp_serde::to_vec_named(&OldBinding {
        aor: "sip:o@x",
        contact: "sip:c",
        expires_at: 9,
        retired_field: "gone",
    })
    .unwrap();
    let env = s.env().unwrap();
    let mut txn = env.begin_rw_txn().unwrap();
    txn.put(
        s.tables.registrations,
        &b"sip:o@x\0sip:c",
        &old,
        WriteFlags::empty(),
    )
    .unwrap();
    txn.commit().unwrap();
    let got = s.bindings("sip:o@x").unwrap();
    assert_eq!(
        got,
        vec![Binding {
            aor: "sip:o@x".into(),
            contact: "sip:c".into(),
            expires_at: 9,
            ..Binding::default()
        }]
    );
    assert_eq!(s.expire_bindings(9).unwrap(), 1);
}

#[test]
fn corrupt_values_are_decode_errors() {
    let (_d, s) = open();
    let env = s.env().unwrap();
    let mut txn = env.begin_rw_txn().unwrap();
    txn.put(s.tables.bans, &b"192.0.2.1", &[0xc1u8], WriteFlags::empty())
        .unwrap();
    txn.commit().unwrap();
    let e = s.get_ban("192.0.2.1").unwrap_err();
    assert!(matches!(e, StoreError::Decode { .. }), "{e}");
    assert!(
        e.to_string().contains("decode bans key \"192.0.2.1\""),
        "{e}"
    );
    assert!(s.is_banned("192.0.2.1", 0).is_err());
    assert!(s.expire_bans(0).is_err());
    assert!(s.unban("192.0.2.1").unwrap());
}

#[test]
fn counters_can_be_expired_by_prefix_and_value() {
    let (_d, s) = open();
    s.incr(b"nc/0001", 3).unwrap();
    s.incr(b"nc/0002", 4).unwrap();
    s.incr(b"other", 5).unwrap();
    s.write(|w| w.incr_window(b"flood/1.2.3.4", 100, 7))
        .unwrap();
    s.write(|w| w.incr_window(b"flood/5.6.7.8", 900, 7))
        .unwrap();
    let slice = |prefix: &'static [u8], from: &[u8], limit: usize, below: u64| {
        s.write(|w| {
            w.delete_counters_slice(prefix, from, limit, |_, v| {
                v.get(..8)
                    .and_then(|b| <[u8; 8]>::try_from(b).ok())
                    .is_none_or(|b| u64::from_le_bytes(b) < below)
            })
        })
        .unwrap()
    };
    // nc/ values are plain counts (3 and 4): a whole pass in slices of 1 resumes where the
    // previous stopped and ends with None; only the prefix is touched ("other" is 5).
    assert_eq!(slice(b"nc/", b"", 1, 4), (1, Some(b"nc/0002".to_vec())));
    assert_eq!(slice(b"nc/", b"nc/0002", 1, 4), (0, None));
    // Windows: the one that started at 100 goes, the one at 900 stays.
    let n = slice(b"flood/", b"", 10, 500).0;
    assert_eq!(n, 1);
    assert_eq!(s.get_counter(b"nc/0001").unwrap(), 0);
    assert_eq!(s.get_counter(b"nc/0002").unwrap(), 4);
    assert_eq!(s.get_counter(b"other").unwrap(), 5);
    assert_eq!(
        s.read(|r| r.get_window(b"flood/5.6.7.8")).unwrap(),
        Some((900, 7))
    );
    assert_eq!(s.read(|r| r.get_window(b"flood/1.2.3.4")).unwrap(), None);
}

#[test]
fn expiry_sweep_in_slices() {
    let (_d, s) = open();
    // Ten bindings over ten AORs; the odd ones expired at time 10.
    for i in 0..10u64 {
        let at = if i % 2 == 1 { 5 } else { 100 };
        s.put_binding(&binding(
            &format!("sip:u{i}@example.com"),
            "sip:c@192.0.2.9",
            at,
        ))
        .unwrap();
    }
    // Slices of three: 3 + 3 + 3 + 1 bindings, the last slice reports the end.
    let mut from = Vec::new();
    let mut deleted = Vec::new();
    let mut slices = 0;
    loop {
        let (n, next) = s.expire_bindings_slice(&from, 3, 10).unwrap();
        deleted.push(n);
        slices += 1;
        match next {
            Some(k) => from = k,
            None => break,
        }
        assert!(slices < 10, "the sweep does not end");
    }
    assert_eq!(slices, 4);
    assert_eq!(deleted.iter().sum::<usize>(), 5);
    assert_eq!(s.count_bindings().unwrap(), 5);
    for i in 0..10u64 {
        let live = s.bindings(&format!("sip:u{i}@example.com")).unwrap();
        assert_eq!(live.len(), usize::from(i % 2 == 0), "u{i}");
    }
    // A binding refreshed between the read and the delete survives.
    s.put_binding(&binding("sip:r@example.com", "sip:c@192.0.2.9", 5))
        .unwrap();
    let keys = s
        .read(|r| r.view().expired_bindings_slice(&[], 100, 10))
        .unwrap()
        .0;
    assert_eq!(keys.len(), 1);
    s.put_binding(&binding("sip:r@example.com", "sip:c@192.0.2.9", 50))
        .unwrap();
    assert_eq!(
        s.write(|w| w.delete_expired_bindings(&keys, 10)).unwrap(),
        0
    );
    assert_eq!(s.bindings("sip:r@example.com").unwrap().len(), 1);
}

#[test]
fn flagged_sweep_in_slices() {
    let (_d, s) = open();
    // Twelve AORs: flags 0b10 on even ones, 0 on odd ones; u4 and u8 expired by time 10.
    for i in 0..12u64 {
        let mut b = binding(&format!("sip:u{i:02}@example.com"), "sip:c@192.0.2.9", 100);
        b.flags = if i % 2 == 0 { 0b10 } else { 0 };
        if i == 4 || i == 8 {
            b.expires_at = 5;
        }
        s.put_binding(&b).unwrap();
    }
    // Only the keys this "worker" owns: not u06.
    let mine = |k: &[u8]| !k.starts_with(b"sip:u06@");
    let mut from = Vec::new();
    let mut seen = Vec::new();
    let mut slices = 0;
    loop {
        let next = s
            .flagged_bindings_slice(&from, 5, 0b10, 10, mine, |b| {
                assert_eq!(b.flags & 0b10, 0b10);
                assert!(b.expires_at > 10);
                seen.push(b.aor.to_string());
            })
            .unwrap();
        slices += 1;
        match next {
            Some(k) => from = k,
            None => break,
        }
        assert!(slices < 10, "the sweep does not end");
    }
    // 12 bindings in slices of five: 5 + 5 + 2.
    assert_eq!(slices, 3);
    assert_eq!(
        seen,
        [
            "sip:u00@example.com",
            "sip:u02@example.com",
            "sip:u10@example.com"
        ]
    );
    // A flag the bindings do not carry matches nothing; a missing start key is no error.
    let mut none = 0;
    let next = s
        .flagged_bindings_slice(b"sip:zz", 100, 0b1000, 10, |_| true, |_| none += 1)
        .unwrap();
    assert_eq!((none, next), (0, None));
}

#[test]
fn expiry_slices_spread_a_pass() {
    assert_eq!(expiry_slice(0), 1_000);
    assert_eq!(expiry_slice(1_000), 1_000);
    // 80,000 bindings: a pass of 30 slices, not 4.
    assert_eq!(expiry_slice(80_000), 2_667);
    assert!(80_000usize.div_ceil(expiry_slice(80_000)) <= EXPIRY_PASS_SECS);
    assert_eq!(expiry_slice(1_000_000), EXPIRY_SLICE);
}
