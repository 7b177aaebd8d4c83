//! The routing table, compiled: `[[route]]` rules with their regexes built and CIDRs parsed
//! once per (re)load, evaluated in order against the facts of a request.

use std::net::{IpAddr, SocketAddr};

use regex::bytes::Regex;
use shared::config::routing::{cidr_contains, parse_cidr};
use shared::config::RouteRule;

/// What the routing table sees of a request.
pub struct RequestFacts<'a> {
    pub method: &'a [u8],
    pub in_dialog: bool,
    pub source: SocketAddr,
    pub listener: &'a str,
    pub ruri_user: Option<&'a [u8]>,
    pub ruri_host: &'a [u8],
    /// First value of a header by name (any case, compact forms included), if present.
    pub headers: &'a dyn Fn(&[u8]) -> Option<&'a [u8]>,
    /// Whether the Request-URI is an address-of-record with live bindings (asked only when a
    /// rule's other conditions held: it reads the store).
    pub registered: &'a dyn Fn() -> bool,
}

/// What the first matching rule says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'r> {
    Dispatch {
        rule: &'r str,
        set: &'r str,
        record_route: bool,
        /// Add a Path header (a relayed REGISTER, RFC 3327).
        path: bool,
        /// Digest credentials required first.
        authenticate: bool,
    },
    Reply {
        rule: &'r str,
        status: u16,
        reason: &'r str,
    },
    Drop {
        rule: &'r str,
    },
    /// A REGISTER for the registrar.
    Register {
        rule: &'r str,
        authenticate: bool,
    },
    /// Relay to the contacts registered for the Request-URI.
    Lookup {
        rule: &'r str,
        authenticate: bool,
    },
    NoMatch,
}

enum Action {
    Dispatch {
        set: String,
        record_route: bool,
        path: bool,
    },
    Reply {
        status: u16,
        reason: String,
    },
    Drop,
    Continue,
    Register,
    Lookup,
}

enum Header {
    Matches(Vec<u8>, Regex),
    Absent(Vec<u8>),
}

struct Rule {
    name: String,
    methods: Vec<Vec<u8>>,
    in_dialog: Option<bool>,
    sources: Vec<(IpAddr, u8)>,
    /// Exact `IP:port` sources (a trunk or core that shares its address with others).
    source_addrs: Vec<SocketAddr>,
    listeners: Vec<String>,
    user_prefixes: Vec<Vec<u8>>,
    user_regex: Option<Regex>,
    domains: Vec<Vec<u8>>,
    headers: Vec<Header>,
    registered: Option<bool>,
    authenticate: bool,
    action: Action,
}

/// The compiled routing table.
#[derive(Default)]
pub struct Router {
    rules: Vec<Rule>,
}

/// The reason phrase RFC 3261 §21 gives a status, for `reply` rules without one.
pub fn default_reason(status: u16) -> &'static str {
    match status {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        410 => "Gone",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        484 => "Address Incomplete",
        486 => "Busy Here",
        488 => "Not Acceptable Here",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}

