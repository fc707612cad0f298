//! The translation crate end to end: each test writes a tiny Marian model
//! (config, random or rigged weights, tokenizer files) into a temp dir and
//! runs the real loading and decoding path on it.

mod common;

use common::{Form, TempDir, Weights};
use std::path::PathBuf;
use translate::{Error, MarianModel, TranslateError, Translations, Translator};

fn model(kind: Weights, form: Form) -> (TempDir, MarianModel) {
    let tmp = TempDir::new();
    let dir = tmp.sub("opus-mt-en-es");
    common::write_dir(&dir, kind, form);
    let model = MarianModel::load(&dir).unwrap();
    (tmp, model)
}

#[test]
fn spm_tokenizer_segments_as_sentencepiece_and_maps_pieces_through_vocab_json() {
    let (_tmp, m) = model(Weights::Random(1), Form::Spm);
    // "▁hello" (-2) beats "▁he" + "llo" (-6); ids from vocab.json; `</s>` last.
    assert_eq!(m.source_ids("hello world").unwrap(), [2, 3, common::EOS]);
    // Extra whitespace goes, as with sentencepiece's default normalizer.
    assert_eq!(
        m.source_ids("  hello   world ").unwrap(),
        [2, 3, common::EOS]
    );
    // The best-scoring segmentation, down to single letters where needed:
    // "▁hello w o r ld" (-20.5) beats "▁he llo w o r l d" (-31).
    assert_eq!(
        m.source_ids("helloworld").unwrap(),
        [2, 13, 12, 14, 7, common::EOS]
    );
    // A sentencepiece piece vocab.json lacks is `<unk>`, as in MarianTokenizer.
    assert_eq!(
        m.source_ids("hello zzz").unwrap(),
        [2, common::UNK, common::EOS]
    );
    // So is a character neither has.
    let ids = m.source_ids("hello ñ").unwrap();
    assert_eq!(ids[0], 2);
    assert!(ids.contains(&common::UNK), "{ids:?}");
    assert_eq!(ids.last(), Some(&common::EOS));
    // `</s>` typed into a message is text, not the end of the sentence.
    let ids = m.source_ids("hello </s>").unwrap();
    assert_eq!(
        ids.iter().filter(|&&id| id == common::EOS).count(),
        1,
        "{ids:?}"
    );
}

#[test]
fn json_tokenizers_give_the_same_ids() {
    let (_tmp, m) = model(Weights::Random(1), Form::Json);
    assert_eq!(m.source_ids("hello world").unwrap(), [2, 3, common::EOS]);
    assert_eq!(m.source_ids("good morning").unwrap(), [23, 24, common::EOS]);
}

#[test]
fn rigged_weights_translate_exactly_and_stop_at_eos() {
    for form in [Form::Spm, Form::Json] {
        let (_tmp, m) = model(Weights::SaysHola, form);
        assert_eq!(
            m.target_pieces("hello world").unwrap(),
            ["▁hola"],
            "{form:?}"
        );
        assert_eq!(m.translate("hello world").unwrap(), "hola", "{form:?}");
        // Stopped by `</s>`, not by the cap: a higher cap changes nothing.
        let m = m.with_max_tokens(50);
        assert_eq!(m.translate("good morning").unwrap(), "hola", "{form:?}");
        // Lines are translated one by one; blank lines stay.
        assert_eq!(
            m.translate("hello\n\n  world \n").unwrap(),
            "hola\n\nhola\n",
            "{form:?}"
        );
    }
}

#[test]
fn a_decode_that_never_ends_stops_at_the_cap_or_the_loop_guard() {
    let (_tmp, m) = model(Weights::SaysHolaForever, Form::Spm);
    let m = m.with_max_tokens(3);
    assert_eq!(m.translate("hello").unwrap(), "hola hola hola");
    let m = m.with_max_tokens(2);
    assert_eq!(m.target_pieces("hello").unwrap(), ["▁hola", "▁hola"]);
    // Uncapped, the loop guard cuts four copies back to one.
    let m = m.with_max_tokens(translate::DEFAULT_MAX_TOKENS);
    assert_eq!(m.translate("hello").unwrap(), "hola");
}

