//! Generates a synthetic, labelled corpus of what patients type into a
//! medical or dental practice's website chat, so that the redactor can be
//! measured on text shaped like Carechat's traffic (short, informal, often
//! lowercase, sometimes misspelt, sometimes several identifiers in one line)
//! rather than only on presidio-research's generic sentences.
//!
//! ```text
//! cargo run --release -p redaction --example chat_corpus -- --count 2000 --seed 7 > chat.json
//! carechat eval redact chat.json        # --rules-only: the rule layers alone
//! ```
//!
//! `--count` (default 2000) is the number of messages, `--seed` (default 7)
//! seeds the RNG: the same seed gives byte-identical output (for the same
//! `Cargo.lock`, since `fake`'s word lists are part of the output). A summary
//! goes to stderr.
//!
//! The output is one JSON array in presidio-research's format:
//! `[{"full_text": str, "spans": [{"entity_type": str, "entity_value": str,
//! "start_position": int, "end_position": int}]}]`, offsets in Unicode chars,
//! end exclusive, and `entity_value` always equals those chars of `full_text`
//! (asserted while generating).
//!
//! Messages come from about 190 hand-written templates (130 with
//! identifiers, 60 without), filled with `fake`'s English first names,
//! surnames, street names and states, with lists of non-Anglo, accented,
//! apostrophised and hyphenated names beside them, and then roughened the
//! way chat is: a greeting or a "thx", all lowercase, a typo (in the words
//! around identifiers, never in them), no final full stop, two messages run
//! together. About a quarter of the messages hold no identifier at all. The
//! templates were written from what patients type, not from the redactor's
//! rules, so that the corpus tests the redactor rather than mirrors it.
//!
//! # What is labelled
//!
//! Only the identifier itself, never the words that announce it ("MRN",
//! "my DOB is", "Dr.").
//!
//! - `PERSON`: patients, relatives and staff, full names or first names
//!   alone; for "Dr. Okafor" only "Okafor". A possessive "'s" is left out.
//! - `ADDRESS`: a street address, including the unit, city, state and ZIP
//!   when they are written together with it as one address; PO boxes.
//! - `LOCATION`: a city, town or county on its own.
//! - `ZIP_CODE`: a ZIP (or ZIP+4) on its own.
//! - `DATE_TIME`: birth dates and appointment dates that name a day and a
//!   month, the whole expression including the year when written ("March
//!   3rd 1961" in "born on March 3rd 1961", "3rd of March 1961" in "born on
//!   the 3rd of March 1961"); a time next to the date ("at 3pm") is not part
//!   of it.
//! - `AGE`: ages over 89, just the number ("93" in "she's 93 years old").
//! - `PHONE_NUMBER`: US and international shapes, with the extension when
//!   one is written ("(312) 555-0188 ext 12").
//! - `EMAIL_ADDRESS`, `US_SSN`, `CREDIT_CARD` (Luhn-valid), `IBAN_CODE`
//!   (mod-97-valid), `US_DRIVER_LICENSE`, `IP_ADDRESS` (v4 and v6), `URL`
//!   (patient-portal links carrying identifiers, personal sites, photo
//!   shares).
//! - `MEDICAL_RECORD_NUMBER` (MRN, chart number, patient id),
//!   `HEALTH_PLAN_ID` (member, subscriber, policy, group, Medicare and
//!   Medicaid numbers), `ACCOUNT_NUMBER` (billing accounts), `OTHER_ID`
//!   (claim, prescription, referral, prior-authorisation and confirmation
//!   numbers): the value only, without a leading "#".
//!
//! # What is not labelled
//!
//! Clinical and scheduling text that merely looks like an identifier:
//! readings ("BP 142/91", "138 over 85", "pain 7/10", "A1C 7.2",
//! "101.5 F", weights), doses ("500 mg metformin twice daily", "take 2
//! tablets 3 times a day"), relative days and times ("next Tuesday",
//! "tomorrow morning", "at 3pm", "10:30"), years alone ("in 2019", "since
//! 2015"; Safe Harbor keeps years), durations, tooth numbers ("tooth #14"),
//! ages of 89 and under, "Dr." with no name after it, insurers (Aetna, Blue
//! Cross), money, and everyday words that are also names ("will", "may",
//! "grant", "bill", "mark", "hope").

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;

