//! Check-digit algorithms for the identifiers that carry one. A check digit
//! is what lets a bare number be redacted without a trigger word: a random
//! digit string passes Luhn one time in ten, a random IBAN one time in 97.
//!
//! Every function takes the identifier without separators and returns false
//! for anything of the wrong length or alphabet rather than panicking.

/// Luhn (mod 10), as used by payment cards and NPIs. Needs at least two
/// digits; separators must be removed first.
pub fn luhn_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.len() < 2 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    luhn_sum(b, 0).is_multiple_of(10)
}

/// The Luhn sum of `b` (rightmost digit undoubled), plus `carry`.
fn luhn_sum(b: &[u8], carry: u32) -> u32 {
    b.iter().rev().enumerate().fold(carry, |sum, (i, &c)| {
        let d = u32::from(c - b'0');
        sum + if i % 2 == 1 {
            if d > 4 { d * 2 - 9 } else { d * 2 }
        } else {
            d
        }
    })
}

/// US National Provider Identifier: 10 digits whose Luhn check covers the
/// prefix 80840 (the card-issuer prefix the standard borrows).
pub fn npi_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.len() != 10 || !b.iter().all(u8::is_ascii_digit) || !matches!(b[0], b'1' | b'2') {
        return false;
    }
    // Of the prefix 80840, only the 4 and the middle 0 land on doubled
    // positions, so it always adds 8 + (4·2) + 8 + 0 + 0 = 24 to the sum.
    luhn_sum(b, 24).is_multiple_of(10)
}

/// ABA routing transit number: 9 digits, weights 3-7-1 repeated, sum ≡ 0
/// (mod 10). The first two digits name a Federal Reserve district, so only
/// 00-12, 21-32, 61-72 and 80 occur.
pub fn aba_valid(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let prefix = u32::from(b[0] - b'0') * 10 + u32::from(b[1] - b'0');
    if !matches!(prefix, 0..=12 | 21..=32 | 61..=72 | 80) || b.iter().all(|&c| c == b'0') {
        return false;
    }
    let sum: u32 = b
        .iter()
        .zip([3, 7, 1].iter().cycle())
        .map(|(&c, &w)| u32::from(c - b'0') * w)
        .sum();
    sum.is_multiple_of(10)
}

/// IBAN: country code, two check digits and up to 30 alphanumerics; moving
/// the first four characters to the end and reading letters as 10..35 gives
/// a number ≡ 1 (mod 97). Where the country's length is known it must match.
pub fn iban_valid(iban: &str) -> bool {
    let b = iban.as_bytes();
    if !(15..=34).contains(&b.len())
        || !b[..2].iter().all(u8::is_ascii_alphabetic)
        || !b[2..4].iter().all(u8::is_ascii_digit)
        || !b.iter().all(u8::is_ascii_alphanumeric)
    {
        return false;
    }
    let country = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
    if let Some(len) = iban_length(&country)
        && len != b.len()
    {
        return false;
    }
    let mut rem: u32 = 0;
    for &c in b[4..].iter().chain(&b[..4]) {
        let c = c.to_ascii_uppercase();
        if c.is_ascii_digit() {
            rem = (rem * 10 + u32::from(c - b'0')) % 97;
        } else {
            rem = (rem * 100 + u32::from(c - b'A') + 10) % 97;
        }
    }
    rem == 1
}

/// Registered IBAN lengths for the countries patients are likeliest to bank
/// in; others only get the generic 15..=34 bound.
fn iban_length(country: &[u8; 2]) -> Option<usize> {
    Some(match country {
        b"AD" => 24,
        b"AT" => 20,
        b"BE" => 16,
        b"BG" => 22,
        b"BR" => 29,
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
        b"GR" => 27,
        b"HR" => 21,
        b"HU" => 28,
        b"IE" => 22,
        b"IS" => 26,
        b"IT" => 27,
        b"LT" => 20,
        b"LU" => 20,
        b"LV" => 21,
        b"MT" => 31,
        b"NL" => 18,
        b"NO" => 15,
        b"PL" => 28,
        b"PT" => 25,
        b"RO" => 24,
        b"SE" => 24,
        b"SI" => 19,
        b"SK" => 24,
        _ => return None,
    })
}

/// DEA registration number: two letters and seven digits, where
/// d1+d3+d5 + 2·(d2+d4+d6) ends in d7. The first letter is the registrant
/// type, which only takes a few values.
pub fn dea_valid(dea: &str) -> bool {
    let b = dea.as_bytes();
    if b.len() != 9
        || !b"ABCDEFGHJKLMPRSTUX".contains(&b[0].to_ascii_uppercase())
        || !(b[1].is_ascii_alphabetic() || b[1] == b'9')
        || !b[2..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let d: Vec<u32> = b[2..].iter().map(|&c| u32::from(c - b'0')).collect();
    (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]
}

/// Vehicle identification number: 17 characters without I, O or Q whose
/// ninth is a mod-11 check over the transliterated others ('X' for 10).
pub fn vin_valid(vin: &str) -> bool {
    const WEIGHTS: [u32; 17] = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2];
    let b = vin.as_bytes();
    if b.len() != 17 {
        return false;
    }
    let mut sum = 0;
    for (i, &c) in b.iter().enumerate() {
        let Some(v) = vin_value(c.to_ascii_uppercase()) else {
            return false;
        };
        sum += v * WEIGHTS[i];
    }
    let check = match sum % 11 {
        10 => b'X',
        n => b'0' + n as u8,
    };
    b[8].to_ascii_uppercase() == check
}

fn vin_value(c: u8) -> Option<u32> {
    Some(match c {
        b'0'..=b'9' => u32::from(c - b'0'),
        b'A' | b'J' => 1,
        b'B' | b'K' | b'S' => 2,
        b'C' | b'L' | b'T' => 3,
        b'D' | b'M' | b'U' => 4,
        b'E' | b'N' | b'V' => 5,
        b'F' | b'W' => 6,
        b'G' | b'P' | b'X' => 7,
        b'H' | b'Y' => 8,
        b'R' | b'Z' => 9,
        _ => return None,
    })
}

/// Medicare Beneficiary Identifier, dashes removed: 11 characters shaped
/// C A AN N A AN N A A N N, where C is 1-9, N a digit, A a letter other than
/// S L O I B Z, and AN either. It has no check digit, but the shape alone is
/// rare in prose.
pub fn mbi_valid(mbi: &str) -> bool {
    #[derive(Clone, Copy)]
    enum P {
        C,
        A,
        AN,
        N,
    }
    const SHAPE: [P; 11] = [
        P::C,
        P::A,
        P::AN,
        P::N,
        P::A,
        P::AN,
        P::N,
        P::A,
        P::A,
        P::N,
        P::N,
    ];
    let b = mbi.as_bytes();
    if b.len() != 11 {
        return false;
    }
    let letter = |c: u8| c.is_ascii_uppercase() && !b"SLOIBZ".contains(&c);
    b.iter().zip(SHAPE).all(|(&c, p)| match p {
        P::C => (b'1'..=b'9').contains(&c),
        P::A => letter(c),
        P::AN => letter(c) || c.is_ascii_digit(),
        P::N => c.is_ascii_digit(),
    })
}

/// Whether a 9-digit SSN could have been issued: area not 000, 666 or 9xx,
/// group not 00, serial not 0000.
pub fn ssn_plausible(digits: &str) -> bool {
    let b = digits.as_bytes();
    if b.len() != 9 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let area = &b[..3];
    area != b"000" && area != b"666" && area[0] != b'9' && &b[3..5] != b"00" && &b[5..] != b"0000"
}
