//! Contact details: phone numbers, e-mail addresses, street addresses,
//! cities and ZIP codes, IP addresses and URLs.

use fake::Fake;
use fake::faker::address::en::{CityPrefix, StateAbbr, StreetName};
use fake::faker::internet::en::{FreeEmailProvider, IPv6, Username};
use fake::faker::name::en::LastName;
use rand::Rng;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;

use crate::generator::Gen;
use crate::lists::{CLINIC_DOMAINS, EMAIL_DOMAINS, REAL_CITIES, STREET_TYPES, STREET_WORDS};

impl Gen {
    fn us_number(&mut self) -> (String, String, String) {
        let area = format!("{}{}", self.rng.random_range(2..10), self.digits(2));
        let exchange = format!("{}{}", self.rng.random_range(2..10), self.digits(2));
        (area, exchange, self.digits(4))
    }

    pub(crate) fn phone(&mut self) -> String {
        let (a, e, l) = self.us_number();
        // Weighted towards the shapes people type most.
        match self.rng.random_range(0..20) {
            0..4 => format!("({a}) {e}-{l}"),
            4..8 => format!("{a}-{e}-{l}"),
            8..10 => format!("{a}.{e}.{l}"),
            10..12 => format!("{a}{e}{l}"),
            12 => format!("+1 {a} {e} {l}"),
            13 => format!("1-{a}-{e}-{l}"),
            14 => format!("+1 ({a}) {e}-{l}"),
            15 | 16 => format!("{a} {e} {l}"),
            17 => format!("+1-{a}-{e}-{l}"),
            18 => format!("({a}){e}-{l}"),
            _ => format!("{a}/{e}-{l}"),
        }
    }

    pub(crate) fn intl_phone(&mut self) -> String {
        match self.rng.random_range(0..8) {
            0 => format!("+44 20 7946 0{}", self.digits(3)),
            1 => format!("+44 7700 900{}", self.digits(3)),
            2 => format!("+52 55 {} {}", self.digits(4), self.digits(4)),
            3 => format!("+91 98{} {}", self.digits(3), self.digits(5)),
            4 => format!("+49 30 {}", self.digits(8)),
            5 => format!(
                "+33 6 {} {} {} {}",
                self.digits(2),
                self.digits(2),
                self.digits(2),
                self.digits(2)
            ),
            6 => format!("+234 803 {} {}", self.digits(3), self.digits(4)),
            _ => format!("+63 917 {} {}", self.digits(3), self.digits(4)),
        }
    }

    pub(crate) fn email(&mut self) -> String {
        let first = ascii_word(&self.me.first);
        let last = ascii_word(&self.me.last);
        let initial = &first[..1];
        let user = match self.rng.random_range(0..7) {
            0 => format!("{first}.{last}"),
            1 => format!("{first}{last}{}", self.rng.random_range(1..100)),
            2 => format!("{initial}{last}"),
            3 => format!("{first}_{last}{}", self.rng.random_range(60..100)),
            4 => format!("{first}{}", self.rng.random_range(1950..2010)),
            5 => Username().fake_with_rng(&mut self.rng),
            _ => format!("{last}.{first}"),
        };
        let domain: String = if self.chance(0.4) {
            FreeEmailProvider().fake_with_rng(&mut self.rng)
        } else {
            self.pick(EMAIL_DOMAINS).to_string()
        };
        format!("{user}@{domain}")
    }

    fn street(&mut self) -> String {
        let number = self.rng.random_range(1..20000);
        let name = if self.chance(0.45) {
            StreetName().fake_with_rng(&mut self.rng)
        } else {
            let dir = self.pick(&["", "", "", "N ", "S ", "E ", "W ", "North "]);
            format!(
                "{dir}{} {}",
                self.pick(STREET_WORDS),
                self.pick(STREET_TYPES)
            )
        };
        format!("{number} {name}")
    }

    pub(crate) fn address(&mut self) -> String {
        let mut s = self.street();
        if self.chance(0.3) {
            let unit = match self.rng.random_range(0..6) {
                0 => format!(", Apt {}{}", self.rng.random_range(1..30), self.letters(1)),
                1 => format!(" Apt. {}", self.rng.random_range(1..400)),
                2 => format!(" apt {}", self.rng.random_range(1..40)),
                3 => format!(", Unit {}", self.rng.random_range(1..20)),
                4 => format!(" #{}", self.rng.random_range(100..999)),
                _ => format!(" Fl {}", self.rng.random_range(2..6)),
            };
            s.push_str(&unit);
        }
        if self.chance(0.65) {
            s.push_str(&self.city_line());
        }
        s
    }

