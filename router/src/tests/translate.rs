//! When a clinician needs the patient's messages translated, and into what.

use super::*;

#[test]
fn translation_plan_rules() {
    let c =
        |langs: &[(&str, Fluency)]| Clinician::new(1, "x").with_languages(langs.iter().copied());
    use Fluency::*;
    // (case, patient language, clinician languages, expected)
    type Row<'a> = (
        &'a str,
        &'a str,
        &'a [(&'a str, Fluency)],
        Option<(&'a str, &'a str)>,
    );
    let rows: [Row; 7] = [
        (
            "fluent: none",
            "es",
            &[("en", Native), ("es", Fluent)],
            None,
        ),
        ("native: none, any case", "ES", &[("es", Native)], None),
        (
            "not spoken: to their language",
            "es",
            &[("en", Native)],
            Some(("es", "en")),
        ),
        (
            "basic: translated",
            "es",
            &[("es", Basic), ("en", Fluent)],
            Some(("es", "en")),
        ),
        (
            "strongest target, list order among equals",
            "vi",
            &[("fr", Fluent), ("en", Native), ("es", Native)],
            Some(("vi", "en")),
        ),
        (
            "only basic elsewhere too: none",
            "es",
            &[("es", Basic), ("fr", Basic)],
            None,
        ),
        ("no languages: none", "es", &[], None),
    ];
    for (case, patient, langs, expected) in rows {
        let got = translation_plan(patient, &c(langs));
        let expected = expected.map(|(a, b)| (a.to_owned(), b.to_owned()));
        assert_eq!(got, expected, "{case}");
    }

    struct OnlyEnEs;
    impl Translator for OnlyEnEs {
        fn supports(&self, from: &str, to: &str) -> bool {
            matches!((from, to), ("es", "en") | ("en", "es"))
        }
        fn translate(&self, text: &str, from: &str, to: &str) -> Result<String, TranslateError> {
            if self.supports(from, to) {
                Ok(format!("[{to}] {text}"))
            } else {
                Err(TranslateError::Unsupported {
                    from: from.into(),
                    to: to.into(),
                })
            }
        }
    }
    let t: &dyn Translator = &OnlyEnEs;
    let fr_en = c(&[("fr", Native), ("en", Fluent)]);
    assert_eq!(
        translation_plan_with("es", &fr_en, t),
        Some(("es".into(), "en".into())),
        "skips French, which the translator lacks"
    );
    assert_eq!(translation_plan_with("es", &c(&[("fr", Native)]), t), None);
    assert_eq!(translation_plan_with("en", &fr_en, t), None, "fluent");
    assert_eq!(
        t.translate("hola", "es", "fr").unwrap_err().to_string(),
        "no model translates es to fr"
    );
}
