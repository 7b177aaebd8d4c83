//! The registrar (RFC 3261 §10.3) and the location lookup, over the shared store: a REGISTER
//! handled by any worker updates the bindings every worker sees, in one LMDB write
//! transaction, so concurrent REGISTERs for one address-of-record cannot interleave.

use std::io::Write as _;
use std::net::SocketAddr;

use proto::headers::addr::{Contact, NameAddr};
use proto::{Message, Uri};
use shared::store::{Binding, BindingRef, Store, StoreError, MAX_KEY};

/// `Binding::flags`: the phone is behind a NAT (its Contact is not where it sent from).
pub const FLAG_NAT: u32 = 1;

/// What the registrar needs from the configuration.
#[derive(Debug, Clone)]
pub struct RegistrarConfig {
    /// Lower-case domains served.
    pub domains: Vec<Vec<u8>>,
    pub min_expires: u32,
    pub max_expires: u32,
    pub default_expires: u32,
    pub max_contacts: usize,
    /// Seconds between keep-alive OPTIONS to NATed bindings (0: none).
    pub keepalive_interval: u64,
    pub keepalive_tries: u32,
    /// Addresses no phone may register as its Contact (sipedge's own listeners, the trusted
    /// core and gateways): a REGISTER pointing there gets 476 (registration poisoning).
    pub protected: Vec<(std::net::IpAddr, u8)>,
    /// Exact addresses (listeners, dispatcher destinations) protected the same way.
    pub protected_addrs: Vec<SocketAddr>,
}

impl RegistrarConfig {
    pub fn from_config(r: &shared::config::Registrar) -> RegistrarConfig {
        RegistrarConfig {
            domains: r
                .domains
                .iter()
                .map(|d| d.to_ascii_lowercase().into_bytes())
                .collect(),
            min_expires: r.min_expires,
            max_expires: r.max_expires,
            default_expires: r.default_expires,
            max_contacts: r.max_contacts,
            keepalive_interval: r.nat_keepalive_interval,
            keepalive_tries: r.nat_keepalive_tries,
            protected: Vec::new(),
            protected_addrs: Vec::new(),
        }
    }

    fn serves(&self, host: &[u8]) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(host))
    }
}

/// The answer to a REGISTER: status, reason and extra header lines (each ending in CRLF).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegReply {
    pub status: u16,
    pub reason: &'static str,
    pub headers: Vec<u8>,
    /// For counters: `ok`, `removed`, `query`, or the rejection's short name.
    pub result: &'static str,
}

impl RegReply {
    fn reject(status: u16, reason: &'static str, result: &'static str) -> RegReply {
        RegReply {
            status,
            reason,
            headers: Vec::new(),
            result,
        }
    }
}

/// The address-of-record a URI names: `sip:user@host`, host in lower case, no port, no
/// parameters (RFC 3261 §10.3 step 5, simplified to what phones send).
pub fn aor_of(uri: &Uri<'_>) -> Option<String> {
    if !uri.is_sip() {
        return None;
    }
    let user = std::str::from_utf8(uri.user?).ok()?;
    let host = std::str::from_utf8(uri.host.text).ok()?;
    // Built in place: `format!` cost more than the rest of the function.
    let mut aor = String::with_capacity(5 + user.len() + host.len());
    aor.push_str("sip:");
    aor.push_str(user);
    aor.push('@');
    let at = aor.len();
    aor.push_str(host);
    if let Some(h) = aor.get_mut(at..) {
        h.make_ascii_lowercase();
    }
    Some(aor)
}

/// One Contact of the request, as it will be stored.
struct Wanted<'m> {
    contact: &'m str,
    /// The Contact's host and port (5060 when absent), when the host is an IP address.
    addr: Option<SocketAddr>,
    expires: u32,
    q: u16,
}

