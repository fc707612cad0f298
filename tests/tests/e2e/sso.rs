//! Single sign-on against a real OpenID provider: npm's `oidc-provider`,
//! started here (`tests/browser/oidc.mjs`), and a real browser signing in
//! through it from the console (`tests/browser/sso.mjs`). Skipped, saying
//! why, where Chromium or the node modules are not installed
//! (`tests/install.sh` installs them).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use carechat_e2e::{Server, free_port, repo_root};

use crate::browser::{browser, walk};

/// The provider's node process; killed on drop.
struct Provider(Child);

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the provider on `port` for a client redirecting to `redirect`;
/// returns once it listens.
fn provider(port: u16, redirect: &str, secret: &str) -> Provider {
    let mut child = Command::new("node")
        .current_dir(repo_root().join("tests/browser"))
        .args(["oidc.mjs", &port.to_string(), redirect, secret])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("starting the OpenID provider");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.starts_with("ready ") {
                let _ = tx.send(());
            }
        }
    });
    let provider = Provider(child);
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the OpenID provider never said it was ready");
    provider
}

#[test]
fn staff_sign_in_through_a_real_openid_provider() {
    let Some((dir, _)) = browser("staff_sign_in_through_a_real_openid_provider") else {
        return;
    };
    if !dir.join("node_modules/oidc-provider").exists() {
        eprintln!(
            "SKIPPED staff_sign_in_through_a_real_openid_provider: missing tests/browser/node_modules/oidc-provider"
        );
        return;
    }
    let (op_port, port) = (free_port(), free_port());
    let issuer = format!("http://127.0.0.1:{op_port}");
    let redirect = format!("http://127.0.0.1:{port}/api/sso/callback");
    let secret = "the client secret of this test";
    let _op = provider(op_port, &redirect, secret);
    let server = Server::start_at(
        &format!("127.0.0.1:{port}"),
        &[
            ("CARECHAT_SSO__ISSUER", issuer.as_str()),
            ("CARECHAT_SSO__CLIENT_ID", "carechat"),
            ("CARECHAT_SSO__CLIENT_SECRET", secret),
            ("CARECHAT_SSO__REDIRECT_URL", redirect.as_str()),
            ("CARECHAT_SSO__SCOPES", "[openid,profile,carechat]"),
            ("CARECHAT_SSO__SKILLS_CLAIM", "carechat_skills"),
        ],
    );
    walk(
        &server,
        "sso.mjs",
        ("dr-ada", "whatever the provider accepts"),
        &["sso-console.png", "sso-refused.png"],
        &["visitor".into()],
    );

    // The account is the one the provider's claims describe.
    server.add_user("boss", "admin", "", "en", "a long admin secret");
    let boss = server.login("boss", "a long admin secret");
    let (status, users) = boss.get("/api/users");
    assert_eq!(status, 200, "{users}");
    let ada = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "dr-ada")
        .unwrap_or_else(|| panic!("no account was made: {users}"));
    assert_eq!(ada["role"], "clinician", "{ada}");
    assert_eq!(ada["sso"], true, "{ada}");
    assert_eq!(ada["display_name"], "Dr Ada Byron", "{ada}");
    assert_eq!(
        ada["skills"],
        serde_json::json!(["nursing", "billing"]),
        "{ada}"
    );
    assert!(
        !users.to_string().contains("visitor"),
        "someone with no Carechat role got an account: {users}"
    );

    // On the trail: the account made, the sign-in with its address.
    let (_, trail) = boss.get("/api/audit?actor=dr-ada&action=login");
    let line = &trail["entries"][0];
    assert_eq!(line["detail"], "sso", "{trail}");
    assert_eq!(line["address"], "127.0.0.1", "{trail}");
    let (_, added) = boss.get("/api/audit?action=user_add&subject=user:dr-ada");
    assert!(
        added["entries"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("via=sso")),
        "{added}"
    );
    // Nothing the provider sent (codes, tokens) reached the log.
    let log = server.log();
    for secretish in ["code=", "id_token", "eyJ"] {
        assert!(!log.contains(secretish), "{secretish} in the log:\n{log}");
    }
}
