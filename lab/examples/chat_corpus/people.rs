//! People: patients and relatives (`fake`'s English names beside the
//! world, hyphenated and apostrophised lists) and staff as patients name
//! them.

use fake::Fake;
use fake::faker::name::en::{FirstName, LastName};
use rand::Rng;
use rand::seq::IndexedRandom;

use crate::generator::{Gen, Person};
use crate::lists::{APOSTROPHE_LAST, HYPHENATED_FIRST, UNLIKELY_FIRST, WORLD_NAMES};
use crate::sample::{PERSON, Piece, ent, txt};

impl Gen {
    pub(crate) fn person(&mut self) -> Person {
        let roll = self.rng.random_range(0..100);
        if roll < 22 {
            let &(first, last) = WORLD_NAMES.choose(&mut self.rng).expect("non-empty");
            return Person {
                first: first.into(),
                last: last.into(),
            };
        }
        let first = if roll < 28 {
            self.pick(HYPHENATED_FIRST).to_string()
        } else {
            self.english_first()
        };
        let last = match self.rng.random_range(0..100) {
            0..8 => {
                let (a, b): (String, String) = (
                    LastName().fake_with_rng(&mut self.rng),
                    LastName().fake_with_rng(&mut self.rng),
                );
                format!("{a}-{b}")
            }
            8..12 => self.pick(APOSTROPHE_LAST).to_string(),
            _ => LastName().fake_with_rng(&mut self.rng),
        };
        Person { first, last }
    }

    pub(crate) fn english_first(&mut self) -> String {
        loop {
            let name: String = FirstName().fake_with_rng(&mut self.rng);
            if !UNLIKELY_FIRST.contains(&name.as_str()) {
                return name;
            }
        }
    }

    pub(crate) fn first_name(&mut self) -> String {
        if self.chance(0.25) {
            let &(first, _) = WORLD_NAMES.choose(&mut self.rng).expect("non-empty");
            first.to_string()
        } else {
            self.english_first()
        }
    }

    pub(crate) fn staff_last(&mut self) -> String {
        match self.rng.random_range(0..100) {
            0..35 => {
                let &(_, last) = WORLD_NAMES.choose(&mut self.rng).expect("non-empty");
                last.to_string()
            }
            35..40 => {
                let (a, b): (String, String) = (
                    LastName().fake_with_rng(&mut self.rng),
                    LastName().fake_with_rng(&mut self.rng),
                );
                format!("{a}-{b}")
            }
            _ => LastName().fake_with_rng(&mut self.rng),
        }
    }

    /// A doctor as patients write one: the title is context, not the name.
    pub(crate) fn staff(&mut self) -> Vec<Piece> {
        let title = match self.rng.random_range(0..100) {
            0..50 => "Dr. ",
            50..65 => "Dr ",
            65..75 => "dr ",
            75..85 => "doctor ",
            _ => {
                let (first, last) = (self.first_name(), self.staff_last());
                return vec![txt("Dr. "), ent(PERSON, format!("{first} {last}"))];
            }
        };
        let name = if self.chance(0.08) {
            self.first_name()
        } else {
            self.staff_last()
        };
        vec![txt(title), ent(PERSON, name)]
    }
}