use fake::Fake;
use fake::faker::address::en::{CityPrefix, StateAbbr, StreetName};
use fake::faker::internet::en::{FreeEmailProvider, IPv4, IPv6, Username};
use fake::faker::name::en::{FirstName, LastName};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde::Serialize;

const USAGE: &str = "usage: chat_corpus [--count N] [--seed N] > chat.json";

const PERSON: &str = "PERSON";
const ADDRESS: &str = "ADDRESS";
const LOCATION: &str = "LOCATION";
const ZIP_CODE: &str = "ZIP_CODE";
const DATE_TIME: &str = "DATE_TIME";
const AGE: &str = "AGE";
const PHONE_NUMBER: &str = "PHONE_NUMBER";
const EMAIL_ADDRESS: &str = "EMAIL_ADDRESS";
const US_SSN: &str = "US_SSN";
const MEDICAL_RECORD_NUMBER: &str = "MEDICAL_RECORD_NUMBER";
const HEALTH_PLAN_ID: &str = "HEALTH_PLAN_ID";
const ACCOUNT_NUMBER: &str = "ACCOUNT_NUMBER";
const CREDIT_CARD: &str = "CREDIT_CARD";
const IBAN_CODE: &str = "IBAN_CODE";
const US_DRIVER_LICENSE: &str = "US_DRIVER_LICENSE";
const IP_ADDRESS: &str = "IP_ADDRESS";
const URL: &str = "URL";
const OTHER_ID: &str = "OTHER_ID";

