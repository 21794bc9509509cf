//! Contact data recognizers that are not digit runs: e-mail addresses and IPv6 addresses.
//! (Phone numbers and IPv4 live with the digit runs in `numbers.rs`/`phone.rs`.)

use super::context::{flag, Context};
use super::scanner::{in_blob, word_bounded, Candidate, Kind};
use super::validators;
use regex::Regex;
use std::sync::LazyLock;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}")
        .expect("static regex")
});

static IPV6: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}").expect("static regex"));

/// E-mail addresses: RFC-ish shape, local part not starting or ending with a dot.
pub fn scan_emails(ctx: &Context<'_>, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    for m in EMAIL.find_iter(text) {
        let s = m.as_str();
        let local = s.split('@').next().unwrap_or("");
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            continue;
        }
        if !word_bounded(text, m.start(), m.end()) {
            continue;
        }
        let cue = ctx.cue_before(m.start(), 32, flag::EMAIL);
        out.push(Candidate::new(Kind::Email, m.start(), m.end(), if cue { 1.0 } else { 0.9 }, true));
    }
}

/// IPv6 addresses, validated by the standard library parser.
pub fn scan_ipv6(ctx: &Context<'_>, out: &mut Vec<Candidate>) {
    let text = ctx.text;
    for m in IPV6.find_iter(text) {
        let (s, e) = (m.start(), m.end());
        let before = text[..s].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == ':' || c == '_')
            || !word_bounded(text, s, e)
            || !validators::ipv6(m.as_str())
            || in_blob(text, s, e)
        {
            continue;
        }
        let cue = ctx.cue_before(s, 48, flag::IP);
        out.push(Candidate::new(Kind::Ip, s, e, if cue { 0.95 } else { 0.85 }, true));
    }
}