/// Handle a REGISTER that the routing table gave to the registrar.
pub fn register(
    cfg: &RegistrarConfig,
    store: &Store,
    msg: &Message<'_, '_>,
    src: SocketAddr,
    slot: u16,
    now: u64,
) -> RegReply {
    let Some(to) = msg.to() else {
        return RegReply::reject(400, "Missing To", "bad_request");
    };
    if !to.uri.is_sip() {
        return RegReply::reject(416, "Unsupported URI Scheme", "bad_scheme");
    }
    if !cfg.serves(to.uri.host.text) {
        return RegReply::reject(404, "Domain Not Served", "not_served");
    }
    let Some(aor) = aor_of(&to.uri) else {
        return RegReply::reject(400, "Bad Address-of-Record", "bad_request");
    };
    // Borrowed from the request unless it is not UTF-8.
    let call_id = String::from_utf8_lossy(msg.call_id().unwrap_or_default());
    let cseq = msg.cseq().map_or(0, |c| c.seq);
    let header_expires = match msg.expires() {
        Some(Ok(e)) => Some(e),
        Some(Err(_)) => return RegReply::reject(400, "Bad Expires", "bad_request"),
        None => None,
    };

    // The Contacts: `*` alone with Expires 0 removes everything.
    let mut star = false;
    let mut wanted: Vec<Wanted<'_>> = Vec::new();
    for c in msg.contacts() {
        match c {
            Contact::Star => star = true,
            Contact::Addr(a) => match wanted_of(cfg, &a, header_expires) {
                Ok(w) => wanted.push(w),
                Err(r) => return r,
            },
        }
    }
    // Every key the write below touches must fit the store: a failed write inside the
    // batch's group commit would roll back the group and drop its neighbours' answers too.
    if aor.len() + 2 > MAX_KEY
        || wanted
            .iter()
            .any(|w| aor.len() + 1 + w.contact.len() > MAX_KEY)
    {
        return RegReply::reject(400, "Address-of-Record or Contact Too Long", "bad_request");
    }
    if star && (!wanted.is_empty() || header_expires != Some(0)) {
        return RegReply::reject(
            400,
            "Invalid Contact: * needs Expires: 0 and no other Contact",
            "bad_request",
        );
    }
    let protected = |a: SocketAddr| {
        cfg.protected_addrs.contains(&a)
            || cfg
                .protected
                .iter()
                .any(|&(net, len)| shared::config::routing::cidr_contains(net, len, a.ip()))
    };
    if wanted
        .iter()
        .any(|w| w.expires != 0 && w.addr.is_some_and(protected))
    {
        return RegReply::reject(476, "Unresolvable Destination", "poisoning");
    }
    if wanted
        .iter()
        .any(|w| w.expires != 0 && w.expires < cfg.min_expires)
    {
        let mut r = RegReply::reject(423, "Interval Too Brief", "too_brief");
        let _ = write!(r.headers, "Min-Expires: {}\r\n", cfg.min_expires);
        return r;
    }
    let mut received_buf = [0u8; ADDR_TEXT];
    let received_v6: String;
    let received = match addr_text(src, &mut received_buf) {
        Some(t) => t,
        None => {
            received_v6 = src.to_string();
            &received_v6
        }
    };
    let sent_by = msg.top_via().and_then(|v| {
        let ip = v.host.ip()?;
        Some(SocketAddr::new(ip, v.port.unwrap_or(5060)))
    });
    let nat = wanted.iter().any(|w| behind_nat(w.addr, sent_by, src));
    let user_agent = String::from_utf8_lossy(msg.user_agent().unwrap_or_default());

    // The 200's Contact lines: the bindings kept, written during the scan (their strings
    // live in the store's pages only that long), then the new ones.
    let mut headers = Vec::with_capacity(128);
    let outcome = store.write(|w| {
        let is_wanted = |contact: &str| wanted.iter().any(|x| x.contact == contact);
        // Call-ID/CSeq ordering (step 7): a binding updated from the same Call-ID needs a
        // higher CSeq; a lower one is an old REGISTER arriving late. The same CSeq is a
        // retransmission (our 200 was lost): applied again, it changes nothing but the
        // remaining time, and the phone gets its 200.
        let mut out_of_order = false;
        let mut kept = 0usize;
        // One cursor for the scan and the writes that follow (see `binding_cursor`).
        let mut cur = w.binding_cursor()?;
        cur.for_each_binding(&aor, |b| {
            if b.call_id == call_id && b.cseq > cseq && (star || is_wanted(b.contact)) {
                out_of_order = true;
            }
            if b.expires_at > now && !is_wanted(b.contact) {
                kept += 1;
                contact_line(
                    &mut headers,
                    b.contact,
                    b.expires_at.saturating_sub(now),
                    b.q,
                );
            }
            Ok(())
        })?;
        if out_of_order {
            return Ok(Err(RegReply::reject(
                400,
                "Out-of-Order REGISTER",
                "out_of_order",
            )));
        }
        if star {
            drop(cur);
            w.delete_aor(&aor)?;
            headers.clear();
            return Ok(Ok("removed"));
        }
        let added = wanted.iter().filter(|x| x.expires > 0).count();
        if kept + added > cfg.max_contacts {
            return Ok(Err(RegReply::reject(403, "Too Many Contacts", "too_many")));
        }
        for x in &wanted {
            if x.expires == 0 {
                cur.delete_binding(&aor, x.contact)?;
            }
        }
        for x in wanted.iter().filter(|x| x.expires > 0) {
            let expires_at = now + u64::from(x.expires);
            cur.put_binding_ref(&BindingRef {
                aor: &aor,
                contact: x.contact,
                expires_at,
                q: x.q,
                call_id: &call_id,
                cseq,
                received: Some(received),
                transport: "udp",
                worker: slot,
                path: Vec::new(),
                user_agent: &user_agent,
                flags: if nat { FLAG_NAT } else { 0 },
            })?;
            contact_line(&mut headers, x.contact, expires_at.saturating_sub(now), x.q);
        }
        Ok(Ok(if wanted.is_empty() {
            "query"
        } else if wanted.iter().all(|x| x.expires == 0) {
            "removed"
        } else {
            "ok"
        }))
    });
    match outcome {
        Err(e) => {
            tracing::error!(error = %e, aor, "registrar store write failed");
            RegReply::reject(500, "Location Store Unavailable", "store_error")
        }
        Ok(Err(r)) => r,
        Ok(Ok(result)) => RegReply {
            status: 200,
            reason: "OK",
            headers,
            result,
        },
    }
}