/// Messages with at least one identifier. `{slot}`s are filled by
/// [`Gen::slot`]; `{full}`, `{first}`, `{last}` and `{email}` are the writer,
/// `{full2}` and `{first2}` someone they write about.
const POSITIVE: &[&str] = &[
    // Who is writing, and about whom.
    "hi my name is {full} and I need to reschedule my cleaning",
    "This is {full}, DOB {dob}. I need a refill on my {med}",
    "{full} {dob}",
    "Name: {full}\nDOB: {dob}\nPhone: {phone}",
    "hey its {first}, I was in yesterday for a filling and my lip is still numb",
    "{full} here, checking on my lab results",
    "I'm {full}, new patient, do I need to fill out forms before {date}?",
    "my name is {first} and my son {kid} needs a cleaning",
    "booking for my husband {full2}, he's free on {date}",
    "my wife {first2} and I both need checkups, can we come in together on {date}?",
    "my husband {first2} will pick me up after the sedation",
    "{first2} is my emergency contact, her number is {phone}",
    "last name is {last}, first name {first}",
    "Appointment for {full}, not {first2}, we have the same last name lol",
    // Staff.
    "can {staff} call me back at {phone}? it's about my biopsy",
    "is {staff} in today? I have a question about my crown",
    "I saw {staff} last time and would like to see her again",
    "{staff}'s nurse told me to message here about the referral",
    "can I see {staff_first} again for my cleaning? she was great",
    "thank you {staff_first}! see you {rel_day}",
    "I'd like an appointment with {dr_full} please",
    "I was referred by {staff} at the hospital",
    "does {staff} do implants or do I need a specialist",
    "{staff_first} at the front desk said to ask here about my bill",
    // Ages over 89.
    "my mom {full2} is a patient there, she's {old_age} and can't use the computer",
    "my grandmother is {old_age} and needs a ride to her appointment, do you offer transport?",
    "she's {old_age} years old, is it safe for her to get the extraction?",
    "bringing in my great-grandpa, a {old_age}-year-old, for his denture fitting",
    "my dad just turned {old_age} and he's been falling a lot",
    "Patient is my aunt {full2}, age {old_age}, DOB {dob_old}",
    "he is {old_age} and lives alone in {city}",
    "my grandpa is {old_age} and on {dose}, is that too much for him?",
    // Contact details.
    "my email is {email}, please send the forms there",
    "send the invoice to {email} not my old one",
    "can you email my x-rays to {email}?",
    "call me at {phone}",
    "my cell is {phone}, text is fine",
    "pls text me {phone} when the dr is running late",
    "my number changed, it's {phone} now",
    "work number is {phone_ext} if you can't reach my cell",
    "you can reach my husband {first2} at {phone}",
    "I'm abroad right now, call {intl_phone}",
    "best way to reach me: {email} or {phone}",
    "whatsapp me at {intl_phone} please",
    // Where they live.
    "new address: {address}",
    "We moved! please update my address to {address}",
    "I live at {address}, is that close to your office?",
    "send the paperwork to {address}",
    "mail it to {po_box}",
    "is there a location closer to {city}? I live out there",
    "I'm driving in from {city} so I might be a few min late",
    "we just moved here from {city} and need a new dentist",
    "do you have any providers in {county}? that's where I live",
    "my mom lives in {city}, can she do a telehealth visit?",
    "my zip is {zip}",
    "do you see patients in {zip}? just moved",
    "zip code {zip}, does that fall in your service area",
    "the pharmacy on file is wrong, I'm at {address} now",
    // Dates of birth and appointments.
    "my DOB is {dob}",
    "dob {dob}",
    "I was born on the {dob_ordinal}",
    "DOB: {dob_short}",
    "my birthday is {bday} so does my deductible reset then?",
    "date of birth {dob}, last name {last}",
    "I'd like to move my appt from {date} to {date}",
    "is {date} at {clock} open?",
    "can I get in on {date}? anytime after {clock}",
    "my last cleaning was on {date_y}",
    "I had my wisdom teeth out on {date_y} and it still hurts",
    "confirming my appointment on {date}",
    "I can't make it {date}, can we do {rel_day} instead",
    "my son {kid} was born {dob_kid}, do you need his dob for the form?",
    "my daughter's birthday is {bday}, she turns 7",
    "last seen on {date_y} by {staff}",
    // Government and health-plan numbers.
    "my ssn is {ssn}",
    "SSN {ssn}",
    "social security number: {ssn}",
    "do you need my social? it's {ssn}",
    "the form asks for ss#, mine is {ssn}",
    "MRN {mrn}",
    "my medical record number is {mrn}",
    "chart # {chart}",
    "patient id {pid}, can you check if my results are in",
    "member ID {member}",
    "my insurance is {insurer}, member id {member}, group number {group}",
    "subscriber id is {member} and group # {group}",
    "policy number {policy}",
    "my medicare number is {mbi}",
    "medicaid id {medicaid}, is that accepted?",
    "my new insurance card says ID {member}",
    // Money.
    "account number {acct}",
    "billing acct # {acct} shows a balance I already paid",
    "I got a statement for account {acct}, why is it {money}?",
    "can I pay with card {card}?",
    "here is my card number {card}, please charge the copay",
    "use {card} for the {money} balance",
    "I'm paying from my german bank, IBAN {iban}",
    "refund to IBAN {iban} please",
    // Licences, addresses online, other numbers.
    "my driver's license is {dl}",
    "drivers license number {dl} if you need it for the form",
    "DL# {dl}",
    "the portal says my ip {ip} is blocked",
    "error message says access denied for {ipv6}",
    "here's the link to my portal page {url_portal}",
    "I uploaded a pic of the rash here {url_file}",
    "my website {url_personal} has my contact info",
    "claim number {claim} was denied, why?",
    "Rx #{rx} needs a refill",
    "refill for rx number {rx} please",
    "referral number {referral} from my PCP",
    "confirmation code {conf}",
    "my prior auth # is {auth}",
    "The pharmacy says prescription {rx} is on hold",
    // Several at once.
    "Hi, this is {full} (DOB {dob}), MRN {mrn}. Please call {phone}.",
    "patient: {full}\ndob {dob}\ninsurance: {insurer} member id {member}",
    "{first} here, my email is {email} and cell {phone}",
    "name {full} dob {dob} ssn {ssn}",
    "I'm {full}, {address}, {phone}",
    "{full}, DOB {dob}, member ID {member}, group {group}",
    "updating my info: {address}, phone {phone}, email {email}",
    "my daughter {kid} (dob {dob_kid}) has an appt with {staff} on {date}",
    "calling about claim {claim} for {full2}, my husband, his member id is {member}",
    "paying for {full2}'s visit, card {card}",
    "my account {acct} and MRN {mrn} are under my maiden name {last}",
    "its {first}, born {dob}, I need my records sent to {staff} at {email}",
    "This is {full}. My BP was {bp} this morning and {staff} said to message if it was over 140",
    "{full} dob {dob} - {med} {dose_tail} isn't helping, can {staff} call {phone}",
];

