//! `sipedge-bench`: parser micro-benchmarks (sipedge's `proto` against the published `rsip`
//! crate, see `benches/parse.rs`) and, later, the SIPp load scripts that drive the proxy
//! against Kamailio. This library only holds the sample messages so every bench can share them.
//!
//! The messages are what a carrier edge sees on its trunk side: real-world header order, display
//! names, tags, Allow/Supported lists and SDP bodies, with CRLF line ends and a correct
//! Content-Length.

/// An INVITE from a customer PBX as the carrier edge sees it after one upstream hop:
/// two Via, display names, a From tag, Allow/Supported/User-Agent and a 14-line SDP offer.
pub const INVITE: &[u8] = b"INVITE sip:+14155550123@sip.carrier.example;user=phone SIP/2.0\r\n\
Via: SIP/2.0/UDP 203.0.113.17:5060;branch=z9hG4bK-524287-1-a1b2c3d4;rport\r\n\
Via: SIP/2.0/UDP 198.51.100.42:5060;received=198.51.100.42;branch=z9hG4bK3f8e2a91c0d74b5e;rport=5060\r\n\
Max-Forwards: 69\r\n\
From: \"Alice Smith\" <sip:+12125550199@pbx.acme.example;user=phone>;tag=as5f3c7e21\r\n\
To: \"Bob Jones\" <sip:+14155550123@sip.carrier.example;user=phone>\r\n\
Call-ID: 6f1b2c3d4e5f6071@198.51.100.42\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:+12125550199@198.51.100.42:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
User-Agent: Asterisk PBX 18.20.0\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 261\r\n\
\r\n\
v=0\r\n\
o=- 1733000001 1733000001 IN IP4 198.51.100.42\r\n\
s=Asterisk\r\n\
c=IN IP4 198.51.100.42\r\n\
t=0 0\r\n\
m=audio 16384 RTP/AVP 0 8 18 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:18 G729/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=sendrecv\r\n";

/// The 200 OK answering [`INVITE`]: both Via, two Record-Route, To tag added, SDP answer.
pub const OK_200: &[u8] = b"SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 203.0.113.17:5060;branch=z9hG4bK-524287-1-a1b2c3d4;rport=5060\r\n\
Via: SIP/2.0/UDP 198.51.100.42:5060;received=198.51.100.42;branch=z9hG4bK3f8e2a91c0d74b5e;rport=5060\r\n\
Record-Route: <sip:192.0.2.10;lr;ftag=as5f3c7e21>\r\n\
Record-Route: <sip:203.0.113.17;lr>\r\n\
From: \"Alice Smith\" <sip:+12125550199@pbx.acme.example;user=phone>;tag=as5f3c7e21\r\n\
To: \"Bob Jones\" <sip:+14155550123@sip.carrier.example;user=phone>;tag=8c1d2e3f-4a5b\r\n\
Call-ID: 6f1b2c3d4e5f6071@198.51.100.42\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:+14155550123@192.0.2.80:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, UPDATE, PRACK\r\n\
Supported: timer\r\n\
Server: CarrierSBC 4.2\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 209\r\n\
\r\n\
v=0\r\n\
o=- 8421337 8421338 IN IP4 192.0.2.80\r\n\
s=SBC\r\n\
c=IN IP4 192.0.2.80\r\n\
t=0 0\r\n\
m=audio 40000 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\n\
a=maxptime:40\r\n\
a=sendrecv\r\n";

/// A trunk REGISTER carrying digest credentials (qop=auth) and Expires; no body.
pub const REGISTER: &[u8] = b"REGISTER sip:sip.carrier.example SIP/2.0\r\n\
Via: SIP/2.0/UDP 198.51.100.42:5060;branch=z9hG4bK7a1c9e02b44f;rport\r\n\
Max-Forwards: 70\r\n\
From: <sip:trunk4711@sip.carrier.example>;tag=9f8e7d6c\r\n\
To: <sip:trunk4711@sip.carrier.example>\r\n\
Call-ID: 3c2a1b0f9e8d7c6b5a49@198.51.100.42\r\n\
CSeq: 21 REGISTER\r\n\
Contact: <sip:trunk4711@198.51.100.42:5060;transport=udp>;expires=3600\r\n\
Authorization: Digest username=\"trunk4711\", realm=\"sip.carrier.example\", nonce=\"5f3c7e21a1b2c3d4e5f60718293a4b5c\", uri=\"sip:sip.carrier.example\", response=\"0a4f113b4d1c2e9f8b7a6c5d4e3f2a1b\", algorithm=MD5, cnonce=\"0a4f113b\", qop=auth, nc=00000001\r\n\
Expires: 3600\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, INFO, UPDATE, PRACK\r\n\
User-Agent: Asterisk PBX 18.20.0\r\n\
Content-Length: 0\r\n\
\r\n";

