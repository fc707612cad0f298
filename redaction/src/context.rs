//! The context layer: a trigger phrase makes the value after it an
//! identifier. "12345678" is nothing on its own; after "MRN" it is a record
//! number, after "routing" a bank's, after "I am" (if over 89) an age.
//!
//! All triggers live in one case-insensitive Aho-Corasick automaton, so a
//! message is scanned once whatever the number of triggers, and the value
//! parsers only run where a trigger matched.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, MatchKind};
use regex::Regex;

use crate::checksum::{aba_valid, dea_valid, luhn_valid, npi_valid};
use crate::names::{self, Lexicon, Strength};
use crate::patterns::{age_over_89, ascii, longest_iban, numeric_date_valid};
use crate::text::{self, Digits, Hit, number_bounded};
use crate::{Detector, Kind, Span};

/// A trigger vouches for its value: scored above the bare patterns so that
/// "account 4111111111111111" is an account even though it passes Luhn.
const SCORE_VALUE: f32 = 0.92;
const SCORE_CHECKED: f32 = 0.95;
const SCORE_UNCHECKED: f32 = 0.7;
const SCORE_NAME_STRONG: f32 = 0.9;
const SCORE_NAME_WEAK: f32 = 0.8;
const SCORE_AGE: f32 = 0.9;
const SCORE_PLACE: f32 = 0.65;

/// What the value after a trigger must look like.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Shape {
    /// 9 digits, or the last 4.
    Ssn,
    /// 9 digits, ABA checksum raises the score.
    Routing,
    /// 12-19 digits (Luhn raises the score), or the last 4.
    Card,
    /// 10 digits, NPI checksum raises the score; otherwise any code.
    Npi,
    /// DEA number, checksum raises the score; otherwise any code.
    Dea,
    /// 17-char VIN; otherwise any code.
    Vin,
    Iban,
    Phone,
    Date,
    /// A slashed month and day ("4/5") after a word that often comes before
    /// a date, unless a unit or "of" follows ("3/4 of a tablet").
    LooseDate,
    Zip,
    Plate,
    /// An alphanumeric code with at least this many digits.
    Code(usize),
    /// Like `Code`, but an all-capitals code without digits is accepted too
    /// (confirmation codes are often letters only).
    Letters(usize),
}

#[derive(Debug, Clone, Copy)]
enum Act {
    Value(Kind, Shape),
    Name(Strength),
    Age,
    Place(f32),
}

/// How the trigger itself must be written.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Case {
    Any,
    /// Only in capitals: "DL 1234567" is a licence, "mg/dl 140" is not.
    Upper,
    /// Not in capitals: "Ms Jones" is a name, "MS" is multiple sclerosis.
    NotUpper,
}

use Act::{Age, Name, Place, Value};
use Case::{Any, NotUpper, Upper};

const STRONG_LOWER: Act = Name(Strength::Strong { lower: true });
const STRONG: Act = Name(Strength::Strong { lower: false });
const WEAK: Act = Name(Strength::Weak);

const SSN: &[Act] = &[Value(Kind::Ssn, Shape::Ssn)];
const MRN: &[Act] = &[Value(Kind::Mrn, Shape::Code(3))];
const MEMBER: &[Act] = &[Value(Kind::MemberId, Shape::Code(3))];
const ACCOUNT: &[Act] = &[Value(Kind::Account, Shape::Code(4))];
const ROUTING: &[Act] = &[Value(Kind::Routing, Shape::Routing)];
const CARD: &[Act] = &[Value(Kind::Card, Shape::Card)];
const IBAN: &[Act] = &[Value(Kind::Iban, Shape::Iban)];
const LICENSE: &[Act] = &[Value(Kind::License, Shape::Code(3))];
const DEA: &[Act] = &[Value(Kind::License, Shape::Dea)];
const NPI: &[Act] = &[Value(Kind::Id, Shape::Npi)];
const VIN: &[Act] = &[Value(Kind::Vehicle, Shape::Vin)];
const PLATE: &[Act] = &[Value(Kind::Vehicle, Shape::Plate)];
const DEVICE: &[Act] = &[Value(Kind::Device, Shape::Code(3))];
const ID: &[Act] = &[Value(Kind::Id, Shape::Code(3))];
const CONFIRMATION: &[Act] = &[Value(Kind::Id, Shape::Letters(3))];
const PHONE: &[Act] = &[Value(Kind::Phone, Shape::Phone)];
const DATE: &[Act] = &[Value(Kind::Date, Shape::Date)];
const LOOSE_DATE: &[Act] = &[Value(Kind::Date, Shape::LooseDate)];
const FROM: &[Act] = &[Place(SCORE_PLACE), Value(Kind::Date, Shape::LooseDate)];
const RELATIVE: &[Act] = &[WEAK, Age];
const ZIP: &[Act] = &[Value(Kind::Zip, Shape::Zip)];
const AGE: &[Act] = &[Age];
const SELF: &[Act] = &[WEAK, Age];
const NAME_LOWER: &[Act] = &[STRONG_LOWER];
const NAME_STRONG: &[Act] = &[STRONG];
const NAME_WEAK: &[Act] = &[WEAK];
const PLACE: &[Act] = &[Place(SCORE_PLACE)];
const BORN_IN: &[Act] = &[Place(SCORE_PLACE), Value(Kind::Date, Shape::Date)];

