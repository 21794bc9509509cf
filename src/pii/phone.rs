//! Phone numbers for CH, DE, AT, FR, IT, LI, UK and US, national and international (E.164,
//! `+` or `00` prefix, optional `(0)` trunk), checked against per-country lengths of the
//! national significant number. A phone shape after an order/invoice/reference cue is dropped
//! unless a phone cue is nearer.

use super::context::{flag, Context};
use super::numbers::Span;

/// National significant number lengths for the countries we know precisely.
fn nsn_ok(cc: &[u8], nsn: &[u8]) -> Option<bool> {
    let n = nsn.len();
    let first = *nsn.first()?;
    Some(match cc {
        b"41" => n == 9 && first != b'0',
        b"423" => n == 7,
        b"49" => (6..=13).contains(&n) && first != b'0',
        b"43" => (4..=13).contains(&n) && first != b'0',
        b"33" => n == 9 && first != b'0',
        b"39" => (6..=11).contains(&n),
        b"44" => (9..=10).contains(&n) && first != b'0',
        b"1" => n == 10 && first >= b'2' && nsn[3] >= b'2',
        _ => return None,
    })
}

/// Country codes accepted with generic length rules (EU/EEA neighbours and frequent others).
const OTHER_CC: &[&[u8]] = &[
    b"30", b"31", b"32", b"34", b"36", b"45", b"46", b"47", b"48", b"351", b"352", b"353", b"354", b"356", b"357",
    b"358", b"359", b"370", b"371", b"372", b"377", b"385", b"386", b"420", b"421", b"40", b"90", b"61", b"64", b"81",
    b"86", b"91", b"7", b"27", b"55", b"52",
];

fn international(span: &Span<'_>, digits: &[u8]) -> Option<f32> {
    let trunk = span.text.contains("(0)");
    for cc_len in [1usize, 2, 3] {
        if digits.len() <= cc_len + 4 {
            continue;
        }
        let (cc, mut nsn) = digits.split_at(cc_len);
        if trunk && nsn.first() == Some(&b'0') {
            nsn = &nsn[1..];
        }
        match nsn_ok(cc, nsn) {
            Some(true) => return Some(0.8),
            Some(false) => return None,
            None if OTHER_CC.contains(&cc) && (7..=12).contains(&nsn.len()) && !trunk => return Some(0.65),
            None => {}
        }
    }
    None
}

/// A date or time shape (`12.03.2024`, `1/2/24`, `2024-03-12`) is never a phone number.
fn date_like(span: &Span<'_>) -> bool {
    let g = span.groups();
    let dated = span.uniform_sep(b"./-") && g.len() == 3;
    dated && ((g[0] <= 2 && g[1] <= 2 && (g[2] == 2 || g[2] == 4)) || (g[0] == 4 && g[1] == 2 && g[2] == 2))
}

/// National forms: trunk `0` + area code, or North American `(NPA) NXX-XXXX`, or Italian mobile.
fn national(span: &Span<'_>, d: &[u8], cue: bool) -> Option<f32> {
    let n = d.len();
    let grouped = span.ngroups >= 2;
    let g = span.groups();
    if d[0] == b'0' && d.get(1).is_some_and(|&x| x != b'0') {
        let len_ok = (9..=12).contains(&n) || (cue && (7..=12).contains(&n));
        let area_ok = !grouped || (2..=5).contains(&g[0]);
        let slashes = span.text.bytes().filter(|&b| b == b'/').count();
        if len_ok && area_ok && (grouped || cue) && slashes <= 1 {
            return Some(0.65);
        }
        return None;
    }
    if n == 10 && (g == [3, 3, 4] || g == [3, 7] || g == [3, 3, 2, 2]) {
        let us = d[0] >= b'2' && d[3] >= b'2' && (span.text.starts_with('(') || span.uniform_sep(b" -."));
        let it_mobile = d[0] == b'3' && span.uniform_sep(b" ");
        if us || it_mobile {
            return Some(0.6);
        }
    }
    None
}

/// Score for a phone number at `[s, e)`, or None when it is not one.
pub fn check(ctx: &Context<'_>, s: usize, _e: usize, span: &Span<'_>, negated: bool) -> Option<f32> {
    let d = span.digits();
    if !(7..=15).contains(&d.len()) || date_like(span) {
        return None;
    }
    if span.has_sep(b'.') && !span.uniform_sep(b".") {
        return None;
    }
    let cue = ctx.cue_before(s, 40, flag::PHONE);
    if negated {
        return None;
    }
    let base = if span.text.starts_with('+') {
        international(span, d)?
    } else if d.starts_with(b"00") {
        international(span, &d[2..])?
    } else {
        national(span, d, cue)?
    };
    Some(if cue { base + 0.25 } else { base })
}