    pub(crate) fn city_line(&mut self) -> String {
        let city = self.city();
        let state: String = StateAbbr().fake_with_rng(&mut self.rng);
        match self.rng.random_range(0..4) {
            0 => format!(", {city}, {state} {}", self.zip()),
            1 => format!(" {city} {state} {}", self.zip()),
            2 => format!(", {city} {state}"),
            _ => format!(", {city}"),
        }
    }

    pub(crate) fn city(&mut self) -> String {
        match self.rng.random_range(0..100) {
            0..50 => self.pick(REAL_CITIES).to_string(),
            50..85 => {
                let base: String = LastName().fake_with_rng(&mut self.rng);
                let base: String = base.chars().filter(|c| c.is_alphabetic()).collect();
                format!(
                    "{base}{}",
                    self.pick(&["ville", "ton", "burg", "field", "port", "wood"])
                )
            }
            _ => {
                let prefix: String = CityPrefix().fake_with_rng(&mut self.rng);
                let base: String = LastName().fake_with_rng(&mut self.rng);
                let base: String = base.chars().filter(|c| c.is_alphabetic()).collect();
                format!("{prefix} {base}{}", self.pick(&["ville", "ton", "haven"]))
            }
        }
    }

    pub(crate) fn zip(&mut self) -> String {
        let zip = self.digits(5);
        if self.chance(0.15) {
            format!("{zip}-{}", self.digits(4))
        } else {
            zip
        }
    }

    pub(crate) fn ipv6(&mut self) -> String {
        if self.chance(0.5) {
            let ip: String = IPv6().fake_with_rng(&mut self.rng);
            if self.chance(0.5) {
                ip.to_lowercase()
            } else {
                ip
            }
        } else {
            let prefix = self.pick(&["2001:db8", "2601:1c2", "2600:1700", "fe80:0"]);
            let hex = |rng: &mut StdRng| format!("{:x}", rng.random_range(1..0x10000u32));
            let rng = &mut self.rng;
            format!("{prefix}:{}::{}:{}", hex(rng), hex(rng), hex(rng))
        }
    }

    pub(crate) fn portal_url(&mut self) -> String {
        let clinic = self.pick(CLINIC_DOMAINS);
        match self.rng.random_range(0..4) {
            0 => format!(
                "https://portal.{clinic}.com/patient/{}/statements",
                self.digits(7)
            ),
            1 => format!(
                "https://mychart.{clinic}.org/MyChart/Billing/Details?acct={}",
                self.digits(9)
            ),
            2 => format!(
                "https://pay.{clinic}.com/invoice/{}?patient={}",
                self.digits(6),
                self.digits(7)
            ),
            _ => {
                let user = ascii_word(&self.me.first);
                format!("{clinic}.com/portal/login?user={user}{}", self.digits(2))
            }
        }
    }

    pub(crate) fn personal_url(&mut self) -> String {
        let first = ascii_word(&self.me.first);
        let last = ascii_word(&self.me.last);
        match self.rng.random_range(0..5) {
            0 => format!("www.{first}{last}.com"),
            1 => format!("{first}{last}.me"),
            2 => format!("https://instagram.com/{first}.{last}{}", self.digits(2)),
            3 => format!("https://www.facebook.com/{first}.{last}.{}", self.digits(2)),
            _ => format!(
                "linkedin.com/in/{first}-{last}-{}",
                self.code(6).to_lowercase()
            ),
        }
    }

    pub(crate) fn file_url(&mut self) -> String {
        let id = |n: usize, rng: &mut StdRng| -> String {
            const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
            (0..n)
                .map(|_| char::from(*ALNUM.choose(rng).expect("non-empty")))
                .collect()
        };
        let rng = &mut self.rng;
        match rng.random_range(0..4) {
            0 => format!("https://drive.google.com/file/d/{}/view", id(33, rng)),
            1 => format!("https://photos.app.goo.gl/{}", id(17, rng)),
            2 => format!("https://imgur.com/a/{}", id(7, rng)),
            _ => format!(
                "https://www.dropbox.com/s/{}/rash.jpg?dl=0",
                id(15, rng).to_lowercase()
            ),
        }
    }
}

/// Lowercase ASCII letters and digits only, for e-mail users and URLs.
fn ascii_word(name: &str) -> String {
    let folded: String = name
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' | 'å' => 'a',
            'é' | 'è' | 'ê' | 'ë' | 'ễ' => 'e',
            'í' | 'ì' | 'î' | 'ï' | 'ı' | 'ị' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'ø' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            'ş' => 's',
            'ğ' => 'g',
            c => c,
        })
        .flat_map(char::to_lowercase)
        .filter(char::is_ascii_alphanumeric)
        .collect();
    if folded.is_empty() {
        "patient".to_string()
    } else {
        folded
    }
}