/// Appends `Contact: <uri>;expires=N[;q=D.DDD]` and CRLF.
fn contact_line(out: &mut Vec<u8>, contact: &str, left: u64, q: u16) {
    out.extend_from_slice(b"Contact: <");
    out.extend_from_slice(contact.as_bytes());
    out.extend_from_slice(b">;expires=");
    proto::push_decimal(out, left);
    if q != 1000 {
        out.extend_from_slice(b";q=");
        proto::push_decimal(out, u64::from(q / 1000));
        let frac = q % 1000;
        out.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
    }
    out.extend_from_slice(b"\r\n");
}

/// Room for the longest IPv4 `ip:port`.
const ADDR_TEXT: usize = "255.255.255.255:65535".len();

/// An IPv4 `addr` as its `Display` writes it, in `buf`; `None` for IPv6.
fn addr_text(addr: SocketAddr, buf: &mut [u8; ADDR_TEXT]) -> Option<&str> {
    let SocketAddr::V4(a) = addr else {
        return None;
    };
    let mut len = 0;
    let mut put = |b: u8| {
        if let Some(d) = buf.get_mut(len) {
            *d = b;
            len += 1;
        }
    };
    for (i, o) in a.ip().octets().into_iter().enumerate() {
        if i > 0 {
            put(b'.');
        }
        if o >= 100 {
            put(b'0' + o / 100);
        }
        if o >= 10 {
            put(b'0' + o / 10 % 10);
        }
        put(b'0' + o % 10);
    }
    put(b':');
    let port = a.port();
    let mut div = 10_000;
    while div > 1 && port < div {
        div /= 10;
    }
    while div > 0 {
        put(b'0' + (port / div % 10) as u8);
        div /= 10;
    }
    std::str::from_utf8(buf.get(..len)?).ok()
}

