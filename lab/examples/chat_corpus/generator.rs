//! The generator's state (the seeded RNG, who is writing and about whom)
//! and the draws every other module builds on: a coin, a pick from a list,
//! digits, letters, codes.

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use crate::lists::CODE_CHARS;

#[derive(Default)]
pub(crate) struct Person {
    pub(crate) first: String,
    pub(crate) last: String,
}

pub(crate) struct Gen {
    pub(crate) rng: StdRng,
    /// Who writes the message.
    pub(crate) me: Person,
    /// A relative they write about.
    pub(crate) other: Person,
}

impl Gen {
    pub(crate) fn new(seed: u64) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            me: Person::default(),
            other: Person::default(),
        }
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    pub(crate) fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs.choose(&mut self.rng).copied().expect("a non-empty list")
    }

    pub(crate) fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }

    pub(crate) fn digits_between(&mut self, min: usize, max: usize) -> String {
        let n = self.rng.random_range(min..=max);
        self.digits(n)
    }

    pub(crate) fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
            .collect()
    }

    pub(crate) fn code(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(*CODE_CHARS.choose(&mut self.rng).expect("non-empty")))
            .collect()
    }
}
