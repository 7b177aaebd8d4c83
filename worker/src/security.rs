//! Defences that run before routing: banned sources dropped before parsing, scanner
//! User-Agents dropped (and optionally banned), and flood detection — requests per source
//! address counted locally, added up over all workers in the store every tick, and a ban for
//! whoever goes over the limit. Bans live in the store, so every worker enforces them within
//! a tick and they survive restarts; trusted addresses are never counted or banned.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use shared::config::routing::{cidr_contains, parse_cidr};
use shared::store::{Ban, Store};

pub struct Guard {
    scanners: Vec<Vec<u8>>,
    ban_scanners: bool,
    flood_limit: u64,
    window: u64,
    ban_seconds: u64,
    trusted: Vec<(IpAddr, u8)>,
    /// Requests per source since the last tick.
    counts: HashMap<IpAddr, u64, foldhash::fast::RandomState>,
    /// Bans as of the last tick (plus the ones made here since).
    banned: HashSet<IpAddr>,
    /// Bans decided here, written at the next tick.
    pending: Vec<(IpAddr, String)>,
    /// Command run on every new ban (address, seconds, reason).
    hook: String,
    /// Hook processes not reaped yet.
    children: Vec<std::process::Child>,
}

impl Guard {
    pub fn from_config(s: &shared::config::Security) -> Guard {
        Guard {
            scanners: s
                .scanner_user_agents
                .iter()
                .map(|p| p.to_ascii_lowercase().into_bytes())
                .collect(),
            ban_scanners: s.scanner_action == "ban",
            flood_limit: s.flood_limit,
            window: s.flood_window.max(1),
            ban_seconds: s.ban_seconds,
            trusted: s.trusted.iter().filter_map(|c| parse_cidr(c)).collect(),
            counts: HashMap::default(),
            banned: HashSet::new(),
            pending: Vec::new(),
            hook: s.ban_hook.clone(),
            children: Vec::new(),
        }
    }

    /// Take a reloaded configuration; counts and bans carry over.
    pub fn reconfigure(&mut self, new: Guard) {
        let (counts, banned, pending, children) = (
            std::mem::take(&mut self.counts),
            std::mem::take(&mut self.banned),
            std::mem::take(&mut self.pending),
            std::mem::take(&mut self.children),
        );
        *self = Guard {
            counts,
            banned,
            pending,
            children,
            ..new
        };
    }

    pub fn is_trusted(&self, ip: IpAddr) -> bool {
        self.trusted
            .iter()
            .any(|&(net, len)| cidr_contains(net, len, ip))
    }

    pub fn is_banned(&self, ip: IpAddr) -> bool {
        !self.banned.is_empty() && self.banned.contains(&ip)
    }

    /// One request from `ip` (not for steered datagrams: counted where they landed).
    pub fn count(&mut self, ip: IpAddr) {
        if self.flood_limit > 0 {
            *self.counts.entry(ip).or_insert(0) += 1;
        }
    }

    pub fn is_scanner(&self, user_agent: &[u8]) -> bool {
        !user_agent.is_empty()
            && self.scanners.iter().any(|p| {
                user_agent
                    .windows(p.len())
                    .any(|w| w.eq_ignore_ascii_case(p))
            })
    }

    /// A scanner was seen from `ip`: banned too when configured so.
    pub fn scanner_seen(&mut self, ip: IpAddr) {
        if self.ban_scanners && !self.is_trusted(ip) && self.banned.insert(ip) {
            self.pending.push((ip, "scanner User-Agent".into()));
        }
    }

