//! A whole message: a template picked and its slots filled, maybe a
//! second message run on, then roughened the way chat is.

use fake::Fake;
use fake::faker::internet::en::IPv4;
use fake::faker::name::en::LastName;
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::dates::ordinal;
use crate::generator::Gen;
use crate::lists::{
    A1CS, CLOCKS, DURATIONS, INSURERS, MEDS, MONEY, MONTHS, MONTHS_SHORT, REL_DAYS, TEMPS, WEIGHTS,
};
use crate::sample::{
    ACCOUNT_NUMBER, ADDRESS, AGE, CREDIT_CARD, DATE_TIME, EMAIL_ADDRESS, HEALTH_PLAN_ID, IBAN_CODE,
    IP_ADDRESS, LOCATION, MEDICAL_RECORD_NUMBER, OTHER_ID, PERSON, PHONE_NUMBER, Piece, Sample,
    URL, US_DRIVER_LICENSE, US_SSN, ZIP_CODE, assemble, ent, txt,
};
use crate::templates::{GREETINGS, JOINERS, MISSPELLINGS, NEGATIVE, POSITIVE, SIGNOFFS};

impl Gen {
    pub(crate) fn message(&mut self) -> Sample {
        self.me = self.person();
        self.other = self.person();
        let mut pieces = if self.chance(0.25) {
            let mut p = self.expand_one(NEGATIVE);
            if self.chance(0.2) {
                self.join(&mut p, NEGATIVE);
            }
            p
        } else {
            let mut p = self.expand_one(POSITIVE);
            if self.chance(0.15) {
                self.join(&mut p, NEGATIVE);
            } else if self.chance(0.08) {
                self.join(&mut p, POSITIVE);
            }
            p
        };
        self.roughen(&mut pieces);
        assemble(pieces)
    }

    /// Runs a second message on after the first, as people do.
    fn join(&mut self, pieces: &mut Vec<Piece>, templates: &[&str]) {
        let mut joiner = self.pick(JOINERS);
        if pieces
            .last()
            .is_some_and(|p| p.text.ends_with(['.', '?', '!']))
        {
            joiner = joiner.trim_start_matches(['.', '!']);
        }
        pieces.push(txt(joiner));
        let more = self.expand_one(templates);
        pieces.extend(more);
    }

    fn expand_one(&mut self, templates: &[&str]) -> Vec<Piece> {
        let t = self.pick(templates);
        self.expand(t)
    }

