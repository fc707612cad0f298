//! `carechat-lab`: Carechat's laboratory, the measuring side of the
//! project. It owns the evaluations (`eval`: the redactor on labelled PHI,
//! intents, red flags, patient questions, spam, the threshold sweep), the
//! benchmarks (`bench`: pipeline latency, the emergency path under load,
//! encoders, redaction throughput, the routing simulation), `train spam`
//! (the spam model embedded in `bot-engine/data/`), `intents import`
//! (CLINC150 as a whitelist to measure on) and the probes that check a
//! converted model against its original engine (`eval ner-logits`,
//! `eval embed`); beside it, `bench/` compares with other engines and `dev/`
//! holds the scripts that build data and check conversions.
//!
//! None of it ships: a clinic runs `carechat` (`console/`), and nothing here
//! serves a patient or a clinician. These commands read research data sets,
//! time runs and write the project's own model files, which a clinic's
//! binary has no use for. They start the bot through the `carechat` library
//! exactly as the server does, so their figures are the shipped bot's.
//! Every command keeps the flags it had as `carechat eval|bench|train
//! spam|intents import`, global flags included (`--config`, `--db`,
//! `--models-dir`, `--model`).

mod bench;
mod clinc;
mod eval_questions;
mod eval_redact;
mod eval_spam;
mod load;
mod probe;
mod seal;

use std::path::PathBuf;

use anyhow::Context as _;
use carechat::{config, engine};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "carechat-lab",
    version,
    about = "Carechat's evaluations, benchmarks and probes (not shipped)"
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
    /// checking the converted weights against onnxruntime
    /// (lab/dev/check_pii_ner.py).
    #[command(hide = true)]
    NerLogits,
    /// In-scope accuracy, out-of-scope recall and precision, and latency of
    /// the whole pipeline on a CLINC150-format file (its `test` and
    /// `oos_test` halves, else the held-out half of `val` and `oos_val`).
    Intents {
        /// The whitelist directory (e.g. made by `carechat-lab intents import`).
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
    /// original engine (lab/dev/check_e5.py).
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
        #[arg(long, default_value_t = bot_engine::train::spam::TrainOptions::default().embedding_scale)]
        embedding_scale: f32,
        /// Passes over the training messages.
        #[arg(long, default_value_t = bot_engine::train::spam::TrainOptions::default().epochs)]
        epochs: usize,
        /// L2 penalty on the weights a message touches.
        #[arg(long, default_value_t = bot_engine::train::spam::TrainOptions::default().l2)]
        l2: f32,
        /// Where to write the weights (the embedded copies are
        /// `bot-engine/data/spam.model`, and with `--with-embedding`
        /// `bot-engine/data/spam-all-MiniLM-L6-v2.model`).
        #[arg(long)]
        out: PathBuf,
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
    /// What sealing the words as typed costs: messages written and
    /// conversations read on a store with a vault (each message's original
    /// sealed) against one without, rounds alternated.
    Seal {
        #[arg(long, default_value_t = 7)]
        rounds: usize,
        #[arg(long, default_value_t = 100)]
        conversations: usize,
        #[arg(long, default_value_t = 10)]
        messages: usize,
    },
    /// Idle patient sockets against a running server: its memory per idle
    /// socket and the active patients' reply p99, level by level
    /// (lab/src/load.rs; docs/deploy.md has the command and figures).
    Load {
        /// The server, `127.0.0.1:PORT` (started apart, with its
        /// per-address limits raised).
        #[arg(long)]
        server: std::net::SocketAddr,
        /// The server's process id, for its resident memory.
        #[arg(long)]
        pid: u32,
        /// Idle sockets at each level, comma-separated.
        #[arg(long, value_delimiter = ',', default_values_t = [10_000, 20_000])]
        idle: Vec<usize>,
        /// Patients writing at each level.
        #[arg(long, default_value_t = 20)]
        active: usize,
        /// Questions each writes per level.
        #[arg(long, default_value_t = 10)]
        messages: usize,
        /// Loopback source addresses (127.0.0.1 up) the sockets come from.
        #[arg(long, default_value_t = 4)]
        sources: u8,
    },
    /// Redaction throughput, rules only (one core) and with the PII model
    /// (all cores, batched), on data sets in presidio-research's format.
    Redact {
        #[arg(required = true)]
        data: Vec<PathBuf>,
    },
}

fn main() -> std::process::ExitCode {
    carechat::init_logging();
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
    let runtime = carechat::runtime;
    match cli.command {
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
            probe::ner_logits(&model)
        }
        Command::Eval {
            command: EvalCommand::Embed,
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(probe::embed(&config))
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
            let options = bot_engine::train::spam::TrainOptions {
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
            command:
                BenchCommand::Seal {
                    rounds,
                    conversations,
                    messages,
                },
        } => runtime()?.block_on(seal::bench_seal(rounds, conversations, messages)),
        Command::Bench {
            command:
                BenchCommand::Load {
                    server,
                    pid,
                    idle,
                    active,
                    messages,
                    sources,
                },
        } => runtime()?.block_on(load::bench_load(load::LoadOptions {
            server,
            pid,
            idle,
            active,
            messages,
            sources,
        })),
        Command::Bench {
            command: BenchCommand::Redact { data },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            bench::bench_redact(&config, &data)
        }
    }
}
