//! The master key that wraps every conversation's data key
//! (`store::envelope`), from the source the clinic chooses, first found:
//!
//! 1. `master_key` in the configuration, best given as the environment
//!    variable `CARECHAT_MASTER_KEY`;
//! 2. `master_key_command`: a command (the clinic's KMS, HSM or vault CLI)
//!    that prints the keys: bring your own key;
//! 3. the key file, `master_key_file` (default `<db>.master.key` beside the
//!    database), created with one fresh key, mode 0600, on first start.
//!
//! The same text everywhere: keys of 64 hex digits, one per line (or
//! separated by spaces or commas), oldest first; the last wraps new data
//! keys, the others still open what they wrapped until `carechat keys
//! rotate` has moved it. An in-memory database gets a fresh key per run.
//!
//! A running server reads the file again every [`FILE_EVERY`] and the
//! command every [`COMMAND_EVERY`], so a rotation needs no restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};
use store::envelope::{Keyring, MasterKey};

use crate::config::Config;

/// How often a server reads the key file again.
pub const FILE_EVERY: Duration = Duration::from_secs(5);
/// How often a server runs the key command again.
pub const COMMAND_EVERY: Duration = Duration::from_secs(60);

/// Master keys given in the configuration (never shown by `Debug`).
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyText(pub String);

impl std::fmt::Debug for KeyText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyText(***)")
    }
}

/// Where the master keys come from.
#[derive(Debug, Clone)]
pub enum Source {
    Config(KeyText),
    Command(String),
    File(PathBuf),
    /// An in-memory database: a fresh key, gone with the process.
    Memory,
}

impl Source {
    pub fn of(config: &Config) -> Source {
        if let Some(keys) = &config.master_key {
            return Source::Config(keys.clone());
        }
        if let Some(command) = &config.master_key_command {
            return Source::Command(command.clone());
        }
        if let Some(path) = &config.master_key_file {
            return Source::File(path.clone());
        }
        match config.key_path() {
            Some(server_key) => {
                let mut name = server_key.into_os_string();
                // `<db>.key` -> `<db>.master.key`
                let text = name.to_string_lossy().into_owned();
                name = match text.strip_suffix(".key") {
                    Some(stem) => format!("{stem}.master.key").into(),
                    None => format!("{text}.master").into(),
                };
                Source::File(name.into())
            }
            None => Source::Memory,
        }
    }

    /// The keys now; the file is created on first use.
    pub fn load(&self) -> anyhow::Result<Keyring> {
        match self {
            Source::Config(text) => parse(&text.0).context("master_key"),
            Source::Command(command) => {
                parse(&run(command)?).context("master_key_command's output")
            }
            Source::File(path) => load_file(path),
            Source::Memory => Ok(Keyring::new(vec![MasterKey::random()]).expect("one key")),
        }
    }

    /// How often a running server looks again; `None` when it cannot
    /// change.
    pub fn every(&self) -> Option<Duration> {
        match self {
            Source::File(_) => Some(FILE_EVERY),
            Source::Command(_) => Some(COMMAND_EVERY),
            Source::Config(_) | Source::Memory => None,
        }
    }
}

/// Keys from their text form.
pub fn parse(text: &str) -> anyhow::Result<Keyring> {
    let mut keys = Vec::new();
    for word in text.split(|c: char| c.is_whitespace() || c == ',') {
        if word.is_empty() {
            continue;
        }
        let bytes: [u8; 32] = hex::decode(word)
            .ok()
            .and_then(|b| b.try_into().ok())
            .context("a master key is 64 hex digits")?;
        keys.push(MasterKey::new(bytes));
    }
    Keyring::new(keys).context("no master key given")
}

/// The keys' text form, for the key file.
pub fn format(keys: &[MasterKey]) -> String {
    keys.iter()
        .map(|k| hex::encode(k.expose()) + "\n")
        .collect()
}

fn run(command: &str) -> anyhow::Result<String> {
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("running master_key_command")?;
    ensure!(
        out.status.success(),
        "master_key_command failed ({})",
        out.status
    );
    String::from_utf8(out.stdout).context("master_key_command printed something that is not text")
}