/// Messages with no identifier: clinical and scheduling text, some of it
/// shaped like identifiers. Only unlabelled slots may appear here.
const NEGATIVE: &[&str] = &[
    "my BP was {bp} this morning, is that too high?",
    "my blood pressure was {bp_words} yesterday",
    "BP {bp}, pulse 88",
    "take 2 tablets 3 times a day right?",
    "I'm on {dose} and {dose}",
    "can I take ibuprofen 400mg before my extraction?",
    "is it ok to take {dose} with food",
    "{dose} twice daily isn't working",
    "can I see the dr. today?",
    "is the dr in {rel_day}?",
    "The Dr. said to come back in {duration}",
    "which dr is on call this weekend",
    "I'm {young_age} and never had a colonoscopy, should I?",
    "my son is {kid_age}, do you see kids?",
    "my mom is {senior_age}, is the shingles vaccine covered?",
    "my kid is {kid_age} and has a loose tooth",
    "my grandma is {senior_age} and still drives lol",
    "tooth #{tooth} is killing me",
    "tooth {tooth} hurts when I chew",
    "the filling on #{tooth} fell out",
    "had a fever of {temp} since yesterday",
    "coughing for {duration}, temp {temp}",
    "I weigh {weight} and the nurse wants me to lose some",
    "my A1C was {a1c} last time, is that good?",
    "sugar was 180 after lunch",
    "pain is 7/10 when I bite down",
    "do you take {insurer}?",
    "is {insurer} in network?",
    "what's the copay for a crown with {insurer}",
    "I will be 10 min late",
    "Will the dentist be in {rel_day}?",
    "May I bring my husband to the appointment?",
    "may need to cancel, I'm sick",
    "can you bill my insurance instead of me?",
    "got a bill for {money}, why?",
    "hope to see you soon",
    "I hope it's not an infection",
    "please mark me as a new patient",
    "did they grant the prior authorization yet?",
    "next Tuesday at 3pm works",
    "do you have anything {rel_day}?",
    "I had the same problem in {year}",
    "I've been diabetic since {year}",
    "pain for {duration}, getting worse",
    "is {clock} ok?",
    "can I come at {clock} {rel_day}",
    "how much is a cleaning without insurance?",
    "what are your hours on saturday",
    "my copay was {money} last time",
    "where do I park?",
    "I need 2 crowns and 3 fillings, how long will it take",
    "heart rate 96, bp {bp}",
    "I'm {weeks} weeks pregnant, is a cleaning safe?",
    "started {med} in {year} and the cough started then",
    "can I get a flu shot {rel_day}",
    "the dr said take it for {duration}",
    "running {duration} late sorry",
    "my x-rays from {year} should be on file",
    "I'm allergic to penicillin and codeine",
    "oxygen was 94% on the finger thing",
    "my INR was 2.5 on monday",
    "do I need to fast before the blood work at {clock}",
];

const GREETINGS: &[&str] = &[
    "hi ",
    "Hi, ",
    "hello ",
    "Hello! ",
    "good morning, ",
    "hey ",
    "Hi there. ",
    "hi again ",
];
const SIGNOFFS: &[&str] = &[
    " thanks",
    " thank you!",
    " ty",
    " thx",
    " Thanks!",
    " 🙏",
    " 😊",
    " pls",
    "??",
    " :)",
];
const JOINERS: &[&str] = &[". ", ". Also, ", " - ", "\n", "!! ", ". oh and "];
const MISSPELLINGS: &[(&str, &str)] = &[
    ("appointment", "appoinment"),
    ("tomorrow", "tommorow"),
    ("schedule", "schedual"),
    ("prescription", "perscription"),
    ("receive", "recieve"),
    ("insurance", "insurence"),
    ("cancel", "cancell"),
    ("definitely", "definately"),
    ("because", "becuase"),
    ("please", "plz"),
];