impl Router {
    /// Compile validated rules. `local_hosts` are what `ruri_domain = ["@local"]` means.
    pub fn from_config(rules: &[RouteRule], local_hosts: &[Vec<u8>]) -> Result<Router, String> {
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let bad = |what: &str, e: String| format!("route {:?}: {what}: {e}", r.name);
            let user_regex = match &r.ruri_user_regex {
                Some(re) => {
                    Some(Regex::new(re).map_err(|e| bad("ruri_user_regex", e.to_string()))?)
                }
                None => None,
            };
            let mut headers = Vec::with_capacity(r.header.len());
            for h in &r.header {
                let name = h.name.as_bytes().to_vec();
                headers.push(match &h.regex {
                    Some(re) => Header::Matches(
                        name,
                        Regex::new(re).map_err(|e| bad("header regex", e.to_string()))?,
                    ),
                    None => Header::Absent(name),
                });
            }
            let mut sources = Vec::with_capacity(r.source.len());
            let mut source_addrs = Vec::new();
            for s in &r.source {
                if let Ok(a) = s.parse::<SocketAddr>() {
                    source_addrs.push(a);
                } else {
                    sources.push(parse_cidr(s).ok_or_else(|| bad("source", format!("{s:?}")))?);
                }
            }
            let mut domains = Vec::new();
            for d in &r.ruri_domain {
                if d == "@local" {
                    domains.extend(local_hosts.iter().cloned());
                } else {
                    domains.push(d.as_bytes().to_vec());
                }
            }
            let action = if let Some(set) = &r.dispatch {
                Action::Dispatch {
                    set: set.clone(),
                    record_route: r.record_route,
                    path: r.path,
                }
            } else if let Some(status) = r.reply {
                Action::Reply {
                    status,
                    reason: r
                        .reason
                        .clone()
                        .unwrap_or_else(|| default_reason(status).to_string()),
                }
            } else if r.drop {
                Action::Drop
            } else if r.register {
                Action::Register
            } else if r.lookup {
                Action::Lookup
            } else {
                Action::Continue
            };
            out.push(Rule {
                name: r.name.clone(),
                methods: r.method.iter().map(|m| m.as_bytes().to_vec()).collect(),
                in_dialog: r.in_dialog,
                sources,
                source_addrs,
                listeners: r.listener.clone(),
                user_prefixes: r
                    .ruri_user_prefix
                    .iter()
                    .map(|p| p.as_bytes().to_vec())
                    .collect(),
                user_regex,
                domains,
                headers,
                registered: r.ruri_registered,
                authenticate: r.authenticate,
                action,
            });
        }
        Ok(Router { rules: out })
    }

    pub fn len(&self) -> usize {
        self.rules.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The action of the first rule that matches (`continue` rules are passed over).
    pub fn decide(&self, f: &RequestFacts<'_>) -> Decision<'_> {
        for r in &self.rules {
            if !r.matches(f) {
                continue;
            }
            match &r.action {
                Action::Continue => continue,
                Action::Dispatch {
                    set,
                    record_route,
                    path,
                } => {
                    return Decision::Dispatch {
                        rule: &r.name,
                        set,
                        record_route: *record_route,
                        path: *path,
                        authenticate: r.authenticate,
                    }
                }
                Action::Reply { status, reason } => {
                    return Decision::Reply {
                        rule: &r.name,
                        status: *status,
                        reason,
                    }
                }
                Action::Drop => return Decision::Drop { rule: &r.name },
                Action::Register => {
                    return Decision::Register {
                        rule: &r.name,
                        authenticate: r.authenticate,
                    }
                }
                Action::Lookup => {
                    return Decision::Lookup {
                        rule: &r.name,
                        authenticate: r.authenticate,
                    }
                }
            }
        }
        Decision::NoMatch
    }
}

impl Rule {
    fn matches(&self, f: &RequestFacts<'_>) -> bool {
        // Cheapest conditions first.
        if !self.methods.is_empty() && !self.methods.iter().any(|m| m == f.method) {
            return false;
        }
        if self.in_dialog.is_some_and(|d| d != f.in_dialog) {
            return false;
        }
        if !self.listeners.is_empty() && !self.listeners.iter().any(|l| l == f.listener) {
            return false;
        }
        if (!self.sources.is_empty() || !self.source_addrs.is_empty())
            && !self
                .sources
                .iter()
                .any(|&(net, len)| cidr_contains(net, len, f.source.ip()))
            && !self.source_addrs.contains(&f.source)
        {
            return false;
        }
        if !self.domains.is_empty()
            && !self
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(f.ruri_host))
        {
            return false;
        }
        if !self.user_prefixes.is_empty() {
            let user = f.ruri_user.unwrap_or_default();
            if !self.user_prefixes.iter().any(|p| user.starts_with(p)) {
                return false;
            }
        }
        if let Some(re) = &self.user_regex {
            if !f.ruri_user.is_some_and(|u| re.is_match(u)) {
                return false;
            }
        }
        let headers_ok = self.headers.iter().all(|h| match h {
            Header::Matches(name, re) => (f.headers)(name).is_some_and(|v| re.is_match(v)),
            Header::Absent(name) => (f.headers)(name).is_none(),
        });
        headers_ok && self.registered.is_none_or(|want| (f.registered)() == want)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::config::Config;
    use std::path::Path;

    fn router(rules: &str) -> Router {
        let text = format!(
            "[[listen]]\nname = \"pub\"\naddress = \"127.0.0.1:5060\"\n[[listen]]\nname = \"core\"\naddress = \"127.0.0.2:5060\"\n[[dispatcher]]\nname = \"core\"\ndestinations = [{{ uri = \"sip:127.0.0.1:5080\" }}]\n[[dispatcher]]\nname = \"premium\"\ndestinations = [{{ uri = \"sip:127.0.0.1:5090\" }}]\n{rules}"
        );
        let c = Config::from_str(&text, Path::new("t.toml")).unwrap();
        Router::from_config(&c.route, &[b"127.0.0.1".to_vec(), b"sbc.example".to_vec()]).unwrap()
    }

    fn no_headers(_: &[u8]) -> Option<&'static [u8]> {
        None
    }

    fn facts<'a>(
        method: &'a [u8],
        user: Option<&'a [u8]>,
        host: &'a [u8],
        headers: &'a dyn Fn(&[u8]) -> Option<&'a [u8]>,
    ) -> RequestFacts<'a> {
        RequestFacts {
            method,
            in_dialog: false,
            source: "192.0.2.7:5060".parse().unwrap(),
            listener: "pub",
            ruri_user: user,
            ruri_host: host,
            headers,
            registered: &|| false,
        }
    }

    const TABLE: &str = r#"