    pub(crate) fn expand(&mut self, template: &str) -> Vec<Piece> {
        let mut out = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            let close = open
                + rest[open..]
                    .find('}')
                    .unwrap_or_else(|| panic!("unclosed slot in {template:?}"));
            if open > 0 {
                out.push(txt(&rest[..open]));
            }
            out.extend(self.slot(&rest[open + 1..close]));
            rest = &rest[close + 1..];
        }
        if !rest.is_empty() {
            out.push(txt(rest));
        }
        out
    }

    fn slot(&mut self, name: &str) -> Vec<Piece> {
        let piece = match name {
            // People.
            "full" => {
                let middle = self.chance(0.08);
                let (first, last) = (self.me.first.clone(), self.me.last.clone());
                if middle {
                    let initial = self.pick(&["A", "J", "M", "R", "L", "K"]);
                    ent(PERSON, format!("{first} {initial}. {last}"))
                } else {
                    ent(PERSON, format!("{first} {last}"))
                }
            }
            "first" => ent(PERSON, self.me.first.clone()),
            "last" => ent(PERSON, self.me.last.clone()),
            "full2" => ent(PERSON, format!("{} {}", self.other.first, self.other.last)),
            "first2" => ent(PERSON, self.other.first.clone()),
            "kid" => ent(PERSON, self.english_first()),
            "staff" => return self.staff(),
            "dr_full" => {
                let (first, last) = (self.first_name(), self.staff_last());
                return vec![txt("Dr. "), ent(PERSON, format!("{first} {last}"))];
            }
            "staff_first" => ent(PERSON, self.first_name()),
            // Contact.
            "phone" => ent(PHONE_NUMBER, self.phone()),
            "phone_ext" => {
                let ext = match self.rng.random_range(0..4) {
                    0 => format!(" ext {}", self.rng.random_range(2..100)),
                    1 => format!(" ext. {}", self.rng.random_range(100..1000)),
                    2 => format!(" x{}", self.rng.random_range(100..1000)),
                    _ => format!(" extension {}", self.rng.random_range(1..10)),
                };
                ent(PHONE_NUMBER, format!("{}{ext}", self.phone()))
            }
            "intl_phone" => ent(PHONE_NUMBER, self.intl_phone()),
            "email" => ent(EMAIL_ADDRESS, self.email()),
            "address" => ent(ADDRESS, self.address()),
            "po_box" => {
                let n = self.rng.random_range(1..20000);
                let mut s = format!("{} {n}", self.pick(&["PO Box", "P.O. Box", "po box"]));
                if self.chance(0.6) {
                    s.push_str(&self.city_line());
                }
                ent(ADDRESS, s)
            }
            "city" => ent(LOCATION, self.city()),
            "county" => {
                let name = if self.chance(0.5) {
                    self.pick(&["Cook", "Orange", "Maricopa", "Prince George's", "Kings"])
                        .to_string()
                } else {
                    LastName().fake_with_rng(&mut self.rng)
                };
                ent(LOCATION, format!("{name} County"))
            }
            "zip" => ent(ZIP_CODE, self.zip()),
            // Dates and ages.
            "dob" => ent(DATE_TIME, self.dob(1926..=2021)),
            "dob_kid" => ent(DATE_TIME, self.dob(2008..=2024)),
            "dob_old" => ent(DATE_TIME, self.dob(1920..=1935)),
            "dob_ordinal" => {
                let (y, m, d) = self.birth_date();
                let comma = if self.chance(0.3) { "," } else { "" };
                ent(
                    DATE_TIME,
                    format!("{}{} of {}{comma} {y}", d, ordinal(d), MONTHS[m]),
                )
            }
            "dob_short" => {
                let (y, m, d) = self.birth_date();
                let s = if self.chance(0.5) {
                    format!("{} {d} {y}", MONTHS_SHORT[m])
                } else {
                    format!("{}. {d}, {y}", MONTHS_SHORT[m])
                };
                ent(DATE_TIME, s)
            }
            "bday" => return self.birthday(),
            "date" => return self.appointment_date(),
            "date_y" => ent(DATE_TIME, self.past_date()),
            "old_age" => ent(AGE, self.rng.random_range(90..=104).to_string()),
            // Numbers.
            "ssn" => ent(US_SSN, self.ssn()),
            "mrn" => ent(MEDICAL_RECORD_NUMBER, self.mrn()),
            "chart" => ent(MEDICAL_RECORD_NUMBER, self.digits_between(5, 7)),
            "pid" => ent(MEDICAL_RECORD_NUMBER, self.digits_between(6, 8)),
            "member" => ent(HEALTH_PLAN_ID, self.member_id()),
            "group" => {
                let g = match self.rng.random_range(0..3) {
                    0 => format!("00{}", self.digits(5)),
                    1 => self.digits_between(5, 6),
                    _ => format!("GRP{}", self.digits(5)),
                };
                ent(HEALTH_PLAN_ID, g)
            }
            "policy" => {
                let p = match self.rng.random_range(0..3) {
                    0 => format!("H{}", self.digits(8)),
                    1 => format!("{}{}", self.letters(3), self.digits(8)),
                    _ => self.digits(10),
                };
                ent(HEALTH_PLAN_ID, p)
            }
            "mbi" => ent(HEALTH_PLAN_ID, self.mbi()),
            "medicaid" => {
                let m = if self.chance(0.5) {
                    format!("{}{}", self.digits(8), self.letters(1))
                } else {
                    format!("{}{}{}", self.letters(2), self.digits(5), self.letters(1))
                };
                ent(HEALTH_PLAN_ID, m)
            }
            "acct" => ent(ACCOUNT_NUMBER, self.account()),
            "card" => ent(CREDIT_CARD, self.card()),
            "iban" => ent(IBAN_CODE, self.iban()),
            "dl" => ent(US_DRIVER_LICENSE, self.driver_license()),
            "ip" => ent(IP_ADDRESS, IPv4().fake_with_rng::<String, _>(&mut self.rng)),
            "ipv6" => ent(IP_ADDRESS, self.ipv6()),
            "url_portal" => ent(URL, self.portal_url()),
            "url_personal" => ent(URL, self.personal_url()),
            "url_file" => ent(URL, self.file_url()),
            "claim" => {
                let c = match self.rng.random_range(0..3) {
                    0 => format!("{}-{}", self.rng.random_range(2019..=2025), self.digits(5)),
                    1 => format!("CLM-{}", self.digits(7)),
                    _ => format!("E{}", self.digits(10)),
                };
                ent(OTHER_ID, c)
            }
            "rx" => {
                let r = if self.chance(0.8) {
                    self.digits_between(6, 8)
                } else {
                    format!("RX-{}", self.digits(7))
                };
                ent(OTHER_ID, r)
            }
            "referral" => {
                let r = match self.rng.random_range(0..3) {
                    0 => format!("RF-{}", self.digits(6)),
                    1 => self.digits(8),
                    _ => format!("REF{}", self.digits(6)),
                };
                ent(OTHER_ID, r)
            }
            "conf" => {
                let n = if self.chance(0.7) { 6 } else { 8 };
                ent(OTHER_ID, self.code(n))
            }
            "auth" => {
                let a = match self.rng.random_range(0..3) {
                    0 => format!("PA-{}", self.digits(8)),
                    1 => self.digits(10),
                    _ => format!("A{}", self.digits(9)),
                };
                ent(OTHER_ID, a)
            }
            // Not identifiers.
            "bp" => txt(self.bp("/")),
            "bp_words" => txt(self.bp(" over ")),
            "med" => txt(self.pick(MEDS)),
            "dose" => txt(self.dose()),
            "dose_tail" => txt(format!("{}mg", self.pick(&["5", "10", "20", "250", "500"]))),
            "rel_day" => txt(self.pick(REL_DAYS)),
            "year" => txt(self.rng.random_range(2005..=2024).to_string()),
            "tooth" => txt(self.rng.random_range(1..=32).to_string()),
            "young_age" => txt(self.rng.random_range(18..=89).to_string()),
            "senior_age" => txt(self.rng.random_range(80..=89).to_string()),
            "kid_age" => txt(self.rng.random_range(1..=17).to_string()),
            "weeks" => txt(self.rng.random_range(6..=40).to_string()),
            "clock" => txt(self.pick(CLOCKS)),
            "duration" => txt(self.pick(DURATIONS)),
            "temp" => txt(self.pick(TEMPS)),
            "weight" => txt(self.pick(WEIGHTS)),
            "a1c" => txt(self.pick(A1CS)),
            "insurer" => txt(self.pick(INSURERS)),
            "money" => txt(self.pick(MONEY)),
            other => panic!("unknown slot {{{other}}}"),
        };
        vec![piece]
    }

    fn bp(&mut self, sep: &str) -> String {
        format!(
            "{}{sep}{}",
            self.rng.random_range(100..=185),
            self.rng.random_range(60..=110)
        )
    }

    fn dose(&mut self) -> String {
        let med = self.pick(MEDS);
        let mg = self.pick(&["5", "10", "20", "40", "250", "400", "500", "850", "1000"]);
        match self.rng.random_range(0..3) {
            0 => format!("{mg} mg {med}"),
            1 => format!("{med} {mg}mg"),
            _ => format!("{med} {mg} mg"),
        }
    }

    fn roughen(&mut self, pieces: &mut Vec<Piece>) {
        let greeted = pieces.first().is_some_and(|p| {
            let t = p.text.to_lowercase();
            ["hi", "hey", "hello"].iter().any(|g| t.starts_with(g))
        });
        if !greeted && self.chance(0.2) {
            pieces.insert(0, txt(self.pick(GREETINGS)));
        }
        if self.chance(0.25)
            && let Some(last) = pieces.last_mut().filter(|p| p.label.is_none())
        {
            let trimmed = last.text.trim_end_matches(['.', '?', '!']).len();
            last.text.truncate(trimmed);
        }
        if self.chance(0.15) {
            pieces.push(txt(self.pick(SIGNOFFS)));
        }
        if self.chance(0.25) {
            // Identifiers people copy from a card or a letter keep their case.
            for p in pieces.iter_mut() {
                if matches!(
                    p.label,
                    None | Some(PERSON | ADDRESS | LOCATION | DATE_TIME | EMAIL_ADDRESS)
                ) {
                    p.text = p.text.to_lowercase();
                }
            }
        }
        if self.chance(0.15) {
            let n = if self.chance(0.8) { 1 } else { 2 };
            for _ in 0..n {
                self.typo(pieces);
            }
        }
        if self.chance(0.1) {
            for p in pieces.iter_mut().filter(|p| p.label.is_none()) {
                for (from, to) in [
                    ("I'm", "im"),
                    ("it's", "its"),
                    ("can't", "cant"),
                    ("don't", "dont"),
                ] {
                    p.text = p.text.replace(from, to);
                }
            }
        }
    }

    /// One slip of the finger in an unlabelled word of four letters or more.
    fn typo(&mut self, pieces: &mut [Piece]) {
        let mut words = Vec::new();
        for (i, p) in pieces.iter().enumerate() {
            if p.label.is_some() {
                continue;
            }
            let b = p.text.as_bytes();
            let mut start = None;
            for j in 0..=b.len() {
                let alpha = j < b.len() && b[j].is_ascii_alphabetic();
                match (alpha, start) {
                    (true, None) => start = Some(j),
                    (false, Some(s)) => {
                        if j - s >= 4 {
                            words.push((i, s, j));
                        }
                        start = None;
                    }
                    _ => {}
                }
            }
        }
        let Some(&(i, s, e)) = words.choose(&mut self.rng) else {
            return;
        };
        let word = &pieces[i].text[s..e];
        let new = match MISSPELLINGS
            .iter()
            .find(|(right, _)| right.eq_ignore_ascii_case(word))
        {
            Some((_, wrong)) => (*wrong).to_string(),
            None => {
                let mut cs: Vec<char> = word.chars().collect();
                let k = self.rng.random_range(1..cs.len() - 1);
                match self.rng.random_range(0..3) {
                    0 => cs.swap(k, k + 1),
                    1 => {
                        cs.remove(k);
                    }
                    _ => cs.insert(k, cs[k]),
                }
                cs.into_iter().collect()
            }
        };
        pieces[i].text.replace_range(s..e, &new);
    }
}
