//! The pattern layer: identifiers whose shape, and where there is one their
//! check digit, is evidence enough without a trigger word. Shapes that are
//! ambiguous on their own (a bare nine-digit number, "3/4") are left to the
//! context layer.
//!
//! One module per family of rules, each owning its regexes, lists and
//! scores: `contacts` (e-mail, web and IP addresses, phone numbers),
//! `identifiers` (SSNs, cards, IBANs, VINs, MBIs, DEA numbers), `dates`
//! (dates and ages), `addresses` (streets and address blocks) and `places`
//! (cities, counties, countries, ZIP codes). This module runs them in a
//! fixed order: ZIP codes look at the places and streets found before them.

mod addresses;
mod contacts;
mod dates;
mod identifiers;
mod places;

use std::sync::LazyLock;

use crate::names::{self, Lexicon};
use crate::text::{self, Hit};
use crate::{Detector, Span};

use addresses::Addresses;
use contacts::Contacts;
use dates::Dates;
use identifiers::Identifiers;
use places::Places;

pub(crate) use dates::{age_over_89, numeric_date_valid};
pub(crate) use identifiers::longest_iban;

pub(crate) struct Patterns {
    contacts: Contacts,
    identifiers: Identifiers,
    dates: Dates,
    addresses: Addresses,
    places: Places,
}

static PATTERNS: LazyLock<Patterns> = LazyLock::new(Patterns::build);

pub(crate) fn get() -> &'static Patterns {
    &PATTERNS
}

impl Patterns {
    fn build() -> Patterns {
        Patterns {
            contacts: Contacts::build(),
            identifiers: Identifiers::build(),
            dates: Dates::build(),
            addresses: Addresses::build(),
            places: Places::build(),
        }
    }

    pub(crate) fn scan(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        let bytes = text.as_bytes();
        if bytes.contains(&b'@') {
            self.contacts.emails(text, out);
        }
        if bytes.contains(&b'.') {
            self.contacts.urls(text, out);
        }
        if bytes.contains(&b',') {
            self.places.cities(text, lex, out);
        }
        self.places.countries(text, out);
        self.places.city_list(text, out);
        // Everything below needs a digit; most chat messages have none.
        if !bytes.iter().any(u8::is_ascii_digit) {
            return;
        }
        if bytes.contains(&b'.') {
            self.contacts.ipv4(text, out);
        }
        if bytes.contains(&b':') {
            self.contacts.ipv6(text, out);
        }
        self.contacts.phones(text, out);
        self.identifiers.ssns(text, out);
        self.identifiers.cards(text, out);
        self.identifiers.ibans(text, out);
        self.dates.dates(text, out);
        self.dates.ages(text, out);
        self.addresses.addresses(text, lex, out);
        self.places.zips(text, out);
        self.identifiers.codes(text, out);
    }
}

/// The pattern layer as a stand-alone [`Detector`].
#[derive(Debug, Clone, Copy, Default)]
pub struct PatternLayer;

impl Detector for PatternLayer {
    fn detect(&self, text: &str, out: &mut Vec<Span>) {
        let mut hits = Vec::new();
        get().scan(text, names::lexicon(), &mut hits);
        text::push_spans(text, &hits, out);
    }
}