#[test]
fn random_weights_give_target_pieces_within_the_cap_deterministically() {
    let text = "hello world, my head hurts";
    let mut generated = 0;
    for seed in [1, 2, 3] {
        let mut by_form = Vec::new();
        for form in [Form::Spm, Form::Json] {
            let (_tmp, m) = model(Weights::Random(seed), form);
            let m = m.with_max_tokens(6);
            let pieces = m.target_pieces(text).unwrap();
            assert!(pieces.len() <= 6, "{form:?} {seed}: {pieces:?}");
            for p in &pieces {
                assert!(
                    common::VOCAB.contains(&p.as_str()),
                    "{p:?} is not a target piece"
                );
                assert_ne!(p, "<pad>", "padding is never generated");
                assert_ne!(p, "</s>", "the end is not output");
            }
            // The translation is those pieces, detokenized (specials dropped).
            let expected = pieces
                .iter()
                .filter(|p| !p.starts_with('<'))
                .map(String::as_str)
                .collect::<String>()
                .replace('▁', " ");
            let out = m.translate(text).unwrap();
            assert_eq!(out, expected.trim_start(), "{form:?} {seed}");
            // Greedy decoding is deterministic, and nothing leaks from one
            // message into the next through the caches.
            let other = m.translate("good morning").unwrap();
            assert_eq!(m.translate("good morning").unwrap(), other);
            assert_eq!(m.translate(text).unwrap(), out, "{form:?} {seed}");
            assert_eq!(m.target_pieces(text).unwrap(), pieces);
            generated += pieces.len();
            by_form.push(pieces);
        }
        // Both tokenizer forms give the model the same ids, so the same output.
        assert_eq!(by_form[0], by_form[1], "seed {seed}");
    }
    assert!(
        generated > 0,
        "the random models generated nothing: a vacuous test"
    );
}

