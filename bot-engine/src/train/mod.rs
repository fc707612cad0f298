//! Training, kept apart from what answers patients: fine-tuning the sentence
//! encoder ([`tune`], for `carechat train encoder`) and fitting the spam
//! scorer's text model ([`spam`], for `carechat-lab train spam`). Serving
//! never calls into this module; the intent heads the bot fits at start-up
//! are part of building it ([`crate::Bot::build`]).

pub mod spam;
pub mod tune;