/// Every trigger phrase (lowercase; matched case-insensitively, whole words).
const TRIGGERS: &[(&str, Case, &[Act])] = &[
    // Social security numbers
    ("ssn", Any, SSN),
    ("ss#", Any, SSN),
    ("ss #", Any, SSN),
    ("soc sec", Any, SSN),
    ("social security", Any, SSN),
    ("social security number", Any, SSN),
    ("seguro social", Any, SSN),
    ("número de seguro social", Any, SSN),
    ("numero de seguro social", Any, SSN),
    // Medical record numbers
    ("mrn", Any, MRN),
    ("medical record", Any, MRN),
    ("medical record number", Any, MRN),
    ("medical records number", Any, MRN),
    ("med rec", Any, MRN),
    ("chart", Any, MRN),
    ("chart number", Any, MRN),
    ("patient id", Any, MRN),
    ("patient number", Any, MRN),
    ("hospital number", Any, MRN),
    ("record number", Any, MRN),
    ("expediente", Any, MRN),
    ("número de expediente", Any, MRN),
    // Health plan member and group numbers
    ("member id", Any, MEMBER),
    ("member number", Any, MEMBER),
    ("member #", Any, MEMBER),
    ("membership number", Any, MEMBER),
    ("membership id", Any, MEMBER),
    ("subscriber id", Any, MEMBER),
    ("subscriber number", Any, MEMBER),
    ("insurance id", Any, MEMBER),
    ("insurance number", Any, MEMBER),
    ("insurance member id", Any, MEMBER),
    ("insurance card", Any, MEMBER),
    ("insurance card number", Any, MEMBER),
    ("group number", Any, MEMBER),
    ("group no", Any, MEMBER),
    ("group #", Any, MEMBER),
    ("group id", Any, MEMBER),
    ("grp", Any, MEMBER),
    ("medicare", Any, MEMBER),
    ("medicare number", Any, MEMBER),
    ("medicare id", Any, MEMBER),
    ("medicaid", Any, MEMBER),
    ("medicaid number", Any, MEMBER),
    ("medicaid id", Any, MEMBER),
    ("mbi", Any, MEMBER),
    ("health plan id", Any, MEMBER),
    ("plan id", Any, MEMBER),
    ("beneficiary id", Any, MEMBER),
    ("número de afiliado", Any, MEMBER),
    ("numero de afiliado", Any, MEMBER),
    ("número de miembro", Any, MEMBER),
    // Bank and billing accounts
    ("account", Any, ACCOUNT),
    ("acct", Any, ACCOUNT),
    ("account number", Any, ACCOUNT),
    ("a/c", Any, ACCOUNT),
    ("bank account", Any, ACCOUNT),
    ("checking account", Any, ACCOUNT),
    ("savings account", Any, ACCOUNT),
    ("billing account", Any, ACCOUNT),
    ("cuenta", Any, ACCOUNT),
    ("número de cuenta", Any, ACCOUNT),
    ("numero de cuenta", Any, ACCOUNT),
    ("routing", Any, ROUTING),
    ("routing number", Any, ROUTING),
    ("aba", Any, ROUTING),
    ("aba number", Any, ROUTING),
    ("aba routing", Any, ROUTING),
    ("aba routing number", Any, ROUTING),
    ("rtn", Any, ROUTING),
    ("transit number", Any, ROUTING),
    ("card", Any, CARD),
    ("card number", Any, CARD),
    ("credit card", Any, CARD),
    ("credit card number", Any, CARD),
    ("debit card", Any, CARD),
    ("debit card number", Any, CARD),
    ("visa", Any, CARD),
    ("mastercard", Any, CARD),
    ("master card", Any, CARD),
    ("amex", Any, CARD),
    ("american express", Any, CARD),
    ("cc", Any, CARD),
    ("tarjeta", Any, CARD),
    ("número de tarjeta", Any, CARD),
    ("iban", Any, IBAN),
    // Licences and registrations
    ("license", Any, LICENSE),
    ("licence", Any, LICENSE),
    ("license number", Any, LICENSE),
    ("licence number", Any, LICENSE),
    ("driver's license", Any, LICENSE),
    ("driver’s license", Any, LICENSE),
    ("drivers license", Any, LICENSE),
    ("driver license", Any, LICENSE),
    ("driving licence", Any, LICENSE),
    ("driver's licence", Any, LICENSE),
    ("dl", Upper, LICENSE),
    ("lic", Any, LICENSE),
    ("state id", Any, LICENSE),
    ("licencia", Any, LICENSE),
    ("licencia de conducir", Any, LICENSE),
    ("dea", Any, DEA),
    ("dea number", Any, DEA),
    ("dea registration", Any, DEA),
    ("npi", Any, NPI),
    ("npi number", Any, NPI),
    // Vehicles
    ("vin", Any, VIN),
    ("vin number", Any, VIN),
    ("vehicle identification number", Any, VIN),
    ("license plate", Any, PLATE),
    ("licence plate", Any, PLATE),
    ("plate", Any, PLATE),
    ("plate number", Any, PLATE),
    ("plates", Any, PLATE),
    ("tag number", Any, PLATE),
    ("placa", Any, PLATE),
    ("placas", Any, PLATE),
    // Devices
    ("serial", Any, DEVICE),
    ("serial number", Any, DEVICE),
    ("s/n", Any, DEVICE),
    ("sn", Upper, DEVICE),
    ("imei", Any, DEVICE),
    ("device id", Any, DEVICE),
    ("device number", Any, DEVICE),
    ("udi", Any, DEVICE),
    ("número de serie", Any, DEVICE),
    ("numero de serie", Any, DEVICE),
    // Other reference numbers
    ("claim", Any, ID),
    ("claim number", Any, ID),
    ("claim id", Any, ID),
    ("prescription", Any, ID),
    ("prescription number", Any, ID),
    ("rx", Any, ID),
    ("rx number", Any, ID),
    ("referral", Any, ID),
    ("referral number", Any, ID),
    ("referral code", Any, ID),
    ("case", Any, ID),
    ("case number", Any, ID),
    ("case id", Any, ID),
    ("policy", Any, ID),
    ("policy number", Any, ID),
    ("policy id", Any, ID),
    ("id", Any, ID),
    ("id number", Any, ID),
    ("id card", Any, ID),
    ("identification", Any, ID),
    ("identification number", Any, ID),
    ("ticket", Any, ID),
    ("ticket number", Any, ID),
    ("reference", Any, ID),
    ("reference number", Any, ID),
    ("ref", Any, ID),
    ("order number", Any, ID),
    ("invoice", Any, ID),
    ("invoice number", Any, ID),
    ("authorization", Any, ID),
    ("authorization number", Any, ID),
    ("auth", Any, ID),
    ("prior auth", Any, ID),
    ("tracking number", Any, ID),
    ("passport", Any, ID),
    ("passport number", Any, ID),
    ("pasaporte", Any, ID),
    ("receta", Any, ID),
    ("employee id", Any, ID),
    ("student id", Any, ID),
    ("confirmation", Any, CONFIRMATION),
    ("confirmation number", Any, CONFIRMATION),
    ("confirmation code", Any, CONFIRMATION),
    ("booking reference", Any, CONFIRMATION),
    ("booking code", Any, CONFIRMATION),
    ("código de confirmación", Any, CONFIRMATION),
    // Phone and fax numbers, including shapes the pattern layer leaves alone
    ("phone", Any, PHONE),
    ("phone number", Any, PHONE),
    ("cell", Any, PHONE),
    ("cell phone", Any, PHONE),
    ("cellphone", Any, PHONE),
    ("cell number", Any, PHONE),
    ("mobile", Any, PHONE),
    ("mobile number", Any, PHONE),
    ("tel", Any, PHONE),
    ("telephone", Any, PHONE),
    ("fax", Any, PHONE),
    ("fax number", Any, PHONE),
    ("call me at", Any, PHONE),
    ("call me on", Any, PHONE),
    ("text me at", Any, PHONE),
    ("reach me at", Any, PHONE),
    ("contact number", Any, PHONE),
    ("callback number", Any, PHONE),
    ("call back number", Any, PHONE),
    ("home phone", Any, PHONE),
    ("work phone", Any, PHONE),
    ("teléfono", Any, PHONE),
    ("telefono", Any, PHONE),
    ("celular", Any, PHONE),
    ("móvil", Any, PHONE),
    ("whatsapp", Any, PHONE),
    // Dates of birth, including "3/4" and "030461"
    ("dob", Any, DATE),
    ("d.o.b", Any, DATE),
    ("d.o.b.", Any, DATE),
    ("date of birth", Any, DATE),
    ("birth date", Any, DATE),
    ("birthdate", Any, DATE),
    ("birthday", Any, DATE),
    ("born", Any, DATE),
    ("born on", Any, DATE),
    ("born in", Any, BORN_IN),
    ("fecha de nacimiento", Any, DATE),
    ("nacido el", Any, DATE),
    ("nacida el", Any, DATE),
    ("nací el", Any, DATE),
    ("cumpleaños", Any, DATE),
    ("on", Any, LOOSE_DATE),
    ("since", Any, LOOSE_DATE),
    ("until", Any, LOOSE_DATE),
    ("till", Any, LOOSE_DATE),
    ("by", Any, LOOSE_DATE),
    ("before", Any, LOOSE_DATE),
    ("after", Any, LOOSE_DATE),
    ("due", Any, LOOSE_DATE),
    ("appointment", Any, LOOSE_DATE),
    ("appt", Any, LOOSE_DATE),
    ("visit", Any, LOOSE_DATE),
    ("to", Any, LOOSE_DATE),
    ("exp", Any, LOOSE_DATE),
    ("expires", Any, LOOSE_DATE),
    ("expiry", Any, LOOSE_DATE),
    ("expiration", Any, LOOSE_DATE),
    ("valid thru", Any, LOOSE_DATE),
    ("through", Any, LOOSE_DATE),
    ("thru", Any, LOOSE_DATE),
    ("scheduled", Any, LOOSE_DATE),
    ("monday", Any, LOOSE_DATE),
    ("tuesday", Any, LOOSE_DATE),
    ("wednesday", Any, LOOSE_DATE),
    ("thursday", Any, LOOSE_DATE),
    ("friday", Any, LOOSE_DATE),
    ("saturday", Any, LOOSE_DATE),
    ("sunday", Any, LOOSE_DATE),
    ("mon", Any, LOOSE_DATE),
    ("tue", Any, LOOSE_DATE),
    ("tues", Any, LOOSE_DATE),
    ("wed", Any, LOOSE_DATE),
    ("thu", Any, LOOSE_DATE),
    ("thur", Any, LOOSE_DATE),
    ("thurs", Any, LOOSE_DATE),
    ("fri", Any, LOOSE_DATE),
    ("sat", Any, LOOSE_DATE),
    ("sun", Any, LOOSE_DATE),
    // ZIP codes
    ("zip", Any, ZIP),
    ("zip code", Any, ZIP),
    ("zipcode", Any, ZIP),
    ("postal code", Any, ZIP),
    ("postcode", Any, ZIP),
    ("postal", Any, ZIP),
    ("zip/postal code", Any, ZIP),
    ("código postal", Any, ZIP),
    ("codigo postal", Any, ZIP),
    // Ages (only over 89 are identifying)
    ("age", Any, AGE),
    ("aged", Any, AGE),
    ("edad", Any, AGE),
    ("tengo", Any, AGE),
    ("turned", Any, AGE),
    ("turning", Any, AGE),
    ("he is", Any, AGE),
    ("she is", Any, AGE),
    ("he's", Any, AGE),
    ("she's", Any, AGE),
    ("mom is", Any, RELATIVE),
    ("mother is", Any, RELATIVE),
    ("dad is", Any, RELATIVE),
    ("father is", Any, RELATIVE),
    ("grandmother is", Any, RELATIVE),
    ("grandfather is", Any, RELATIVE),
    ("grandma is", Any, RELATIVE),
    ("grandpa is", Any, RELATIVE),
    ("wife is", Any, RELATIVE),
    ("husband is", Any, RELATIVE),
    ("i am", Any, SELF),
    ("i'm", Any, SELF),
    ("i’m", Any, SELF),
    ("im", Any, SELF),
    // Names: the person says who they are
    ("my name is", Any, NAME_LOWER),
    ("my name's", Any, NAME_LOWER),
    ("my name’s", Any, NAME_LOWER),
    ("name is", Any, NAME_LOWER),
    ("name:", Any, NAME_LOWER),
    ("patient name", Any, NAME_LOWER),
    ("patient's name", Any, NAME_LOWER),
    ("full name", Any, NAME_LOWER),
    ("first name", Any, NAME_LOWER),
    ("last name", Any, NAME_LOWER),
    ("surname", Any, NAME_LOWER),
    ("me llamo", Any, NAME_LOWER),
    ("mi nombre es", Any, NAME_LOWER),
    ("nombre:", Any, NAME_LOWER),
    ("se llama", Any, NAME_LOWER),
    ("patient:", Any, NAME_STRONG),
    ("signed", Any, NAME_STRONG),
    ("sincerely", Any, NAME_STRONG),
    ("regards", Any, NAME_STRONG),
    ("atentamente", Any, NAME_STRONG),
    ("saludos", Any, NAME_STRONG),
    // Names: titles
    ("dr", Any, NAME_STRONG),
    ("dr.", Any, NAME_STRONG),
    ("doctor", Any, NAME_STRONG),
    ("dra", Any, NAME_STRONG),
    ("dra.", Any, NAME_STRONG),
    ("doctora", Any, NAME_STRONG),
    ("mr", Any, NAME_STRONG),
    ("mr.", Any, NAME_STRONG),
    ("mrs", Any, NAME_STRONG),
    ("mrs.", Any, NAME_STRONG),
    ("ms", NotUpper, NAME_STRONG),
    ("ms.", Any, NAME_STRONG),
    ("mx.", Any, NAME_STRONG),
    ("miss", Any, NAME_STRONG),
    ("prof.", Any, NAME_STRONG),
    ("professor", Any, NAME_STRONG),
    ("nurse", Any, NAME_STRONG),
    ("sr.", Any, NAME_STRONG),
    ("sra.", Any, NAME_STRONG),
    ("srta.", Any, NAME_STRONG),
    ("señor", Any, NAME_STRONG),
    ("señora", Any, NAME_STRONG),
    // Names: weaker cues, checked against the lexicon
    ("this is", Any, NAME_WEAK),
    ("it's", Any, NAME_WEAK),
    ("it is", Any, NAME_WEAK),
    ("call me", Any, NAME_WEAK),
    ("ask for", Any, NAME_WEAK),
    ("speak to", Any, NAME_WEAK),
    ("speak with", Any, NAME_WEAK),
    ("talk to", Any, NAME_WEAK),
    ("talk with", Any, NAME_WEAK),
    ("named", Any, NAME_WEAK),
    ("hi", Any, NAME_WEAK),
    ("hello", Any, NAME_WEAK),
    ("hey", Any, NAME_WEAK),
    ("dear", Any, NAME_WEAK),
    ("thanks", Any, NAME_WEAK),
    ("thank you", Any, NAME_WEAK),
    ("cheers", Any, NAME_WEAK),
    ("soy", Any, NAME_WEAK),
    ("hola", Any, NAME_WEAK),
    ("gracias", Any, NAME_WEAK),
    ("patient", Any, NAME_WEAK),
    ("daughter", Any, NAME_WEAK),
    ("son", Any, NAME_WEAK),
    ("wife", Any, NAME_WEAK),
    ("husband", Any, NAME_WEAK),
    ("mother", Any, NAME_WEAK),
    ("father", Any, NAME_WEAK),
    ("mom", Any, NAME_WEAK),
    ("mum", Any, NAME_WEAK),
    ("dad", Any, NAME_WEAK),
    ("brother", Any, NAME_WEAK),
    ("sister", Any, NAME_WEAK),
    ("grandmother", Any, NAME_WEAK),
    ("grandfather", Any, NAME_WEAK),
    ("grandma", Any, NAME_WEAK),
    ("grandpa", Any, NAME_WEAK),
    ("grandson", Any, NAME_WEAK),
    ("granddaughter", Any, NAME_WEAK),
    ("child", Any, NAME_WEAK),
    ("baby", Any, NAME_WEAK),
    ("partner", Any, NAME_WEAK),
    ("boyfriend", Any, NAME_WEAK),
    ("girlfriend", Any, NAME_WEAK),
    ("fiance", Any, NAME_WEAK),
    ("fiancé", Any, NAME_WEAK),
    ("fiancée", Any, NAME_WEAK),
    ("aunt", Any, NAME_WEAK),
    ("uncle", Any, NAME_WEAK),
    ("niece", Any, NAME_WEAK),
    ("nephew", Any, NAME_WEAK),
    ("cousin", Any, NAME_WEAK),
    ("friend", Any, NAME_WEAK),
    ("neighbor", Any, NAME_WEAK),
    ("neighbour", Any, NAME_WEAK),
    ("caregiver", Any, NAME_WEAK),
    ("stepson", Any, NAME_WEAK),
    ("stepdaughter", Any, NAME_WEAK),
    ("hija", Any, NAME_WEAK),
    ("hijo", Any, NAME_WEAK),
    ("esposa", Any, NAME_WEAK),
    ("esposo", Any, NAME_WEAK),
    ("madre", Any, NAME_WEAK),
    ("padre", Any, NAME_WEAK),
    ("mamá", Any, NAME_WEAK),
    ("papá", Any, NAME_WEAK),
    ("hermano", Any, NAME_WEAK),
    ("hermana", Any, NAME_WEAK),
    ("abuela", Any, NAME_WEAK),
    ("abuelo", Any, NAME_WEAK),
    // Places. A bare "in" would be too loose: "in Pain", "in Network".
    ("live in", Any, PLACE),
    ("lives in", Any, PLACE),
    ("living in", Any, PLACE),
    ("live near", Any, PLACE),
    ("lives near", Any, PLACE),
    ("based in", Any, PLACE),
    ("here in", Any, PLACE),
    ("staying in", Any, PLACE),
    ("from", Any, FROM),
    ("visiting from", Any, FROM),
    ("moved to", Any, PLACE),
    ("moving to", Any, PLACE),
    ("traveling to", Any, PLACE),
    ("travelling to", Any, PLACE),
    ("located in", Any, PLACE),
    ("reside in", Any, PLACE),
    ("resides in", Any, PLACE),
    ("residing in", Any, PLACE),
    ("grew up in", Any, PLACE),
    ("vivo en", Any, PLACE),
    ("vive en", Any, PLACE),
    ("soy de", Any, PLACE),
];

