//! TLS built in: `carechat serve --tls-cert --tls-key` answers HTTPS only,
//! with HSTS (the reload and the `__Host-` cookie are tested in process,
//! console/src/server/tests/tls.rs).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use carechat_e2e::{carechat, free_port, models_dir, repo_root};

/// Killed on drop, so a failed assertion does not leave a server behind.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_with_a_certificate_speaks_https_with_hsts() {
    let dir = tempfile::tempdir().unwrap();
    let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert, made.cert.pem()).unwrap();
    std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
    let port = free_port();
    let mut child = Command::new(carechat())
        .current_dir(dir.path())
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--db"])
        .arg(dir.path().join("carechat.db"))
        .arg("--models-dir")
        .arg(models_dir())
        .arg("--intents")
        .arg(repo_root().join("intents"))
        .arg("--tls-cert")
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("carechat printed where it listens");
    let base = format!("https://127.0.0.1:{port}");
    assert!(line.contains(&format!("{base}/")), "{line}");

    let trusted = ureq::tls::Certificate::from_pem(made.cert.pem().as_bytes()).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::new_with_certs(&[trusted]))
                .build(),
        )
        .build()
        .into();
    let response = agent.get(&format!("{base}/healthz")).call().unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["strict-transport-security"],
        "max-age=31536000"
    );
    // Plain HTTP on the same port gets no answer.
    let plain = ureq::get(&format!("http://127.0.0.1:{port}/healthz")).call();
    assert!(plain.is_err(), "plain HTTP was answered");
}
