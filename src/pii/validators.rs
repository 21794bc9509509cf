//! Checksum and format validators for the identifiers the scanner recognizes.
//!
//! Every function takes the identifier with its separators already removed (ASCII digits and
//! upper-case letters only) and answers whether it is well formed. They never allocate on the
//! heap and never panic: a candidate that fails here is dropped by the scanner.

/// Value of an ASCII digit, `None` for anything else.
fn digit(b: u8) -> Option<u32> {
    b.is_ascii_digit().then(|| u32::from(b - b'0'))
}

/// All bytes are ASCII digits (and there is at least one).
pub fn all_digits(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(u8::is_ascii_digit)
}

/// Luhn (mod 10) checksum over a digit string, check digit last.
pub fn luhn(s: &[u8]) -> bool {
    if !all_digits(s) || s.len() < 2 {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in s.iter().rev().enumerate() {
        let mut d = u32::from(b - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

/// Payment card: 12-19 digits, Luhn, and a known issuer range (IIN) with a length it issues.
pub fn credit_card(s: &[u8]) -> bool {
    let n = s.len();
    if !(12..=19).contains(&n) || !luhn(s) {
        return false;
    }
    let p = |k: usize| -> u32 { s[..k].iter().fold(0, |a, &b| a * 10 + u32::from(b - b'0')) };
    let (p1, p2, p3, p4) = (p(1), p(2), p(3), p(4));
    match p1 {
        4 => matches!(n, 13 | 16 | 19),                                           // Visa
        2 => ((2221..=2720).contains(&p4) && n == 16) || (p4 == 2131 && n == 15), // Mastercard 2-series, old JCB
        5 => ((51..=55).contains(&p2) && n == 16) || p2 == 50 || p2 >= 56,        // Mastercard, Maestro
        3 => {
            ((p2 == 34 || p2 == 37) && n == 15)                             // Amex
                || (((300..=305).contains(&p3) || p2 == 36 || p2 == 38) && n == 14) // Diners
                || ((3528..=3589).contains(&p4) && n >= 16) // JCB
        }
        1 => p4 == 1800 && n == 15, // old 15-digit JCB
        // Discover (6011, 644-649, 65), UnionPay (62) and Maestro (56-69) cover all of 6x.
        6 => n >= 12,
        _ => false,
    }
}

/// IBAN length per country (ISO 13616 registry, SEPA countries and common others).
pub fn iban_length(country: &[u8]) -> Option<usize> {
    Some(match country {
        b"AD" => 24,
        b"AT" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"CH" => 21,
        b"CY" => 28,
        b"CZ" => 24,
        b"DE" => 22,
        b"DK" => 18,
        b"EE" => 20,
        b"ES" => 24,
        b"FI" => 18,
        b"FR" => 27,
        b"GB" => 22,
        b"GI" => 23,
        b"GR" => 27,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IS" => 26,
        b"IT" => 27,
        b"LI" => 21,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MC" => 27,
        b"MT" => 31,
        b"NL" => 18,
        b"NO" => 15,
        b"PL" => 28,
        b"PT" => 25,
        b"RO" => 24,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        b"SM" => 27,
        b"VA" => 22,
        b"TR" => 26,
        b"AE" => 23,
        b"SA" => 24,
        b"IL" => 23,
        _ => return None,
    })
}

/// Value of an alphanumeric IBAN character (A=10 .. Z=35).
fn alnum_value(b: u8) -> Option<u32> {
    match b {
        b'0'..=b'9' => Some(u32::from(b - b'0')),
        b'A'..=b'Z' => Some(u32::from(b - b'A') + 10),
        _ => None,
    }
}

/// IBAN: known country, exact length for it, and ISO 7064 mod 97-10 == 1.
pub fn iban(s: &[u8]) -> bool {
    if s.len() < 5 || iban_length(&s[..2]) != Some(s.len()) || !s[2..4].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let mut rem = 0u32;
    for &b in s[4..].iter().chain(&s[..4]) {
        let Some(v) = alnum_value(b) else {
            return false;
        };
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    rem == 1
}

/// EAN-13 check digit (weights 1,3 from the left), as used by the Swiss AHV/AVS number.
pub fn ean13(s: &[u8]) -> bool {
    if s.len() != 13 || !all_digits(s) {
        return false;
    }
    let sum: u32 = s[..12].iter().enumerate().map(|(i, &b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 }).sum();
    (10 - sum % 10) % 10 == u32::from(s[12] - b'0')
}

/// Swiss AHV/AVS number: 756 + 9 digits + EAN-13 check digit.
pub fn ch_ahv(s: &[u8]) -> bool {
    s.starts_with(b"756") && ean13(s)
}

/// Swiss UID (9 digits after CHE): mod 11 with weights 5,4,3,2,7,6,5,4; remainder 10 is invalid.
pub fn ch_uid(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(s) {
        return false;
    }
    const W: [u32; 8] = [5, 4, 3, 2, 7, 6, 5, 4];
    let sum: u32 = s[..8].iter().zip(W).map(|(&b, w)| u32::from(b - b'0') * w).sum();
    let check = (11 - sum % 11) % 11;
    check != 10 && check == u32::from(s[8] - b'0')
}

/// ISO 7064 MOD 11,10 over all digits but the last; true when the last digit is the check.
pub fn iso7064_mod11_10(s: &[u8]) -> bool {
    if s.len() < 2 || !all_digits(s) {
        return false;
    }
    let mut product = 10u32;
    for &b in &s[..s.len() - 1] {
        let mut sum = (u32::from(b - b'0') + product) % 10;
        if sum == 0 {
            sum = 10;
        }
        product = (sum * 2) % 11;
    }
    let check = (11 - product) % 10;
    check == u32::from(s[s.len() - 1] - b'0')
}

/// German Steuer-IdNr: 11 digits, no leading zero, in the first ten digits exactly one digit
/// occurs two or three times (and, if three times, not three in a row), check digit mod 11,10.
pub fn de_tax_id(s: &[u8]) -> bool {
    if s.len() != 11 || !all_digits(s) || s[0] == b'0' {
        return false;
    }
    let mut counts = [0u8; 10];
    for &b in &s[..10] {
        counts[usize::from(b - b'0')] += 1;
    }
    let repeated: Vec<u8> = counts.iter().copied().filter(|&c| c > 1).collect();
    if repeated.len() != 1 || repeated[0] > 3 {
        return false;
    }
    if repeated[0] == 3 && s[..10].windows(3).any(|w| w[0] == w[1] && w[1] == w[2]) {
        return false;
    }
    iso7064_mod11_10(s)
}

/// French NIR (numéro de sécurité sociale): 13 digits + 2-digit key = 97 - (number mod 97).
/// Sex digit 1, 2 (or 3, 4, 7, 8 for provisional numbers); month 01-12, 20-42 or 50-99.
pub fn fr_nir(s: &[u8]) -> bool {
    if s.len() != 15 || !all_digits(s) || !matches!(s[0], b'1' | b'2' | b'3' | b'4' | b'7' | b'8') {
        return false;
    }
    let month = digit(s[3]).unwrap_or(0) * 10 + digit(s[4]).unwrap_or(0);
    if !((1..=12).contains(&month) || (20..=42).contains(&month) || month >= 50) {
        return false;
    }
    let number = s[..13].iter().fold(0u64, |a, &b| a * 10 + u64::from(b - b'0'));
    let key = u64::from(digit(s[13]).unwrap_or(0) * 10 + digit(s[14]).unwrap_or(0));
    97 - number % 97 == key
}

/// Italian codice fiscale: 16 characters, check character from odd/even position tables.
/// Accepts omocodia substitutions (LMNPQRSTUV for digits).
pub fn it_fiscal_code(s: &[u8]) -> bool {
    if s.len() != 16 || !s.iter().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return false;
    }
    const ODD: [u32; 26] =
        [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
    let mut sum = 0u32;
    for (i, &b) in s[..15].iter().enumerate() {
        let idx = if b.is_ascii_digit() { usize::from(b - b'0') } else { usize::from(b - b'A') };
        sum += if i % 2 == 0 { ODD[idx] } else { idx as u32 };
    }
    u32::from(s[15]) == u32::from(b'A') + sum % 26
}

const NIF_LETTERS: &[u8; 23] = b"TRWAGMYFPDXBNJZSQVHLCKE";

/// Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): letter = table[n mod 23].
pub fn es_nif(s: &[u8]) -> bool {
    if s.len() != 9 {
        return false;
    }
    let lead = match s[0] {
        b'X' => 0,
        b'Y' => 1,
        b'Z' => 2,
        b'0'..=b'9' => u32::from(s[0] - b'0'),
        _ => return false,
    };
    if !all_digits(&s[1..8]) {
        return false;
    }
    let n = s[1..8].iter().fold(lead, |a, &b| a * 10 + u32::from(b - b'0'));
    NIF_LETTERS.get((n % 23) as usize) == Some(&s[8])
}

/// UK National Insurance number: two prefix letters (D, F, I, Q, U, V never; O not second;
/// BG, GB, KN, NK, NT, TN, ZZ never), six digits, suffix A-D.
pub fn uk_nino(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(&s[2..8]) || !matches!(s[8], b'A'..=b'D') {
        return false;
    }
    let (a, b) = (s[0], s[1]);
    let bad = |c: u8| matches!(c, b'D' | b'F' | b'I' | b'Q' | b'U' | b'V');
    if !a.is_ascii_uppercase() || !b.is_ascii_uppercase() || bad(a) || bad(b) || b == b'O' {
        return false;
    }
    !matches!(&s[..2], b"BG" | b"GB" | b"KN" | b"NK" | b"NT" | b"TN" | b"ZZ")
}

/// US SSN: area not 000, 666 or 9xx; group not 00; serial not 0000; not a famous sample.
pub fn us_ssn(s: &[u8]) -> bool {
    if s.len() != 9 || !all_digits(s) {
        return false;
    }
    let area = &s[..3];
    if area == b"000" || area == b"666" || area[0] == b'9' || &s[3..5] == b"00" || &s[5..] == b"0000" {
        return false;
    }
    // Advertised and test numbers that are known not to belong to anyone.
    !matches!(s, b"078051120" | b"219099999" | b"123456789") && !s.iter().all(|&b| b == s[0])
}

/// UK NHS number: 10 digits, weights 10..2, check = 11 - sum mod 11 (11 -> 0, 10 invalid).
pub fn uk_nhs(s: &[u8]) -> bool {
    if s.len() != 10 || !all_digits(s) || s.iter().all(|&b| b == s[0]) {
        return false;
    }
    let sum: u32 = s[..9].iter().enumerate().map(|(i, &b)| u32::from(b - b'0') * (10 - i as u32)).sum();
    let check = match 11 - sum % 11 {
        11 => 0,
        10 => return false,
        c => c,
    };
    check == u32::from(s[9] - b'0')
}

/// EU VAT identification number, country prefix included; checks where the member state
/// publishes a checksum (DE, AT, FR, IT, BE, NL, LU, ES); other prefixes are rejected.
pub fn eu_vat(s: &[u8]) -> bool {
    if s.len() < 4 {
        return false;
    }
    let (cc, rest) = s.split_at(2);
    match cc {
        b"DE" => rest.len() == 9 && rest[0] != b'0' && iso7064_mod11_10(rest),
        b"AT" => at_vat(rest),
        b"FR" => fr_vat(rest),
        b"IT" => rest.len() == 11 && luhn(rest) && rest[..7] != *b"0000000",
        b"BE" => be_vat(rest),
        b"NL" => nl_vat(rest),
        b"LU" => rest.len() == 8 && all_digits(rest) && num(&rest[..6]) % 89 == num(&rest[6..]),
        b"ES" => rest.len() == 9 && (es_nif(rest) || es_cif(rest)),
        _ => false,
    }
}

/// Decimal value of a short digit string (callers check the digits first).
fn num(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |a, &b| a * 10 + u64::from(b.wrapping_sub(b'0') % 10))
}

fn at_vat(rest: &[u8]) -> bool {
    if rest.len() != 9 || rest[0] != b'U' || !all_digits(&rest[1..]) {
        return false;
    }
    let d = &rest[1..];
    let mut sum = 0u32;
    for (i, &b) in d[..7].iter().enumerate() {
        let v = u32::from(b - b'0');
        sum += if i % 2 == 1 { v * 2 / 10 + v * 2 % 10 } else { v };
    }
    (10 - (sum + 4) % 10) % 10 == u32::from(d[7] - b'0')
}

fn fr_vat(rest: &[u8]) -> bool {
    if rest.len() != 11 || !all_digits(&rest[2..]) {
        return false;
    }
    let siren = num(&rest[2..]);
    if all_digits(&rest[..2]) {
        num(&rest[..2]) == (12 + 3 * (siren % 97)) % 97
    } else {
        // Letter keys use a different algorithm; accept the format when the SIREN is Luhn-valid.
        luhn(&rest[2..])
    }
}

fn be_vat(rest: &[u8]) -> bool {
    rest.len() == 10
        && all_digits(rest)
        && matches!(rest[0], b'0' | b'1')
        && 97 - num(&rest[..8]) % 97 == num(&rest[8..])
}

fn nl_vat(rest: &[u8]) -> bool {
    if rest.len() != 12 || rest[9] != b'B' || !all_digits(&rest[..9]) || !all_digits(&rest[10..]) {
        return false;
    }
    let sum: u64 = rest[..8].iter().enumerate().map(|(i, &b)| u64::from(b - b'0') * (9 - i as u64)).sum();
    let classic = sum % 11 == u64::from(rest[8] - b'0') && sum % 11 != 10;
    // Since 2020 sole traders get numbers validated by ISO 7064 mod 97-10 over "NL" + number.
    let mut rem = 0u64;
    for &b in b"NL".iter().chain(rest.iter()) {
        let v = u64::from(alnum_value(b).unwrap_or(0));
        rem = if v >= 10 { (rem * 100 + v) % 97 } else { (rem * 10 + v) % 97 };
    }
    classic || rem == 1
}

/// Spanish CIF (company tax code): letter, 7 digits, control digit or letter.
fn es_cif(s: &[u8]) -> bool {
    if !matches!(s[0], b'A'..=b'H' | b'J' | b'N' | b'P'..=b'S' | b'U' | b'V' | b'W') || !all_digits(&s[1..8]) {
        return false;
    }
    let mut sum = 0u32;
    for (i, &b) in s[1..8].iter().enumerate() {
        let v = u32::from(b - b'0');
        sum += if i % 2 == 0 { (v * 2) / 10 + (v * 2) % 10 } else { v };
    }
    let control = (10 - sum % 10) % 10;
    s[8] == b'0' + control as u8 || s[8] == b"JABCDEFGHI"[control as usize]
}

/// IPv4 dotted quad with no leading zeros.
pub fn ipv4(s: &str) -> bool {
    let mut parts = 0;
    for part in s.split('.') {
        parts += 1;
        let ok = !part.is_empty()
            && part.len() <= 3
            && part.bytes().all(|b| b.is_ascii_digit())
            && !(part.len() > 1 && part.starts_with('0'))
            && part.parse::<u16>().map(|v| v <= 255).unwrap_or(false);
        if !ok {
            return false;
        }
    }
    parts == 4
}

/// IPv6 in any textual form std accepts, with at least one digit and three or more groups
/// (so that `a::b` in source code or `12:30:45` do not qualify).
pub fn ipv6(s: &str) -> bool {
    let groups = s.split(':').filter(|g| !g.is_empty()).count();
    (s.contains("::") || groups == 8)
        && groups >= 2
        && s.len() >= 6
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.parse::<std::net::Ipv6Addr>().is_ok()
}

/// Calendar date plausibility for a birth date (years 1900-2029).
pub fn birth_date(day: u32, month: u32, year: u32) -> bool {
    let leap = (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day) && (1900..=2029).contains(&year)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_accept_known_good_values() {
        assert!(luhn(b"4111111111111111"));
        assert!(credit_card(b"4111111111111111"));
        assert!(credit_card(b"378282246310005"));
        assert!(credit_card(b"5555555555554444"));
        assert!(!credit_card(b"4111111111111112"));
        assert!(iban(b"CH9300762011623852957"));
        assert!(iban(b"DE89370400440532013000"));
        assert!(iban(b"GB29NWBK60161331926819"));
        assert!(!iban(b"CH9300762011623852958"));
        assert!(!iban(b"CH930076201162385295"));
        assert!(ch_ahv(b"7569217076985"));
        assert!(!ch_ahv(b"7569217076984"));
        assert!(ch_uid(b"116281710")); // CHE-116.281.710
        assert!(de_tax_id(b"86095742719"));
        assert!(!de_tax_id(b"86095742718"));
        assert!(fr_nir(b"255081416802538"));
        assert!(it_fiscal_code(b"RSSMRA85T10A562S"));
        assert!(!it_fiscal_code(b"RSSMRA85T10A562T"));
        assert!(es_nif(b"12345678Z"));
        assert!(es_nif(b"X1234567L"));
        assert!(!es_nif(b"12345678A"));
        assert!(uk_nino(b"AB123456C"));
        assert!(!uk_nino(b"BG123456C"));
        assert!(uk_nhs(b"9434765919"));
        assert!(!uk_nhs(b"9434765918"));
        assert!(us_ssn(b"536225982"));
        assert!(!us_ssn(b"666225982"));
        assert!(eu_vat(b"DE136695976"));
        assert!(eu_vat(b"ATU13585627"));
        assert!(eu_vat(b"FR40303265045"));
        assert!(eu_vat(b"IT00743110157"));
        assert!(eu_vat(b"BE0403170701"));
        assert!(!eu_vat(b"DE136695977"));
        assert!(ipv4("192.168.1.20"));
        assert!(!ipv4("192.168.01.20"));
        assert!(!ipv4("1.2.3"));
        assert!(ipv6("2001:db8::8a2e:370:7334"));
        assert!(!ipv6("12:30:45"));
        assert!(birth_date(29, 2, 1988));
        assert!(!birth_date(29, 2, 1987));
    }
}