/// Non-Anglo and accented names, as whole names so that first and last
/// names go together.
const WORLD_NAMES: &[(&str, &str)] = &[
    ("José", "García"),
    ("Guadalupe", "Hernández"),
    ("Joaquín", "Ramírez"),
    ("Ximena", "Sánchez"),
    ("Oluwaseun", "Adeyemi"),
    ("Chukwuemeka", "Okafor"),
    ("Ngozi", "Eze"),
    ("Aisha", "Bello"),
    ("Kwame", "Asante"),
    ("Yaw", "Boateng"),
    ("Thandiwe", "Nkosi"),
    ("Priya", "Venkataraman"),
    ("Aarav", "Patel"),
    ("Lakshmi", "Iyer"),
    ("Rahul", "Mehta"),
    ("Hamza", "Qureshi"),
    ("Sadia", "Rahman"),
    ("Mei-Ling", "Chen"),
    ("Wei", "Zhang"),
    ("Xiuying", "Li"),
    ("Hiroshi", "Tanaka"),
    ("Yuki", "Watanabe"),
    ("Ji-woo", "Kim"),
    ("Min-jun", "Park"),
    ("Bao", "Nguyen"),
    ("Thuy", "Pham"),
    ("Anh", "Tran"),
    ("Fatima", "Al-Hassan"),
    ("Mohammed", "Abdullah"),
    ("Mariam", "Haddad"),
    ("Zeynep", "Yılmaz"),
    ("Yusuf", "Demir"),
    ("Parisa", "Tehrani"),
    ("Darius", "Farahani"),
    ("Eitan", "Katz"),
    ("Noa", "Levi"),
    ("Dmitri", "Volkov"),
    ("Agnieszka", "Kowalczyk"),
    ("Marek", "Nowak"),
    ("Ioana", "Popescu"),
    ("Björn", "Lindqvist"),
    ("Søren", "Madsen"),
    ("Chloé", "Dubois"),
    ("Renée", "Lefèvre"),
    ("François", "Gauthier"),
    ("Siobhán", "O'Sullivan"),
    ("Saoirse", "Ní Bhriain"),
    ("Sione", "Taufa"),
    ("Keoni", "Kahananui"),
    ("Nguyễn", "Thị Lan"),
];
const HYPHENATED_FIRST: &[&str] = &[
    "Mary-Kate",
    "Jean-Luc",
    "Anne-Marie",
    "Ji-Hoon",
    "Mary-Beth",
    "Jo-Ann",
    "Lee-Ann",
];
const APOSTROPHE_LAST: &[&str] = &["O'Connor", "O'Brien", "D'Souza", "O'Neill", "D'Angelo"];
/// Entries in `fake`'s first-name list that no parent would pick.
const UNLIKELY_FIRST: &[&str] = &["Baby", "Brain", "General", "Christ", "Christop", "Geo"];

