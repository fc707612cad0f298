//! The context layer: a trigger phrase makes the value after it an
//! identifier. "12345678" is nothing on its own; after "MRN" it is a record
//! number, after "routing" a bank's, after "I am" (if over 89) an age.
//!
//! All triggers live in one case-insensitive Aho-Corasick automaton, so a
//! message is scanned once whatever the number of triggers, and the value
//! parsers only run where a trigger matched.
//!
//! `triggers` holds the phrases and what each announces; `values` reads
//! the value after one. Names and places after a trigger are the name
//! lexicon's to read (`names.rs`).

mod triggers;
mod values;

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::names::{self, Lexicon, Strength};
use crate::text::{self, Hit};
use crate::{Detector, Kind, Span};

use triggers::Act::{self, Age, Name, Place, Value};
use triggers::Case::{self, NotUpper, Upper};
use triggers::{Shape, TRIGGERS};
use values::Values;

const SCORE_NAME_STRONG: f32 = 0.9;
const SCORE_NAME_WEAK: f32 = 0.8;

pub(crate) struct Context {
    ac: AhoCorasick,
    triggers: Vec<(&'static str, Case, &'static [Act])>,
    values: Values,
}

static CONTEXT: LazyLock<Context> = LazyLock::new(Context::build);

pub(crate) fn get() -> &'static Context {
    &CONTEXT
}

impl Context {
    fn build() -> Context {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostLongest)
            .build(TRIGGERS.iter().map(|(p, _, _)| p))
            .expect("the trigger list is small enough for Aho-Corasick");
        Context {
            ac,
            triggers: TRIGGERS.to_vec(),
            values: Values::build(),
        }
    }

    pub(crate) fn scan(&self, text: &str, lex: &Lexicon, out: &mut Vec<Hit>) {
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        for m in self.ac.find_iter(text) {
            let (s, e) = (m.start(), m.end());
            let (phrase, case, acts) = self.triggers[m.pattern().as_usize()];
            if text::prev_char(text, s).is_some_and(text::is_word)
                || (phrase.ends_with(|c: char| c.is_alphanumeric())
                    && text::next_char(text, e).is_some_and(text::is_word))
            {
                continue;
            }
            let found = &text[s..e];
            let upper = found.chars().all(|c| !c.is_lowercase());
            if (case == Upper && !upper) || (case == NotUpper && upper) {
                continue;
            }
            for &act in acts {
                match act {
                    Value(kind, shape) if has_digit || matches!(shape, Shape::Letters(_)) => {
                        self.values.value(text, e, kind, shape, out);
                    }
                    Value(..) => {}
                    Age if has_digit => self.values.age(text, e, out),
                    Age => {}
                    Name(strength) => {
                        if let Some((ns, ne)) = names::capture_name(lex, text, e, strength) {
                            let score = match strength {
                                Strength::Strong { .. } => SCORE_NAME_STRONG,
                                Strength::Weak => SCORE_NAME_WEAK,
                            };
                            out.push(Hit::new(ns, ne, Kind::Name, score));
                        }
                    }
                    Place(score) => {
                        if let Some((ps, pe)) = names::capture_place(lex, text, e) {
                            out.push(Hit::new(ps, pe, Kind::Location, score));
                        }
                    }
                }
            }
        }
    }
}

/// The context layer as a stand-alone [`Detector`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ContextLayer;

impl Detector for ContextLayer {
    fn detect(&self, text: &str, out: &mut Vec<Span>) {
        let mut hits = Vec::new();
        get().scan(text, names::lexicon(), &mut hits);
        text::push_spans(text, &hits, out);
    }
}

#[cfg(test)]
pub(crate) fn trigger_phrases() -> impl Iterator<Item = &'static str> {
    TRIGGERS.iter().map(|(p, _, _)| *p)
}