/// Words that may stand between a trigger and its value: "member ID
/// *number is* XYZ123", "account *ending in* 4321".
const CONNECTORS: &[&str] = &[
    "number", "numbers", "num", "nbr", "no", "nr", "is", "was", "are", "code", "id", "ending",
    "ends", "in", "on", "with", "file", "es", "numero", "número", "de", "del",
];

/// Words that make a number after "I am" something other than an age.
const UNITS: &[&str] = &[
    "percent", "kg", "kgs", "kilos", "lb", "lbs", "pounds", "mg", "ml", "cm", "mm", "in", "inches",
    "ft", "feet", "miles", "mile", "km", "min", "mins", "minutes", "hours", "hrs", "days", "weeks",
    "months", "times", "tablets", "pills", "dollars", "bucks", "degrees", "bpm", "over", "steps",
    "calories", "units",
];

pub(crate) struct Context {
    ac: AhoCorasick,
    triggers: Vec<(&'static str, Case, &'static [Act])>,
    ssn: Regex,
    digits: Regex,
    code: Regex,
    phone: Regex,
    date: Regex,
    zip: Regex,
    plate: Regex,
    vin: Regex,
    iban: Regex,
    iban_groups: Regex,
    dea: Regex,
    age: Regex,
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
            ssn: ascii(r"^(?:\d{3}[- ]?\d{2}[- ]?\d{4}|\d{4})"),
            digits: ascii(r"^\d+(?:[ -]\d+)*"),
            code: ascii(r"^[A-Za-z0-9]+(?:[-./][A-Za-z0-9]+)*(?: \d{3,})*"),
            phone: ascii(r"^\+?\(?\d[\d(). -]{5,22}\d"),
            date: ascii(r"^(?:\d{1,2}[/.-]\d{1,2}(?:[/.-](?:\d{4}|\d{2}))?|\d{8}|\d{6})"),
            zip: ascii(r"^\d{5}(?:-\d{4})?"),
            plate: ascii(r"^[A-Za-z0-9]{2,8}(?:[ -][A-Z0-9]{1,5}\b)?"),
            vin: ascii(r"^[A-HJ-NPR-Za-hj-npr-z0-9]{17}"),
            iban: ascii(r"^[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,30}"),
            iban_groups: ascii(r"^[A-Za-z]{2}\d{2}(?: ?[A-Z0-9]{1,4})+"),
            dea: ascii(r"^[A-Za-z]{2}\d{7}"),
            age: ascii(r"^\d{2,3}"),
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
                        self.value(text, e, kind, shape, out);
                    }
                    Value(..) => {}
                    Age if has_digit => self.age(text, e, out),
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

    /// The value after a trigger ending at byte `at`.
    fn value(&self, text: &str, at: usize, kind: Kind, shape: Shape, out: &mut Vec<Hit>) {
        let v = skip_connectors(text, at);
        let rest = &text[v..];
        let find = |re: &Regex| {
            re.find(rest)
                .map(|m| (v, v + m.end()))
                .filter(|&(s, e)| number_bounded(text, s, e))
        };
        let mut push = |(s, e): (usize, usize), kind: Kind, score: f32| {
            out.push(Hit::new(s, e, kind, score));
        };
        match shape {
            Shape::Ssn => {
                if let Some(r) = find(&self.ssn) {
                    push(r, kind, SCORE_CHECKED);
                }
            }
            Shape::Routing => {
                if let Some((s, e)) = find(&self.digits)
                    && let Some(d) = Digits::of(&text[s..e])
                    && d.len() == 9
                {
                    let score = if aba_valid(d.as_str()) {
                        SCORE_CHECKED
                    } else {
                        SCORE_UNCHECKED
                    };
                    push((s, e), kind, score);
                }
            }
            Shape::Card => {
                // Not `find`: the run may go on into an expiry date ("4111 ...
                // 1111 12/28"), and card_prefix only takes whole groups.
                if let Some(m) = self.digits.find(rest)
                    && let Some((end, score)) =
                        card_prefix(m.as_str(), |end| number_bounded(text, v, v + end))
                {
                    push((v, v + end), kind, score);
                }
            }
            Shape::Npi => {
                if let Some((s, e)) = find(&self.digits)
                    && let Some(d) = Digits::of(&text[s..e])
                    && d.len() == 10
                {
                    let score = if npi_valid(d.as_str()) {
                        SCORE_CHECKED
                    } else {
                        SCORE_UNCHECKED
                    };
                    push((s, e), kind, score);
                } else {
                    self.code(text, v, kind, 3, false, out);
                }
            }
            Shape::Dea => {
                if let Some((s, e)) = find(&self.dea) {
                    let score = if dea_valid(&text[s..e]) {
                        SCORE_CHECKED
                    } else {
                        SCORE_VALUE
                    };
                    push((s, e), kind, score);
                } else {
                    self.code(text, v, kind, 3, false, out);
                }
            }
            Shape::Vin => {
                if let Some((s, e)) = find(&self.vin)
                    && text[s..e].bytes().any(|b| b.is_ascii_digit())
                {
                    push((s, e), kind, SCORE_CHECKED);
                } else {
                    self.code(text, v, kind, 3, false, out);
                }
            }
            Shape::Iban => {
                if let Some(m) = self.iban.find(rest)
                    && let Some(end) = longest_iban(m.as_str())
                {
                    push((v, v + end), kind, SCORE_CHECKED);
                    return;
                }
                if let Some(m) = self.iban_groups.find(rest) {
                    push((v, v + m.end()), kind, SCORE_UNCHECKED);
                }
            }
            Shape::Phone => {
                if let Some((s, e)) = find(&self.phone)
                    && (7..=15).contains(&text::count_digits(&text[s..e]))
                {
                    push((s, e), kind, SCORE_VALUE);
                }
            }
            Shape::Date => {
                if let Some((s, e)) = find(&self.date)
                    && compact_date_valid(&text[s..e])
                {
                    push((s, e), kind, SCORE_CHECKED);
                }
            }
            Shape::LooseDate => {
                if let Some((s, e)) = find(&self.date)
                    && text[s..e].contains('/')
                    && compact_date_valid(&text[s..e])
                    && !quantity_follows(text, e)
                {
                    push((s, e), kind, SCORE_VALUE);
                }
            }
            Shape::Zip => {
                if let Some(r) = find(&self.zip) {
                    push(r, kind, SCORE_VALUE);
                }
            }
            Shape::Plate => {
                if let Some(m) = self.plate.find(rest) {
                    let plate = m.as_str();
                    // The second group only belongs to the plate when the
                    // first is letters: "ABC 1234", not "7XYZ123 yesterday".
                    let end = match plate.find([' ', '-']) {
                        Some(i)
                            if plate[..i].bytes().any(|b| b.is_ascii_digit())
                                && plate.as_bytes()[i] == b' ' =>
                        {
                            i
                        }
                        _ => plate.len(),
                    };
                    let plate = &plate[..end];
                    if plate.bytes().any(|b| b.is_ascii_digit())
                        && plate.bytes().filter(u8::is_ascii_alphanumeric).count() >= 4
                        && number_bounded(text, v, v + end)
                    {
                        push((v, v + end), kind, SCORE_VALUE);
                    }
                }
            }
            Shape::Code(min) => self.code(text, v, kind, min, false, out),
            Shape::Letters(min) => self.code(text, v, kind, min, true, out),
        }
    }

    /// A generic alphanumeric code with at least `min_digits` digits (or,
    /// with `letters`, in capitals without digits).
    fn code(
        &self,
        text: &str,
        v: usize,
        kind: Kind,
        min_digits: usize,
        letters: bool,
        out: &mut Vec<Hit>,
    ) {
        let Some(m) = self.code.find(&text[v..]) else {
            return;
        };
        let (s, e) = (v, v + m.end());
        let code = &text[s..e];
        let alnum = code.bytes().filter(u8::is_ascii_alphanumeric).count();
        let digits = text::count_digits(code);
        let caps_only = code.bytes().all(|b| !b.is_ascii_lowercase());
        let shaped = (digits >= min_digits && digits > 0) || (letters && caps_only && alnum >= 5);
        // A date after "claim" or "case" is the date, which the pattern
        // layer reports as such.
        let is_date =
            (code.contains('/') || code.matches('-').count() == 2) && numeric_date_valid(code);
        if shaped && (4..=40).contains(&alnum) && !is_date && number_bounded(text, s, e) {
            out.push(Hit::new(s, e, kind, SCORE_VALUE));
        }
    }

    fn age(&self, text: &str, at: usize, out: &mut Vec<Hit>) {
        let mut i =
            at + text[at..].len() - text[at..].trim_start_matches([' ', '\t', ':', '=']).len();
        if i == at {
            return;
        }
        for _ in 0..2 {
            let word_end = text[i..]
                .find(|c: char| !c.is_ascii_alphabetic())
                .map_or(text.len(), |n| i + n);
            let word = &text[i..word_end];
            if [
                "now",
                "just",
                "almost",
                "nearly",
                "is",
                "about",
                "over",
                "currently",
                "turning",
            ]
            .iter()
            .any(|w| word.eq_ignore_ascii_case(w))
            {
                i = skip_spaces(text, word_end);
            } else {
                break;
            }
        }
        let Some(m) = self.age.find(&text[i..]) else {
            return;
        };
        let (s, e) = (i, i + m.end());
        if !number_bounded(text, s, e) || !age_over_89(&text[s..e]) {
            return;
        }
        // number_bounded already refused "92.5" and "92/60".
        if text[e..].starts_with(['%', '°', '$']) {
            return;
        }
        let next = skip_spaces(text, e);
        let unit_end = text[next..]
            .find(|c: char| !c.is_alphabetic())
            .map_or(text.len(), |n| next + n);
        let unit = &text[next..unit_end];
        if UNITS.iter().any(|u| unit.eq_ignore_ascii_case(u)) {
            return;
        }
        out.push(Hit::new(s, e, Kind::Age, SCORE_AGE));
    }
}