fn wanted_of<'m>(
    cfg: &RegistrarConfig,
    a: &NameAddr<'m>,
    header_expires: Option<u32>,
) -> Result<Wanted<'m>, RegReply> {
    let contact = std::str::from_utf8(a.uri.raw)
        .map_err(|_| RegReply::reject(400, "Bad Contact", "bad_request"))?;
    if contact.contains('\0') {
        return Err(RegReply::reject(400, "Bad Contact", "bad_request"));
    }
    let expires = a
        .expires()
        .or(header_expires)
        .unwrap_or(cfg.default_expires)
        .min(cfg.max_expires);
    Ok(Wanted {
        contact,
        // `a.uri` is `Uri::parse(contact)`: read once here for the poisoning and NAT checks.
        addr: a
            .uri
            .host
            .ip()
            .map(|ip| SocketAddr::new(ip, a.uri.port.unwrap_or(5060))),
        expires,
        q: a.q().unwrap_or(1000),
    })
}

/// Whether the phone is behind a NAT: its Contact (`contact`: its host and port, when the
/// host is an IP address) is a private address other than the one the REGISTER came from, or
/// its Via's sent-by is not where the REGISTER came from (what RFC 3581 would mark with
/// `received`/`rport`). A Contact at some other public address is a third-party registration
/// and is used as it is.
fn behind_nat(
    contact: Option<SocketAddr>,
    via_sent_by: Option<SocketAddr>,
    src: SocketAddr,
) -> bool {
    if via_sent_by.is_some_and(|v| v != src) {
        return true;
    }
    contact.is_some_and(|c| is_private(c.ip()) && c != src)
}

