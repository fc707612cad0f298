//! Numbers: SSNs, record, member and account numbers, valid card numbers
//! (Luhn) and IBANs (mod 97), driver's licences.

use rand::Rng;
use rand::seq::IndexedRandom;

use crate::generator::Gen;
use crate::lists::MBI_LETTERS;

impl Gen {
    pub(crate) fn ssn(&mut self) -> String {
        let area = loop {
            let a = self.rng.random_range(1..900);
            if a != 666 {
                break a;
            }
        };
        let group = self.rng.random_range(1..100);
        let serial = self.rng.random_range(1..10000);
        match self.rng.random_range(0..3) {
            0 => format!("{area:03}-{group:02}-{serial:04}"),
            1 => format!("{area:03} {group:02} {serial:04}"),
            _ => format!("{area:03}{group:02}{serial:04}"),
        }
    }

    pub(crate) fn mrn(&mut self) -> String {
        match self.rng.random_range(0..4) {
            0 => format!("00{}", self.digits(6)),
            1 => format!("{}{}", self.letters(1), self.digits(7)),
            2 => self.digits(10),
            _ => format!("E{}", self.digits(9)),
        }
    }

    pub(crate) fn member_id(&mut self) -> String {
        match self.rng.random_range(0..5) {
            0 => format!("{}{}", self.letters(3), self.digits(9)),
            1 => format!("W{}", self.digits(9)),
            2 => self.digits(9),
            3 => self.digits(11),
            _ => format!("{}{}", self.letters(2), self.digits(8)),
        }
    }

    /// A Medicare Beneficiary Identifier: digit, letter, letter or digit,
    /// digit, letter, letter or digit, digit, letter, letter, digit, digit.
    pub(crate) fn mbi(&mut self) -> String {
        let mut s = self.rng.random_range(1..10).to_string();
        for class in "AENAENAANN".chars() {
            let c = match class {
                'E' if self.chance(0.5) => self.digits(1),
                'A' | 'E' => self.mbi_letter(),
                _ => self.digits(1),
            };
            s.push_str(&c);
        }
        if self.chance(0.4) {
            format!("{}-{}-{}", &s[..4], &s[4..7], &s[7..])
        } else {
            s
        }
    }

    fn mbi_letter(&mut self) -> String {
        char::from(*MBI_LETTERS.choose(&mut self.rng).expect("non-empty")).to_string()
    }

    pub(crate) fn account(&mut self) -> String {
        match self.rng.random_range(0..4) {
            0 => self.digits_between(8, 11),
            1 => format!("{}-{}", self.digits(4), self.digits(4)),
            2 => format!("00{}", self.digits(8)),
            _ => format!("{}-{}-{}", self.digits(3), self.digits(6), self.digits(2)),
        }
    }

    pub(crate) fn card(&mut self) -> String {
        let (prefix, len) = match self.rng.random_range(0..4) {
            0 => ("4".to_string(), 16),
            1 => (format!("5{}", self.rng.random_range(1..=5)), 16),
            2 => (self.pick(&["34", "37"]).to_string(), 15),
            _ => ("6011".to_string(), 16),
        };
        let mut digits = prefix;
        let rest = len - 1 - digits.len();
        digits.push_str(&self.digits(rest));
        digits.push(char::from(b'0' + luhn_check_digit(&digits)));
        assert!(luhn_valid(&digits), "{digits} fails Luhn");
        let groups: &[usize] = if len == 15 { &[4, 6, 5] } else { &[4, 4, 4, 4] };
        let sep = self.pick(&[" ", "-", ""]);
        let mut out = String::new();
        let mut at = 0;
        for (i, g) in groups.iter().enumerate() {
            if i > 0 {
                out.push_str(sep);
            }
            out.push_str(&digits[at..at + g]);
            at += g;
        }
        out
    }

    pub(crate) fn iban(&mut self) -> String {
        let (country, bban) = match self.rng.random_range(0..6) {
            0 => ("DE", self.digits(18)),
            1 => ("GB", format!("{}{}", self.letters(4), self.digits(14))),
            2 => ("FR", self.digits(23)),
            3 => ("ES", self.digits(20)),
            4 => ("NL", format!("{}{}", self.letters(4), self.digits(10))),
            _ => ("IT", format!("{}{}", self.letters(1), self.digits(22))),
        };
        let check = 98 - mod97(&format!("{bban}{country}00"));
        let compact = format!("{country}{check:02}{bban}");
        assert!(iban_valid(&compact), "{compact} fails mod 97");
        if self.chance(0.5) {
            compact
        } else {
            let chars: Vec<char> = compact.chars().collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join(" ")
        }
    }

    pub(crate) fn driver_license(&mut self) -> String {
        match self.rng.random_range(0..7) {
            // California.
            0 => format!("{}{}", self.letters(1), self.digits(7)),
            // Florida.
            1 => format!(
                "{}{}-{}-{}-{}-{}",
                self.letters(1),
                self.digits(3),
                self.digits(3),
                self.digits(2),
                self.digits(3),
                self.digits(1)
            ),
            // Illinois.
            2 => format!(
                "{}{}-{}-{}",
                self.letters(1),
                self.digits(3),
                self.digits(4),
                self.digits(4)
            ),
            // New York.
            3 => format!("{} {} {}", self.digits(3), self.digits(3), self.digits(3)),
            // Texas.
            4 => self.digits(8),
            // Washington.
            5 => format!("WDL{}{}", self.letters(3), self.digits(6)),
            // Michigan.
            _ => format!(
                "{} {} {} {} {}",
                self.letters(1),
                self.digits(3),
                self.digits(3),
                self.digits(3),
                self.digits(3)
            ),
        }
    }
}

/// The Luhn digit that makes `payload` followed by it valid.
fn luhn_check_digit(payload: &str) -> u8 {
    let sum: u32 = payload
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    u8::try_from((10 - sum % 10) % 10).expect("a digit")
}

fn luhn_valid(digits: &str) -> bool {
    let (payload, check) = digits.split_at(digits.len() - 1);
    check.as_bytes()[0] - b'0' == luhn_check_digit(payload)
}

/// `s` (letters and digits) read as an IBAN number, modulo 97.
fn mod97(s: &str) -> u32 {
    s.chars().fold(0, |r, c| {
        let v = c.to_digit(36).expect("IBANs are alphanumeric");
        if v < 10 {
            (r * 10 + v) % 97
        } else {
            (r * 100 + v) % 97
        }
    })
}

fn iban_valid(iban: &str) -> bool {
    let (head, tail) = iban.split_at(4);
    mod97(&format!("{tail}{head}")) == 1
}