    /// Every tick: add this worker's counts to the shared windows, ban who is over the limit,
    /// write pending bans, and reload the ban list. Returns how many bans this tick made.
    pub fn tick(&mut self, store: &Store, now: u64) -> usize {
        let counts = std::mem::take(&mut self.counts);
        let window_start = now - now % self.window;
        let limit = self.flood_limit;
        let mut new_bans = std::mem::take(&mut self.pending);
        let trusted = self.trusted.clone();
        let res = if counts.is_empty() && new_bans.is_empty() {
            Ok(())
        } else {
            store.write(|w| {
                for (ip, n) in &counts {
                    if trusted
                        .iter()
                        .any(|&(net, len)| cidr_contains(net, len, *ip))
                    {
                        continue;
                    }
                    let key = format!("flood/{ip}");
                    let total = w.incr_window(key.as_bytes(), window_start, *n)?;
                    // Write transactions are serialised: a ban another worker just wrote is seen
                    // here, so each flood is banned (and logged, and hooked) once.
                    if total > limit
                        && !self.banned.contains(ip)
                        && !w.is_banned(&ip.to_string(), now)?
                    {
                        new_bans
                            .push((*ip, format!("flood: {total} requests in {} s", self.window)));
                    }
                }
                for (ip, reason) in &new_bans {
                    w.ban(&Ban {
                        ip: ip.to_string(),
                        until: now + self.ban_seconds,
                        reason: reason.clone(),
                        created: now,
                        hits: 0,
                    })?;
                }
                Ok(())
            })
        };
        if let Err(e) = res {
            tracing::warn!(error = %e, "cannot update flood counters and bans");
        }
        for (ip, reason) in &new_bans {
            // The line fail2ban's filter (deploy/fail2ban/) matches.
            tracing::warn!(
                "sipedge ban: source {ip} banned for {} s: {reason}",
                self.ban_seconds
            );
            self.banned.insert(*ip);
            if !self.hook.is_empty() {
                // Not waited for: a slow hook must not stall the event loop; finished ones
                // are reaped at the next ticks.
                let spawned = std::process::Command::new(&self.hook)
                    .arg(ip.to_string())
                    .arg(self.ban_seconds.to_string())
                    .arg(reason)
                    .stdin(std::process::Stdio::null())
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .spawn();
                match spawned {
                    Ok(child) => self.children.push(child),
                    Err(e) => {
                        tracing::warn!(error = %e, hook = %self.hook, "ban hook did not start")
                    }
                }
            }
        }
        // Reap hooks that finished.
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        match store.list_bans(100_000) {
            Ok(bans) => {
                self.banned = bans
                    .iter()
                    .filter(|b| b.until > now)
                    .filter_map(|b| b.ip.parse().ok())
                    .collect();
            }
            Err(e) => tracing::warn!(error = %e, "cannot read bans"),
        }
        new_bans.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(extra: &str) -> Guard {
        let c = shared::config::Config::from_str(
            &format!("[[listen]]\naddress = \"127.0.0.1:5060\"\n[security]\n{extra}"),
            std::path::Path::new("t.toml"),
        )
        .unwrap();
        Guard::from_config(&c.security)
    }

    #[test]
    fn scanners_floods_and_trust() {
        let dir = std::env::temp_dir().join(format!("sipedge-guard-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&dir, 64).unwrap();
        let mut g = guard("flood_limit = 10\ntrusted = [\"127.0.0.9\"]\nscanner_action = \"ban\"");
        assert!(g.is_scanner(b"Friendly-Scanner/1.0"));
        assert!(g.is_scanner(b"sipvicious"));
        assert!(!g.is_scanner(b"Asterisk PBX 18"));
        let (a, b, t): (IpAddr, IpAddr, IpAddr) = (
            "127.0.0.5".parse().unwrap(),
            "127.0.0.6".parse().unwrap(),
            "127.0.0.9".parse().unwrap(),
        );
        for _ in 0..6 {
            g.count(a);
            g.count(t);
        }
        assert_eq!(g.tick(&store, 1000), 0);
        // Another worker's share pushes it over the limit in the same window.
        let mut other = guard("flood_limit = 10\ntrusted = [\"127.0.0.9\"]");
        for _ in 0..6 {
            other.count(a);
            other.count(t);
        }
        assert_eq!(other.tick(&store, 1001), 1);
        assert!(other.is_banned(a) && !other.is_banned(t));
        g.tick(&store, 1001);
        assert!(g.is_banned(a), "bans reach every worker through the store");
        g.scanner_seen(b);
        g.scanner_seen(t);
        assert_eq!(g.tick(&store, 1002), 1);
        assert!(g.is_banned(b) && !g.is_banned(t));
        // Bans end.
        g.tick(&store, 1000 + 301);
        assert!(!g.is_banned(a));
    }
}