/// Every sample message with a short name, for benchmarks that loop over them.
pub const MESSAGES: [(&str, &[u8]); 3] = [
    ("invite", INVITE),
    ("ok_200", OK_200),
    ("register", REGISTER),
];

#[cfg(test)]
mod tests {
    use super::*;
    use proto::{HeaderKind, Limits, Message, Method, EMPTY_HEADER};
    use rsip::prelude::*;

    fn body_of(msg: &[u8]) -> &[u8] {
        let at = msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        &msg[at + 4..]
    }

    #[test]
    fn sipedge_parses_all() {
        for (name, msg) in MESSAGES {
            let mut slots = [EMPTY_HEADER; 32];
            let m = Message::parse(msg, &mut slots, &Limits::DEFAULT)
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(m.as_bytes(), msg, "{name}: whole buffer is the message");
            assert_eq!(
                m.body(),
                body_of(msg),
                "{name}: Content-Length matches the body"
            );
            assert!(m.top_via().unwrap().branch.unwrap().starts_with(b"z9hG4bK"));
            assert!(m.from().unwrap().tag.is_some());
            assert!(m.call_id().is_some());
            assert!(m.cseq().is_some());
            assert_eq!(m.duplicated_single_headers().count(), 0, "{name}");
        }
        let mut slots = [EMPTY_HEADER; 32];
        let m = Message::parse(INVITE, &mut slots, &Limits::DEFAULT).unwrap();
        assert_eq!(m.method(), Some(Method::Invite));
        assert_eq!(m.vias().count(), 2);
        assert_eq!(m.to().unwrap().tag, None);
        assert!(m.body().split(|&b| b == b'\n').count() > 12);

        let mut slots = [EMPTY_HEADER; 32];
        let m = Message::parse(OK_200, &mut slots, &Limits::DEFAULT).unwrap();
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.record_routes().filter(Result::is_ok).count(), 2);
        assert_eq!(m.to().unwrap().tag, Some(&b"8c1d2e3f-4a5b"[..]));

        let mut slots = [EMPTY_HEADER; 32];
        let m = Message::parse(REGISTER, &mut slots, &Limits::DEFAULT).unwrap();
        assert_eq!(m.method(), Some(Method::Register));
        assert_eq!(m.expires(), Some(Ok(3600)));
        assert_eq!(m.credentials(HeaderKind::Authorization).count(), 1);
        assert!(m.credentials(HeaderKind::Authorization).all(|c| c.is_ok()));
    }

    #[test]
    fn rsip_parses_all() {
        for (name, msg) in MESSAGES {
            let m = rsip::SipMessage::try_from(msg).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let via = m.via_header().unwrap().typed().unwrap();
            assert!(
                via.branch().unwrap().to_string().starts_with("z9hG4bK"),
                "{name}"
            );
            assert!(
                m.from_header().unwrap().typed().unwrap().tag().is_some(),
                "{name}"
            );
            m.to_header().unwrap().typed().unwrap();
            m.cseq_header().unwrap().typed().unwrap();
            assert!(!m.call_id_header().unwrap().value().is_empty(), "{name}");
            assert_eq!(m.body().as_slice(), body_of(msg), "{name}");
        }
        let m = rsip::SipMessage::try_from(OK_200).unwrap();
        let to = m.to_header().unwrap().typed().unwrap();
        assert_eq!(to.tag().unwrap().to_string(), "8c1d2e3f-4a5b");
    }
}
