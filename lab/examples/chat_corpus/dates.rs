//! Dates: of birth, birthdays, appointments and past visits, in the
//! shapes people type them.

use rand::Rng;

use crate::generator::Gen;
use crate::lists::{DAYS_IN_MONTH, MONTHS, MONTHS_SHORT};
use crate::sample::{DATE_TIME, Piece, ent, txt};

impl Gen {
    pub(crate) fn birth_date(&mut self) -> (u32, usize, u32) {
        self.date_in(1926..=2021)
    }

    fn date_in(&mut self, years: std::ops::RangeInclusive<u32>) -> (u32, usize, u32) {
        let year = self.rng.random_range(years);
        let month = self.rng.random_range(0..12);
        let day = self.rng.random_range(1..=DAYS_IN_MONTH[month]);
        (year, month, day)
    }

    pub(crate) fn dob(&mut self, years: std::ops::RangeInclusive<u32>) -> String {
        let (y, m, d) = self.date_in(years);
        let mo = m + 1;
        let yy = y % 100;
        match self.rng.random_range(0..12) {
            0 | 1 => format!("{mo:02}/{d:02}/{y}"),
            2 => format!("{mo}/{d}/{yy:02}"),
            3 => format!("{y}-{mo:02}-{d:02}"),
            4 => format!("{mo}-{d}-{y}"),
            5 => format!("{} {d}, {y}", MONTHS[m]),
            6 => format!("{} {d}{} {y}", MONTHS[m], ordinal(d)),
            7 => format!("{d} {} {y}", MONTHS[m]),
            8 => format!("{} {d} {y}", MONTHS_SHORT[m]),
            9 => format!("{mo}/{d}/{y}"),
            10 => format!("{mo:02}{d:02}{y}"),
            _ => format!("{mo:02}-{d:02}-{yy:02}"),
        }
    }

    pub(crate) fn birthday(&mut self) -> Vec<Piece> {
        let (_, m, d) = self.birth_date();
        match self.rng.random_range(0..4) {
            0 => vec![ent(DATE_TIME, format!("{} {d}", MONTHS[m].to_lowercase()))],
            1 => vec![ent(DATE_TIME, format!("{} {d}{}", MONTHS[m], ordinal(d)))],
            2 => vec![
                txt("the "),
                ent(DATE_TIME, format!("{d}{} of {}", ordinal(d), MONTHS[m])),
            ],
            _ => vec![ent(DATE_TIME, format!("{}/{d}", m + 1))],
        }
    }

    pub(crate) fn appointment_date(&mut self) -> Vec<Piece> {
        let m = self.rng.random_range(0..12);
        let d = self.rng.random_range(1..=DAYS_IN_MONTH[m]);
        let mo = m + 1;
        let s = match self.rng.random_range(0..9) {
            0 => format!("{mo}/{d}"),
            1 => format!("{} {d}", MONTHS[m]),
            2 => format!("{} {d}{}", MONTHS[m].to_lowercase(), ordinal(d)),
            3 => format!("{d} {}", MONTHS[m]),
            4 => format!("{} {d}", MONTHS_SHORT[m]),
            5 => format!("{mo:02}/{d:02}/{}", self.rng.random_range(2025..=2026)),
            6 => format!("{} {d}, {}", MONTHS[m], self.rng.random_range(2025..=2026)),
            7 => format!("{mo}/{d}/{}", self.rng.random_range(25..=26)),
            _ => {
                return vec![
                    txt("the "),
                    ent(DATE_TIME, format!("{d}{} of {}", ordinal(d), MONTHS[m])),
                ];
            }
        };
        vec![ent(DATE_TIME, s)]
    }

    pub(crate) fn past_date(&mut self) -> String {
        let y = self.rng.random_range(2012..=2025);
        let m = self.rng.random_range(0..12);
        let d = self.rng.random_range(1..=DAYS_IN_MONTH[m]);
        match self.rng.random_range(0..4) {
            0 => format!("{}/{d}/{y}", m + 1),
            1 => format!("{} {d}, {y}", MONTHS[m]),
            2 => format!("{y}-{:02}-{d:02}", m + 1),
            _ => format!("{} {d} {y}", MONTHS_SHORT[m]),
        }
    }
}

pub(crate) fn ordinal(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}