/// Whether the word after byte `e` makes the number before it a quantity:
/// "3/4 of a tablet", "1/2 tab", "8/10 pain scale".
fn quantity_follows(text: &str, e: usize) -> bool {
    let next = skip_spaces(text, e);
    let end = text[next..]
        .find(|c: char| !c.is_alphabetic())
        .map_or(text.len(), |n| next + n);
    let word = &text[next..end];
    UNITS.iter().any(|u| word.eq_ignore_ascii_case(u))
        || [
            "of", "tab", "tabs", "tablet", "pill", "dose", "doses", "cup", "cups", "scale",
            "strength",
        ]
        .iter()
        .any(|u| word.eq_ignore_ascii_case(u))
}

fn skip_spaces(text: &str, i: usize) -> usize {
    i + text[i..].len() - text[i..].trim_start_matches([' ', '\t']).len()
}

/// Past separators and connector words to where a trigger's value starts.
fn skip_connectors(text: &str, mut i: usize) -> usize {
    let start = i;
    'words: for _ in 0..8 {
        let rest = &text[i..];
        let trimmed = rest.trim_start_matches([' ', '\t', ':', '#', '=', '-', '–', '—', '(', '.']);
        i += rest.len() - trimmed.len();
        let word_len = trimmed
            .find(|c: char| !c.is_alphabetic())
            .unwrap_or(trimmed.len());
        let word = &trimmed[..word_len];
        if word.is_empty() {
            // "my zip's 78701", "member ID's X123": the contracted "is".
            for contraction in ["'s ", "’s "] {
                if i == start && trimmed.starts_with(contraction) {
                    i += contraction.len();
                    continue 'words;
                }
            }
            for sign in ["n°", "nº", "N°", "Nº"] {
                if trimmed.starts_with(sign) {
                    i += sign.len();
                }
            }
            break;
        }
        if !CONNECTORS.iter().any(|c| word.eq_ignore_ascii_case(c)) {
            break;
        }
        i += word_len;
        if text[i..].starts_with('.') {
            i += 1;
        }
    }
    i
}