#[test]
fn translations_pick_a_model_by_pair() {
    let tmp = TempDir::new();
    // Named by its directory.
    let en_es = tmp.sub("opus-mt-en-es");
    common::write_dir(&en_es, Weights::SaysHola, Form::Spm);
    // Named by carechat.json.
    let es_en = tmp.sub("spanish-to-english");
    common::write_dir(&es_en, Weights::SaysHolaForever, Form::Json);
    std::fs::write(es_en.join("carechat.json"), r#"{"from": "es", "to": "en"}"#).unwrap();

    let t = Translations::load_dirs(&[en_es.clone(), es_en.clone()]).unwrap();
    assert_eq!(t.pairs().collect::<Vec<_>>(), [("en", "es"), ("es", "en")]);
    assert!(t.supports("en", "es") && t.supports("es", "en"));
    assert!(t.supports("es-MX", "EN"), "codes compare by primary subtag");
    assert!(!t.supports("en", "fr") && !t.supports("en", "en"));
    assert_eq!(t.translate("hello", "en", "es").unwrap(), "hola");
    match t.translate("hello", "en", "fr") {
        Err(e @ TranslateError::Unsupported { .. }) => {
            assert_eq!(e.to_string(), "no model translates en to fr")
        }
        other => panic!("{other:?}"),
    }
    // Through the trait object, as the router will hold it.
    let dyn_t: &dyn Translator = &t;
    assert_eq!(dyn_t.translate("hola", "es", "en").unwrap(), "hola");

    // Two models for one pair are refused, naming both.
    let again = tmp.sub("opus-mt-tc-big-en-es");
    common::write_dir(&again, Weights::Random(1), Form::Spm);
    let err = Translations::load_dirs(&[en_es.clone(), again.clone()]).unwrap_err();
    assert!(matches!(err, Error::DuplicatePair { .. }), "{err}");
    assert!(err.to_string().contains("opus-mt-tc-big-en-es"), "{err}");

    // A directory whose pair cannot be told.
    let unnamed = tmp.sub("some-model");
    common::write_dir(&unnamed, Weights::Random(1), Form::Spm);
    let err = Translations::load_dirs(&[unnamed]).unwrap_err().to_string();
    assert!(err.contains("carechat.json"), "{err}");

    assert!(Translations::load_dirs(&[]).unwrap().is_empty());
}

/// The message `MarianModel::load` gives for `dir` once `remove` is gone.
fn error_without(form: Form, remove: &[&str]) -> String {
    let tmp = TempDir::new();
    let dir = tmp.sub("opus-mt-en-es");
    common::write_dir(&dir, Weights::Random(1), form);
    for file in remove {
        std::fs::remove_file(dir.join(file)).unwrap();
    }
    MarianModel::load(&dir).unwrap_err().to_string()
}

#[test]
fn a_missing_file_is_an_error_that_names_it() {
    for (form, file) in [
        (Form::Spm, "config.json"),
        (Form::Spm, "model.safetensors"),
        (Form::Spm, "vocab.json"),
        (Form::Spm, "target.spm"),
        (Form::Json, "tokenizer-target.json"),
        (Form::Json, "tokenizer-source.json"),
    ] {
        let err = error_without(form, &[file]);
        assert!(err.contains(file), "{file}: {err}");
    }
    // No tokenizer at all: the message says what either form needs.
    let err = error_without(Form::Spm, &["source.spm", "target.spm", "vocab.json"]);
    for file in ["tokenizer-source.json", "source.spm", "vocab.json"] {
        assert!(err.contains(file), "{err}");
    }
}

#[test]
fn malformed_files_are_errors_that_name_them() {
    let tmp = TempDir::new();
    let dir = tmp.sub("opus-mt-en-es");
    common::write_dir(&dir, Weights::Random(1), Form::Spm);
    let path = |f: &str| -> PathBuf { dir.join(f) };

    // A tensor of the wrong shape.
    let mut tensors = common::weights(Weights::Random(1));
    tensors.retain(|(name, _, _)| name != "model.decoder.layers.0.fc1.bias");
    tensors.push((
        "model.decoder.layers.0.fc1.bias".into(),
        vec![3],
        vec![0.0; 3],
    ));
    common::write_weights(&dir, tensors);
    let err = MarianModel::load(&dir).unwrap_err();
    assert!(matches!(err, Error::Weights { .. }), "{err}");
    assert!(err.to_string().contains("model.safetensors"), "{err}");

    // A missing tensor is named.
    let mut tensors = common::weights(Weights::Random(1));
    tensors.retain(|(name, _, _)| name != "model.encoder.layers.1.fc2.weight");
    common::write_weights(&dir, tensors);
    let err = MarianModel::load(&dir).unwrap_err().to_string();
    assert!(err.contains("model.encoder.layers.1.fc2.weight"), "{err}");

    // The shared embedding saved only under a tied name, and no
    // final_logits_bias, as some exports have it: still loads.
    let mut tensors = common::weights(Weights::SaysHola);
    for (name, _, _) in &mut tensors {
        if name == "model.shared.weight" {
            *name = "model.encoder.embed_tokens.weight".into();
        }
    }
    tensors.retain(|(name, _, _)| name != "final_logits_bias");
    common::write_weights(&dir, tensors);
    assert_eq!(
        MarianModel::load(&dir).unwrap().translate("hello").unwrap(),
        "hola"
    );

    // An output layer that is not the shared embedding would be ignored by
    // candle's model: refused rather than translating wrongly.
    let mut tensors = common::weights(Weights::SaysHola);
    let shared = tensors
        .iter()
        .find(|t| t.0 == "model.shared.weight")
        .unwrap();
    let head = shared.2.iter().map(|v| v + 1.0).collect();
    tensors.push(("lm_head.weight".into(), shared.1.clone(), head));
    common::write_weights(&dir, tensors);
    let err = MarianModel::load(&dir).unwrap_err().to_string();
    assert!(err.contains("lm_head.weight"), "{err}");
    // A tied copy of it, as `transformers` may save, is fine.
    let mut tensors = common::weights(Weights::SaysHola);
    let shared = tensors
        .iter()
        .find(|t| t.0 == "model.shared.weight")
        .unwrap()
        .clone();
    tensors.push(("lm_head.weight".into(), shared.1, shared.2));
    common::write_weights(&dir, tensors);
    assert!(MarianModel::load(&dir).is_ok());

    // A separate target vocabulary is refused with a reason.
    let mut config = common::config_json();
    config["decoder_vocab_size"] = 41.into();
    std::fs::write(path("config.json"), config.to_string()).unwrap();
    let err = MarianModel::load(&dir).unwrap_err().to_string();
    assert!(
        err.contains("config.json") && err.contains("decoder_vocab_size"),
        "{err}"
    );

    // Not a sentencepiece model.
    common::write_model(&dir, Weights::Random(1));
    std::fs::write(path("source.spm"), b"\x0a\xff").unwrap();
    let err = MarianModel::load(&dir).unwrap_err().to_string();
    assert!(err.contains("source.spm"), "{err}");

    // vocab.json ids beyond the model's vocabulary.
    common::write_spm_tokenizers(&dir);
    std::fs::write(path("vocab.json"), r#"{"<unk>": 1, "▁far": 400}"#).unwrap();
    let err = MarianModel::load(&dir).unwrap_err().to_string();
    assert!(err.contains("vocab.json") && err.contains("400"), "{err}");
}

#[test]
fn a_line_longer_than_the_model_positions_is_refused() {
    let (_tmp, m) = model(Weights::SaysHola, Form::Spm);
    let long = "hello ".repeat(common::MAX_POSITIONS + 1);
    let err = m.translate(&long).unwrap_err();
    assert!(matches!(err, Error::TooLong { .. }), "{err}");
    // Split into lines, the same words are fine.
    let lines = "hello world\n".repeat(common::MAX_POSITIONS);
    assert!(m.translate(&lines).is_ok());
}