const REAL_CITIES: &[&str] = &[
    "Springfield",
    "Riverside",
    "Fairview",
    "Oak Park",
    "Evanston",
    "Naperville",
    "Brookline",
    "Quincy",
    "Tacoma",
    "Fresno",
    "El Paso",
    "San Antonio",
    "St. Paul",
    "Winston-Salem",
    "Coeur d'Alene",
    "Poughkeepsie",
    "Kalamazoo",
    "Hialeah",
    "Marion",
    "Florence",
    "Jackson",
    "Madison",
    "Lincoln",
    "Cicero",
    "Bakersfield",
    "Des Moines",
];
const STREET_WORDS: &[&str] = &[
    "Main",
    "Oak",
    "Maple",
    "Elm",
    "Cedar",
    "Pine",
    "Washington",
    "Lake",
    "Hill",
    "Park",
    "1st",
    "2nd",
    "3rd",
    "14th",
    "42nd",
    "Church",
    "Mill",
    "Sunset",
    "Highland",
    "Lincoln",
    "Jefferson",
    "Walnut",
    "Chestnut",
    "Spring",
    "Ridge",
    "River",
    "Meadow",
    "Willow",
    "Old Mill",
    "Lakeshore",
];
const STREET_TYPES: &[&str] = &[
    "St", "St.", "Street", "Ave", "Avenue", "Rd", "Road", "Blvd", "Dr", "Drive", "Ln", "Lane",
    "Ct", "Way", "Pl", "Ter", "Cir", "Pkwy",
];
const EMAIL_DOMAINS: &[&str] = &[
    "outlook.com",
    "icloud.com",
    "aol.com",
    "comcast.net",
    "att.net",
    "protonmail.com",
    "me.com",
    "live.com",
];
const CLINIC_DOMAINS: &[&str] = &[
    "brightsmiledental",
    "lakeshorefamilymed",
    "northsidepeds",
    "oakwoodortho",
    "riverviewclinic",
    "cedarhealth",
];
const INSURERS: &[&str] = &[
    "Aetna",
    "Blue Cross",
    "Blue Cross Blue Shield",
    "BCBS",
    "Cigna",
    "UnitedHealthcare",
    "UHC",
    "Humana",
    "Kaiser",
    "Delta Dental",
    "MetLife",
    "Medicaid",
    "Medicare",
    "Tricare",
    "Anthem",
    "Ambetter",
    "Guardian",
];
const MEDS: &[&str] = &[
    "metformin",
    "lisinopril",
    "amoxicillin",
    "atorvastatin",
    "levothyroxine",
    "amlodipine",
    "omeprazole",
    "gabapentin",
    "sertraline",
    "ibuprofen",
    "prednisone",
    "losartan",
];
const REL_DAYS: &[&str] = &[
    "next Tuesday",
    "tomorrow morning",
    "tomorrow",
    "this afternoon",
    "today",
    "next week",
    "monday",
    "this friday",
    "later today",
    "next month",
    "after lunch",
    "first thing tomorrow",
    "thursday",
];
const CLOCKS: &[&str] = &[
    "3pm", "3:30", "10:30", "9am", "noon", "4:15 pm", "8 AM", "11:45", "2 pm", "7:30am",
];
const DURATIONS: &[&str] = &[
    "3 weeks",
    "2 days",
    "a month",
    "10 days",
    "6 months",
    "a couple weeks",
    "2 weeks",
    "5 days",
    "an hour",
    "15 min",
];
const TEMPS: &[&str] = &["101.5 F", "100.4", "102°F", "38.5 C", "99.8 degrees", "103"];
const WEIGHTS: &[&str] = &["185 lbs", "220 pounds", "68 kg", "140lbs", "312 lb"];
const A1CS: &[&str] = &["7.2", "6.8%", "8.1", "5.9", "9.4%"];
const MONEY: &[&str] = &["$40", "$212.50", "$1,150", "$35.00", "$89", "$2,400"];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec",
];
const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/// Letters an MBI may use: no S, L, O, I, B or Z.
const MBI_LETTERS: &[u8] = b"ACDEFGHJKMNPQRTUVWXY";
/// Letters a confirmation code uses: no 0/O or 1/I lookalikes.
const CODE_CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

#[derive(Serialize)]
struct Sample {
    full_text: String,
    spans: Vec<GoldSpan>,
}

#[derive(Serialize)]
struct GoldSpan {
    entity_type: &'static str,
    entity_value: String,
    start_position: usize,
    end_position: usize,
}

/// A run of message text, labelled when it is an identifier.
struct Piece {
    text: String,
    label: Option<&'static str>,
}

fn txt(text: impl Into<String>) -> Piece {
    Piece {
        text: text.into(),
        label: None,
    }
}

fn ent(label: &'static str, text: impl Into<String>) -> Piece {
    Piece {
        text: text.into(),
        label: Some(label),
    }
}

#[derive(Default)]
struct Person {
    first: String,
    last: String,
}

struct Gen {
    rng: StdRng,
    /// Who writes the message.
    me: Person,
    /// A relative they write about.
    other: Person,
}

