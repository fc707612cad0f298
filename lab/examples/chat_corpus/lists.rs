//! The word lists the slots draw from: names beyond `fake`'s English ones,
//! cities, streets, e-mail and clinic domains, insurers, medicines, and the
//! clinical and scheduling text that must stay unlabelled.

/// Non-Anglo and accented names, as whole names so that first and last
/// names go together.
pub(crate) const WORLD_NAMES: &[(&str, &str)] = &[
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
pub(crate) const HYPHENATED_FIRST: &[&str] = &[
    "Mary-Kate",
    "Jean-Luc",
    "Anne-Marie",
    "Ji-Hoon",
    "Mary-Beth",
    "Jo-Ann",
    "Lee-Ann",
];
pub(crate) const APOSTROPHE_LAST: &[&str] =
    &["O'Connor", "O'Brien", "D'Souza", "O'Neill", "D'Angelo"];
/// Entries in `fake`'s first-name list that no parent would pick.
pub(crate) const UNLIKELY_FIRST: &[&str] =
    &["Baby", "Brain", "General", "Christ", "Christop", "Geo"];

pub(crate) const REAL_CITIES: &[&str] = &[
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
pub(crate) const STREET_WORDS: &[&str] = &[
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
pub(crate) const STREET_TYPES: &[&str] = &[
    "St", "St.", "Street", "Ave", "Avenue", "Rd", "Road", "Blvd", "Dr", "Drive", "Ln", "Lane",
    "Ct", "Way", "Pl", "Ter", "Cir", "Pkwy",
];
pub(crate) const EMAIL_DOMAINS: &[&str] = &[
    "outlook.com",
    "icloud.com",
    "aol.com",
    "comcast.net",
    "att.net",
    "protonmail.com",
    "me.com",
    "live.com",
];
pub(crate) const CLINIC_DOMAINS: &[&str] = &[
    "brightsmiledental",
    "lakeshorefamilymed",
    "northsidepeds",
    "oakwoodortho",
    "riverviewclinic",
    "cedarhealth",
];
pub(crate) const INSURERS: &[&str] = &[
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
pub(crate) const MEDS: &[&str] = &[
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
pub(crate) const REL_DAYS: &[&str] = &[
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
pub(crate) const CLOCKS: &[&str] = &[
    "3pm", "3:30", "10:30", "9am", "noon", "4:15 pm", "8 AM", "11:45", "2 pm", "7:30am",
];
pub(crate) const DURATIONS: &[&str] = &[
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
pub(crate) const TEMPS: &[&str] = &["101.5 F", "100.4", "102°F", "38.5 C", "99.8 degrees", "103"];
pub(crate) const WEIGHTS: &[&str] = &["185 lbs", "220 pounds", "68 kg", "140lbs", "312 lb"];
pub(crate) const A1CS: &[&str] = &["7.2", "6.8%", "8.1", "5.9", "9.4%"];
pub(crate) const MONEY: &[&str] = &["$40", "$212.50", "$1,150", "$35.00", "$89", "$2,400"];
pub(crate) const MONTHS: [&str; 12] = [
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
pub(crate) const MONTHS_SHORT: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sept", "Oct", "Nov", "Dec",
];
pub(crate) const DAYS_IN_MONTH: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
/// Letters an MBI may use: no S, L, O, I, B or Z.
pub(crate) const MBI_LETTERS: &[u8] = b"ACDEFGHJKMNPQRTUVWXY";
/// Letters a confirmation code uses: no 0/O or 1/I lookalikes.
pub(crate) const CODE_CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