/// RFC 1918, RFC 6598 (carrier-grade NAT), link-local and IPv6 unique-local addresses.
fn is_private(ip: std::net::IpAddr) -> bool {
    match ip {
        std::net::IpAddr::V4(v4) => {
            let o = v4.octets();
            v4.is_private() || v4.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        std::net::IpAddr::V6(v6) => {
            (v6.segments()[0] & 0xfe00) == 0xfc00 || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Where a request for a binding goes: its NAT-side source when the phone is behind a NAT,
/// else the Contact's own host and port.
pub fn binding_target(b: &Binding) -> Option<SocketAddr> {
    if b.flags & FLAG_NAT != 0 {
        if let Some(r) = &b.received {
            if let Ok(a) = r.parse() {
                return Some(a);
            }
        }
    }
    let u = Uri::parse(b.contact.as_bytes())?;
    let ip = u.host.ip()?;
    Some(SocketAddr::new(ip, u.port.unwrap_or(5060)))
}

/// The live bindings of an AOR, best `q` first; `Ok(None)` when the AOR has no binding at
/// all (unknown user), `Ok(Some(empty))` when all of them have expired.
pub fn lookup(store: &Store, aor: &str, now: u64) -> Result<Option<Vec<Binding>>, StoreError> {
    let all = store.bindings(aor)?;
    if all.is_empty() {
        return Ok(None);
    }
    let mut live: Vec<Binding> = all.into_iter().filter(|b| b.expires_at > now).collect();
    live.sort_by_key(|b| std::cmp::Reverse(b.q));
    Ok(Some(live))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{Limits, EMPTY_HEADER};

    fn cfg() -> RegistrarConfig {
        RegistrarConfig {
            domains: vec![b"example.com".to_vec()],
            min_expires: 60,
            max_expires: 3600,
            default_expires: 1800,
            max_contacts: 3,
            keepalive_interval: 0,
            keepalive_tries: 3,
            protected: vec![("10.9.9.9".parse().unwrap(), 32)],
            protected_addrs: vec!["192.0.2.1:5080".parse().unwrap()],
        }
    }

    fn store(name: &str) -> Store {
        let dir = std::env::temp_dir().join(format!("sipedge-reg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Store::open(&dir, 64).unwrap()
    }

    fn reg(
        store: &Store,
        call_id: &str,
        cseq: u32,
        contact: &str,
        extra: &str,
        now: u64,
    ) -> RegReply {
        let m = format!(
            "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{cseq}\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@Example.COM>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n{contact}{extra}Content-Length: 0\r\n\r\n"
        );
        let mut slots = [EMPTY_HEADER; 32];
        let msg = Message::parse(m.as_bytes(), &mut slots, &Limits::DEFAULT).unwrap();
        register(
            &cfg(),
            store,
            &msg,
            "192.0.2.1:5060".parse().unwrap(),
            0,
            now,
        )
    }

    fn contacts(r: &RegReply) -> Vec<String> {
        String::from_utf8_lossy(&r.headers)
            .lines()
            .filter(|l| l.starts_with("Contact:"))
            .map(String::from)
            .collect()
    }

    #[test]
    fn add_refresh_remove() {
        let s = store("arr");
        let r = reg(
            &s,
            "c1",
            1,
            "Contact: <sip:alice@192.0.2.1:5060>\r\n",
            "",
            1000,
        );
        assert_eq!((r.status, r.result), (200, "ok"));
        assert_eq!(
            contacts(&r),
            ["Contact: <sip:alice@192.0.2.1:5060>;expires=1800"]
        );
        // Expires header, capped by max_expires; a second contact with q.
        let r = reg(
            &s,
            "c1",
            2,
            "Contact: <sip:alice@192.0.2.1:5060>, <sip:alice@192.0.2.9:5070>;q=0.5;expires=120\r\n",
            "Expires: 99999\r\n",
            1010,
        );
        assert_eq!(
            contacts(&r),
            [
                "Contact: <sip:alice@192.0.2.1:5060>;expires=3600",
                "Contact: <sip:alice@192.0.2.9:5070>;expires=120;q=0.500"
            ]
        );
        let live = lookup(&s, "sip:alice@example.com", 1020).unwrap().unwrap();
        assert_eq!(live.len(), 2);
        assert_eq!(live[0].q, 1000);
        // A public Contact elsewhere than the source: a third-party registration, used as is.
        assert_eq!(live[1].flags & FLAG_NAT, 0);
        assert_eq!(
            binding_target(&live[1]).unwrap().to_string(),
            "192.0.2.9:5070"
        );
        // Query: no Contact.
        let r = reg(&s, "c1", 3, "", "", 1030);
        assert_eq!((r.result, contacts(&r).len()), ("query", 2));
        // Remove one.
        let r = reg(
            &s,
            "c1",
            4,
            "Contact: <sip:alice@192.0.2.9:5070>;expires=0\r\n",
            "",
            1040,
        );
        assert_eq!((r.result, contacts(&r).len()), ("removed", 1));
        // Expiry: the other one is gone from lookups after its time.
        assert_eq!(
            lookup(&s, "sip:alice@example.com", 1010 + 3601)
                .unwrap()
                .map(|v| v.len()),
            Some(0)
        );
        assert_eq!(lookup(&s, "sip:bob@example.com", 1040).unwrap(), None);
    }

    #[test]
    fn a_contact_too_long_for_a_key_is_refused_without_rolling_back_the_batch() {
        let s = store("long-contact");
        s.begin_batch();
        let r = reg(
            &s,
            "c1",
            1,
            "Contact: <sip:alice@192.0.2.1:5060>\r\n",
            "",
            1000,
        );
        assert_eq!((r.status, r.result), (200, "ok"));
        // Just fits: AOR "sip:alice@example.com", NUL, Contact URI = MAX_KEY bytes.
        let aor_len = "sip:alice@example.com".len();
        let fill = |n: usize| format!("sip:{}@192.0.2.1:5060", "a".repeat(n));
        let fits = fill(MAX_KEY - aor_len - 1 - fill(0).len());
        let r = reg(&s, "c2", 1, &format!("Contact: <{fits}>\r\n"), "", 1000);
        assert_eq!((r.status, r.result), (200, "ok"), "{}", fits.len());
        let long = fill(MAX_KEY - aor_len - fill(0).len());
        let r = reg(&s, "c3", 1, &format!("Contact: <{long}>\r\n"), "", 1000);
        assert_eq!(r.status, 400);
        assert_eq!(r.reason, "Address-of-Record or Contact Too Long");
        // The batch's other writes still commit.
        assert_eq!(s.end_batch().unwrap(), 2);
        assert_eq!(
            lookup(&s, "sip:alice@example.com", 1001)
                .unwrap()
                .map(|v| v.len()),
            Some(2)
        );
    }

    #[test]
    fn address_text() {
        for a in [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "192.0.2.1:5060",
            "10.0.0.12:7",
            "127.0.0.1:5072",
            "1.20.3.40:1",
            "100.10.0.9:10",
            "8.8.8.8:99",
            "9.9.9.9:100",
            "9.9.9.9:9999",
            "9.9.9.9:10000",
        ] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(
                addr_text(a, &mut [0; ADDR_TEXT]),
                Some(a.to_string().as_str())
            );
        }
        for port in 0..=u16::MAX {
            let a = SocketAddr::from(([10, 0, 0, 1], port));
            assert_eq!(
                addr_text(a, &mut [0; ADDR_TEXT]),
                Some(a.to_string().as_str())
            );
        }
        for o in 0..=u8::MAX {
            let a = SocketAddr::from(([o, 255 - o, o / 3, 7], 5060));
            assert_eq!(
                addr_text(a, &mut [0; ADDR_TEXT]),
                Some(a.to_string().as_str())
            );
        }
        let v6: SocketAddr = "[2001:db8::1]:5060".parse().unwrap();
        assert_eq!(addr_text(v6, &mut [0; ADDR_TEXT]), None);
    }

    #[test]
    fn contact_lines_as_formatted() {
        for q in [0u16, 1, 10, 100, 500, 999, 1000, 1001, 65_535] {
            for left in [0u64, 7, 3600, u64::MAX] {
                let mut got = Vec::new();
                contact_line(&mut got, "sip:a@192.0.2.1", left, q);
                let mut want = Vec::new();
                write!(want, "Contact: <sip:a@192.0.2.1>;expires={left}").unwrap();
                if q != 1000 {
                    write!(want, ";q={}.{:03}", q / 1000, q % 1000).unwrap();
                }
                want.extend_from_slice(b"\r\n");
                assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn kept_bindings_come_first_and_are_counted() {
        let s = store("kept");
        let r = reg(
            &s,
            "c1",
            1,
            "Contact: <sip:alice@192.0.2.7>;q=0.7\r\n",
            "",
            1000,
        );
        assert_eq!(r.status, 200);
        // Another phone (another Call-ID) adds a Contact given twice: stored once, listed
        // twice, after the one kept.
        let r = reg(
            &s,
            "c2",
            1,
            "Contact: <sip:alice@192.0.2.8>, <sip:alice@192.0.2.8>;expires=100\r\n",
            "",
            1010,
        );
        assert_eq!((r.status, r.result), (200, "ok"));
        assert_eq!(
            contacts(&r),
            [
                "Contact: <sip:alice@192.0.2.7>;expires=1790;q=0.700",
                "Contact: <sip:alice@192.0.2.8>;expires=1800",
                "Contact: <sip:alice@192.0.2.8>;expires=100",
            ]
        );
        let live = lookup(&s, "sip:alice@example.com", 1010).unwrap().unwrap();
        assert_eq!(live.len(), 2);
        // Best q first.
        let b = &live[0];
        assert_eq!(b.contact, "sip:alice@192.0.2.8");
        assert_eq!((b.expires_at, b.q, b.cseq, b.worker), (1110, 1000, 1, 0));
        assert_eq!(b.call_id, "c2");
        assert_eq!(b.received.as_deref(), Some("192.0.2.1:5060"));
        assert_eq!((b.transport.as_str(), b.user_agent.as_str()), ("udp", ""));
        assert!(b.path.is_empty());
        // Kept + new above max_contacts (3): refused, nothing changes.
        let r = reg(
            &s,
            "c3",
            1,
            "Contact: <sip:alice@192.0.2.9>, <sip:alice@192.0.2.10>\r\n",
            "",
            1020,
        );
        assert_eq!(r.status, 403);
        assert_eq!(s.bindings("sip:alice@example.com").unwrap().len(), 2);
        // An expired binding is not listed nor counted.
        let r = reg(&s, "c3", 2, "Contact: <sip:alice@192.0.2.9>\r\n", "", 1200);
        assert_eq!(
            contacts(&r),
            [
                "Contact: <sip:alice@192.0.2.7>;expires=1600;q=0.700",
                "Contact: <sip:alice@192.0.2.9>;expires=1800",
            ]
        );
    }

    #[test]
    fn nat_detection() {
        let src: SocketAddr = "203.0.113.5:41000".parse().unwrap();
        let via = |s: &str| Some(s.parse::<SocketAddr>().unwrap());
        // The Contact's address as `wanted_of` reads it.
        let nat = |contact: &str, via, src| {
            let u = Uri::parse(contact.as_bytes());
            let addr = u.and_then(|u| {
                let ip = u.host.ip()?;
                Some(SocketAddr::new(ip, u.port.unwrap_or(5060)))
            });
            behind_nat(addr, via, src)
        };
        assert!(nat("sip:a@10.0.0.2:5060", None, src));
        assert!(nat("sip:a@192.168.1.2", via("192.168.1.2:5060"), src));
        assert!(nat("sip:a@203.0.113.5:41000", via("10.0.0.2:5060"), src));
        assert!(!nat(
            "sip:a@203.0.113.5:41000",
            via("203.0.113.5:41000"),
            src
        ));
        assert!(!nat(
            "sip:a@198.51.100.7:5060",
            via("203.0.113.5:41000"),
            src
        ));
        assert!(nat("sip:a@100.64.3.4", None, src));
        assert!(nat("sip:a@[fd00::1]", None, src));
        assert!(!nat("sip:a@example.com", None, src));
    }

    #[test]
    fn rejections() {
        let s = store("rej");
        let r = reg(
            &s,
            "c1",
            1,
            "Contact: <sip:alice@192.0.2.1>;expires=30\r\n",
            "",
            1000,
        );
        assert_eq!(
            (r.status, String::from_utf8_lossy(&r.headers).as_ref()),
            (423, "Min-Expires: 60\r\n")
        );
        let r = reg(&s, "c1", 5, "Contact: <sip:alice@192.0.2.1>\r\n", "", 1000);
        assert_eq!(r.status, 200);
        // Same Call-ID, same CSeq: a retransmission, answered again.
        let r = reg(&s, "c1", 5, "Contact: <sip:alice@192.0.2.1>\r\n", "", 1001);
        assert_eq!(r.status, 200);
        // Same Call-ID, lower CSeq: out of order.
        let r = reg(&s, "c1", 4, "Contact: <sip:alice@192.0.2.1>\r\n", "", 1001);
        assert_eq!((r.status, r.result), (400, "out_of_order"));
        // Another Call-ID may update.
        let r = reg(&s, "c2", 1, "Contact: <sip:alice@192.0.2.1>\r\n", "", 1002);
        assert_eq!(r.status, 200);
        // Star needs Expires: 0.
        let r = reg(&s, "c2", 2, "Contact: *\r\n", "", 1003);
        assert_eq!(r.status, 400);
        let r = reg(&s, "c2", 3, "Contact: *\r\n", "Expires: 0\r\n", 1004);
        assert_eq!((r.status, r.result), (200, "removed"));
        assert_eq!(lookup(&s, "sip:alice@example.com", 1005).unwrap(), None);
        // A Contact at a protected address (the core): 476.
        let r = reg(
            &s,
            "c4",
            1,
            "Contact: <sip:alice@10.9.9.9:5060>\r\n",
            "",
            1007,
        );
        assert_eq!((r.status, r.result), (476, "poisoning"));
        let r = reg(
            &s,
            "c4",
            2,
            "Contact: <sip:alice@192.0.2.1:5080>\r\n",
            "",
            1007,
        );
        assert_eq!(r.status, 476);
        // Too many contacts.
        let r = reg(&s, "c3", 1, "Contact: <sip:a@192.0.2.1>, <sip:b@192.0.2.1>, <sip:c@192.0.2.1>, <sip:d@192.0.2.1>\r\n", "", 1006);
        assert_eq!(r.status, 403);
    }
}