impl Gen {
    fn new(seed: u64) -> Gen {
        Gen {
            rng: StdRng::seed_from_u64(seed),
            me: Person::default(),
            other: Person::default(),
        }
    }

    fn message(&mut self) -> Sample {
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

    fn expand(&mut self, template: &str) -> Vec<Piece> {
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

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs.choose(&mut self.rng).copied().expect("a non-empty list")
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + self.rng.random_range(0..10u8)))
            .collect()
    }

    fn digits_between(&mut self, min: usize, max: usize) -> String {
        let n = self.rng.random_range(min..=max);
        self.digits(n)
    }

    fn letters(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'A' + self.rng.random_range(0..26u8)))
            .collect()
    }

    fn code(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(*CODE_CHARS.choose(&mut self.rng).expect("non-empty")))
            .collect()
    }

    // --- People ---

    fn person(&mut self) -> Person {
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

    fn english_first(&mut self) -> String {
        loop {
            let name: String = FirstName().fake_with_rng(&mut self.rng);
            if !UNLIKELY_FIRST.contains(&name.as_str()) {
                return name;
            }
        }
    }

    fn first_name(&mut self) -> String {
        if self.chance(0.25) {
            let &(first, _) = WORLD_NAMES.choose(&mut self.rng).expect("non-empty");
            first.to_string()
        } else {
            self.english_first()
        }
    }

    fn staff_last(&mut self) -> String {
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
    fn staff(&mut self) -> Vec<Piece> {
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

    // --- Contact ---

    fn us_number(&mut self) -> (String, String, String) {
        let area = format!("{}{}", self.rng.random_range(2..10), self.digits(2));
        let exchange = format!("{}{}", self.rng.random_range(2..10), self.digits(2));
        (area, exchange, self.digits(4))
    }

    fn phone(&mut self) -> String {
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

    fn intl_phone(&mut self) -> String {
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

    fn email(&mut self) -> String {
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

    fn address(&mut self) -> String {
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

    fn city_line(&mut self) -> String {
        let city = self.city();
        let state: String = StateAbbr().fake_with_rng(&mut self.rng);
        match self.rng.random_range(0..4) {
            0 => format!(", {city}, {state} {}", self.zip()),
            1 => format!(" {city} {state} {}", self.zip()),
            2 => format!(", {city} {state}"),
            _ => format!(", {city}"),
        }
    }

    fn city(&mut self) -> String {
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

    fn zip(&mut self) -> String {
        let zip = self.digits(5);
        if self.chance(0.15) {
            format!("{zip}-{}", self.digits(4))
        } else {
            zip
        }
    }

    // --- Dates ---

    fn birth_date(&mut self) -> (u32, usize, u32) {
        self.date_in(1926..=2021)
    }

    fn date_in(&mut self, years: std::ops::RangeInclusive<u32>) -> (u32, usize, u32) {
        let year = self.rng.random_range(years);
        let month = self.rng.random_range(0..12);
        let day = self.rng.random_range(1..=DAYS_IN_MONTH[month]);
        (year, month, day)
    }

    fn dob(&mut self, years: std::ops::RangeInclusive<u32>) -> String {
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

    fn birthday(&mut self) -> Vec<Piece> {
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

    fn appointment_date(&mut self) -> Vec<Piece> {
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

    fn past_date(&mut self) -> String {
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

    // --- Numbers ---

    fn ssn(&mut self) -> String {
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

    fn mrn(&mut self) -> String {
        match self.rng.random_range(0..4) {
            0 => format!("00{}", self.digits(6)),
            1 => format!("{}{}", self.letters(1), self.digits(7)),
            2 => self.digits(10),
            _ => format!("E{}", self.digits(9)),
        }
    }

    fn member_id(&mut self) -> String {
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
    fn mbi(&mut self) -> String {
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

    fn account(&mut self) -> String {
        match self.rng.random_range(0..4) {
            0 => self.digits_between(8, 11),
            1 => format!("{}-{}", self.digits(4), self.digits(4)),
            2 => format!("00{}", self.digits(8)),
            _ => format!("{}-{}-{}", self.digits(3), self.digits(6), self.digits(2)),
        }
    }

    fn card(&mut self) -> String {
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

    fn iban(&mut self) -> String {
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

    fn driver_license(&mut self) -> String {
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

    fn ipv6(&mut self) -> String {
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

    fn portal_url(&mut self) -> String {
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

    fn personal_url(&mut self) -> String {
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

    fn file_url(&mut self) -> String {
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

    // --- Not identifiers ---

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

    // --- Chat texture ---

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

/// Joins the pieces and works out each label's char offsets.
fn assemble(pieces: Vec<Piece>) -> Sample {
    let mut text = String::new();
    let mut spans: Vec<GoldSpan> = Vec::new();
    let mut at = 0;
    for p in pieces {
        let n = p.text.chars().count();
        if let Some(label) = p.label {
            assert!(
                n > 0 && p.text.trim() == p.text,
                "bad {label} value {:?}",
                p.text
            );
            if let Some(prev) = spans.last() {
                assert!(
                    prev.end_position < at,
                    "{label} touches the {} before it in {text:?}",
                    prev.entity_type
                );
            }
            spans.push(GoldSpan {
                entity_type: label,
                entity_value: p.text.clone(),
                start_position: at,
                end_position: at + n,
            });
        }
        text.push_str(&p.text);
        at += n;
    }
    for s in &spans {
        let value: String = text
            .chars()
            .skip(s.start_position)
            .take(s.end_position - s.start_position)
            .collect();
        assert_eq!(value, s.entity_value, "offsets are off in {text:?}");
    }
    Sample {
        full_text: text,
        spans,
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

fn ordinal(n: u32) -> &'static str {
    match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
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

/// Every template expands, positives carry a label and negatives none.
fn check_templates() {
    let mut g = Gen::new(0);
    g.me = g.person();
    g.other = g.person();
    let mut seen = std::collections::HashSet::new();
    for (templates, positive) in [(POSITIVE, true), (NEGATIVE, false)] {
        for t in templates {
            assert!(seen.insert(*t), "duplicate template {t:?}");
            for _ in 0..20 {
                let labelled = g.expand(t).iter().any(|p| p.label.is_some());
                assert_eq!(labelled, positive, "template {t:?}");
            }
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Option<(usize, u64)>, String> {
    let (mut count, mut seed) = (2000usize, 7u64);
    while let Some(arg) = args.next() {
        let (flag, value) = match arg.split_once('=') {
            Some((f, v)) => (f.to_string(), Some(v.to_string())),
            None => (arg, None),
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--count" | "--seed" => {}
            _ => return Err(format!("unknown argument {flag}")),
        }
        let value = match value.or_else(|| args.next()) {
            Some(v) => v,
            None => return Err(format!("{flag} needs a value")),
        };
        match flag.as_str() {
            "--count" => count = value.parse().map_err(|e| format!("--count {value}: {e}"))?,
            _ => seed = value.parse().map_err(|e| format!("--seed {value}: {e}"))?,
        }
    }
    Ok(Some((count, seed)))
}

fn main() -> ExitCode {
    let (count, seed) = match parse_args(std::env::args().skip(1)) {
        Ok(Some(v)) => v,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("chat_corpus: {msg}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    check_templates();
    let mut g = Gen::new(seed);
    let samples: Vec<Sample> = (0..count).map(|_| g.message()).collect();
    let json = serde_json::to_string_pretty(&samples).expect("samples serialise");
    if let Err(e) = writeln!(std::io::stdout().lock(), "{json}") {
        eprintln!("chat_corpus: writing stdout: {e}");
        return ExitCode::FAILURE;
    }

    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for s in samples.iter().flat_map(|s| &s.spans) {
        *by_type.entry(s.entity_type).or_default() += 1;
    }
    let empty = samples.iter().filter(|s| s.spans.is_empty()).count();
    eprintln!(
        "chat_corpus: {count} messages from {} templates ({} without identifiers), seed {seed}",
        POSITIVE.len() + NEGATIVE.len(),
        empty
    );
    for (t, n) in by_type {
        eprintln!("  {t:<22} {n}");
    }
    ExitCode::SUCCESS
}