/// The longest prefix of a digit run (ending between groups, and `bounded`
/// there) that reads as a card number after a card trigger, with its score:
/// Luhn-valid 12-19 digits score high; otherwise 13-19 digits, or a lone
/// last four.
fn card_prefix(run: &str, bounded: impl Fn(usize) -> bool) -> Option<(usize, f32)> {
    let ends: Vec<usize> = run
        .match_indices([' ', '-'])
        .map(|(i, _)| i)
        .chain(std::iter::once(run.len()))
        .filter(|&end| bounded(end))
        .collect();
    let digits_to = |end: usize| text::count_digits(&run[..end]);
    let valid = ends.iter().rev().find(|&&end| {
        (12..=19).contains(&digits_to(end))
            && Digits::of(&run[..end]).is_some_and(|d| luhn_valid(d.as_str()))
    });
    if let Some(&end) = valid {
        return Some((end, SCORE_CHECKED));
    }
    if let Some(&end) = ends
        .iter()
        .rev()
        .find(|&&end| (13..=19).contains(&digits_to(end)))
    {
        return Some((end, SCORE_UNCHECKED));
    }
    (run.len() == 4 && digits_to(4) == 4 && bounded(4)).then_some((4, SCORE_UNCHECKED))
}

/// A date of birth after a trigger: "3/4", "3/4/61", "030461", "19610304".
fn compact_date_valid(date: &str) -> bool {
    if date.contains(['/', '-', '.']) {
        return numeric_date_valid(date);
    }
    let n = |s: &str| s.parse::<u32>().unwrap_or(0);
    match date.len() {
        6 => numeric_date_valid(&format!("{}/{}", n(&date[..2]), n(&date[2..4]))),
        8 => {
            let (y, m, d) = (n(&date[..4]), n(&date[4..6]), n(&date[6..]));
            ((1900..=2100).contains(&y) && (1..=12).contains(&m) && (1..=31).contains(&d))
                || numeric_date_valid(&format!("{}/{}", n(&date[..2]), n(&date[2..4])))
        }
        _ => false,
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
