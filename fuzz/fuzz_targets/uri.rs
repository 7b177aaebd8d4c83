//! Fuzz the URI parser and its accessors.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(u) = proto::Uri::parse(data) else {
        return;
    };
    assert_eq!(u.raw, data);
    let _ = (u.is_sip(), u.is_loose_router(), u.transport(), u.maddr(), u.host.ip());
    for (name, value) in u.params() {
        let _ = (name, value, u.param(name));
    }
    if let Some(user) = u.user {
        let mut out = Vec::new();
        proto::uri::unescape(user, &mut out);
        assert!(out.len() <= user.len());
    }
});