[[route]]
name = "scanners"
header = [{ name = "User-Agent", regex = "(?i)friendly-scanner" }]
drop = true
[[route]]
name = "note"
method = ["INVITE"]
continue = true
[[route]]
name = "premium"
method = ["INVITE"]
ruri_user_prefix = ["0900", "+44900"]
dispatch = "premium"
record_route = false
[[route]]
name = "trusted"
source = ["10.0.0.0/8"]
dispatch = "core"
[[route]]
name = "digits"
ruri_user_regex = "^[0-9]{3}$"
ruri_domain = ["@local"]
reply = 404
[[route]]
name = "teapot"
ruri_domain = ["Example.COM"]
reply = 480
reason = "Gone Fishing"
[[route]]
name = "in-dialog"
in_dialog = true
listener = ["core"]
dispatch = "core"
"#;

    #[test]
    fn first_match_wins_in_order() {
        let r = router(TABLE);
        assert_eq!(r.len(), 7);
        let d = r.decide(&facts(b"INVITE", Some(b"0900123"), b"x", &no_headers));
        assert_eq!(
            d,
            Decision::Dispatch {
                rule: "premium",
                set: "premium",
                record_route: false,
                path: false,
                authenticate: false
            }
        );
        // same number, different method: premium does not match; 7 digits: not "digits"
        let d = r.decide(&facts(
            b"MESSAGE",
            Some(b"0900123"),
            b"127.0.0.1",
            &no_headers,
        ));
        assert_eq!(d, Decision::NoMatch);
        let d = r.decide(&facts(b"MESSAGE", Some(b"123"), b"127.0.0.1", &no_headers));
        assert_eq!(
            d,
            Decision::Reply {
                rule: "digits",
                status: 404,
                reason: "Not Found"
            }
        );
        // "@local" expands to the local hosts only
        let d = r.decide(&facts(b"MESSAGE", Some(b"123"), b"elsewhere", &no_headers));
        assert_eq!(d, Decision::NoMatch);
        let d = r.decide(&facts(b"OPTIONS", None, b"example.com", &no_headers));
        assert_eq!(
            d,
            Decision::Reply {
                rule: "teapot",
                status: 480,
                reason: "Gone Fishing"
            }
        );
    }

    #[test]
    fn headers_sources_listeners_dialogs() {
        let r = router(TABLE);
        fn ua(n: &[u8]) -> Option<&'static [u8]> {
            n.eq_ignore_ascii_case(b"user-agent")
                .then_some(&b"Friendly-Scanner 1.0"[..])
        }
        let d = r.decide(&facts(b"INVITE", Some(b"0900"), b"x", &ua));
        assert_eq!(d, Decision::Drop { rule: "scanners" });
        let mut f = facts(b"BYE", None, b"x", &no_headers);
        f.source = "10.9.8.7:5060".parse().unwrap();
        assert!(matches!(
            r.decide(&f),
            Decision::Dispatch {
                rule: "trusted",
                ..
            }
        ));
        f.source = "11.0.0.1:5060".parse().unwrap();
        f.in_dialog = true;
        assert_eq!(r.decide(&f), Decision::NoMatch, "listener condition");
        f.listener = "core";
        assert!(matches!(
            r.decide(&f),
            Decision::Dispatch {
                rule: "in-dialog",
                ..
            }
        ));
    }

    #[test]
    fn absent_header() {
        let r = router(
            "[[route]]\nname = \"a\"\nheader = [{ name = \"X-Skip\", absent = true }]\nreply = 403\n",
        );
        assert!(matches!(
            r.decide(&facts(b"INVITE", None, b"x", &no_headers)),
            Decision::Reply {
                status: 403,
                reason: "Forbidden",
                ..
            }
        ));
        fn skip(_: &[u8]) -> Option<&'static [u8]> {
            Some(&b"1"[..])
        }
        assert_eq!(
            r.decide(&facts(b"INVITE", None, b"x", &skip)),
            Decision::NoMatch
        );
    }
}