fn load_file(path: &Path) -> anyhow::Result<Keyring> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse(&text).with_context(|| path.display().to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = MasterKey::random();
            write_new(path, &format(std::slice::from_ref(&key)))?;
            Ok(Keyring::new(vec![key]).expect("one key"))
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Creates `path` with `text`, mode 0600; fails if it exists. The server
/// key's file is made the same way (`auth.rs`).
pub(crate) fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// Replaces the key file's content at once (a new file, then a rename): a
/// reader sees the old keys or the new ones, never half.
pub fn replace_file(path: &Path, keys: &[MasterKey]) -> anyhow::Result<()> {
    let mut temp = path.as_os_str().to_owned();
    temp.push(".new");
    let temp = PathBuf::from(temp);
    let _ = std::fs::remove_file(&temp);
    write_new(&temp, &format(keys))?;
    std::fs::rename(&temp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Keeps `store`'s keyring in step with `source` for as long as the server
/// runs.
pub async fn watch(store: Arc<store::SqlStore>, source: Source) {
    let Some(every) = source.every() else {
        return;
    };
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut current: Vec<String> = Vec::new();
    loop {
        ticks.tick().await;
        let s = source.clone();
        match tokio::task::spawn_blocking(move || s.load()).await {
            Ok(Ok(keyring)) => {
                let ids: Vec<String> = keyring.keys().iter().map(|k| k.id().to_string()).collect();
                if ids != current {
                    if !current.is_empty() {
                        tracing::info!(current = keyring.current().id(), "master keys reloaded");
                    }
                    store.set_keyring(keyring);
                    current = ids;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %format!("{e:#}"), "the master keys could not be read; the ones in use stay");
            }
            Err(e) => tracing::warn!(error = %e, "reading the master keys"),
        }
    }
}

/// What `carechat keys rotate` did.
#[derive(Debug)]
pub struct Rotated {
    pub new_id: String,
    pub moved: u64,
}

/// Moves every data key under a new master key while servers run. With the
/// key file: a new key is appended, servers get `settle` to read it (they
/// look every [`FILE_EVERY`]), every data key is wrapped again under it,
/// the old keys leave the file, and a last pass moves any key a server
/// wrapped meanwhile. With keys from the configuration or a command, the
/// clinic has put the new key last itself: every data key moves under it,
/// and the clinic then removes the old ones from its source.
pub async fn rotate(
    store: &store::SqlStore,
    source: &Source,
    settle: Duration,
) -> anyhow::Result<Rotated> {
    match source {
        Source::File(path) => {
            let old = load_file(path)?;
            let new = MasterKey::random();
            let mut both = old.keys().to_vec();
            both.push(new.clone());
            replace_file(path, &both)?;
            tokio::time::sleep(settle).await;
            store.set_keyring(Keyring::new(both).expect("not empty"));
            let mut moved = store.rewrap_keys().await?;
            replace_file(path, std::slice::from_ref(&new))?;
            moved += store.rewrap_keys().await?;
            Ok(Rotated {
                new_id: new.id().to_string(),
                moved,
            })
        }
        Source::Config(_) | Source::Command(_) => {
            let keyring = source.load()?;
            let new_id = keyring.current().id().to_string();
            store.set_keyring(keyring);
            let moved = store.rewrap_keys().await?;
            Ok(Rotated { new_id, moved })
        }
        Source::Memory => bail!("an in-memory database has no keys to rotate"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_in_order_and_bad_ones_are_refused() {
        let (a, b) = (MasterKey::random(), MasterKey::random());
        let text = format!("{}, {}\n", hex::encode(a.expose()), hex::encode(b.expose()));
        let ring = parse(&text).unwrap();
        assert_eq!(ring.current().id(), b.id());
        assert!(ring.get(a.id()).is_some());
        assert!(parse("").is_err());
        assert!(parse("abcd").is_err());
        assert_eq!(
            parse(&format(&[a.clone(), b])).unwrap().keys()[0].id(),
            a.id()
        );
    }

    #[test]
    fn the_key_file_is_made_once_owner_only_and_the_command_is_run() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clinic.master.key");
        let first = Source::File(path.clone()).load().unwrap();
        let again = Source::File(path.clone()).load().unwrap();
        assert_eq!(first.current().id(), again.current().id());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = hex::encode(first.current().expose());
        let by_command = Source::Command(format!("echo {key}")).load().unwrap();
        assert_eq!(by_command.current().id(), first.current().id());
        assert!(Source::Command("exit 3".into()).load().is_err());
        assert!(!format!("{:?}", Source::Config(KeyText(key.clone()))).contains(&key));
    }
}
