//! The same flows in a real browser: headless Chromium driven by
//! Playwright (`tests/browser/flow.mjs`: a patient and a clinician;
//! `tests/browser/admin.mjs`: accounts and the audit trail). Skipped, saying
//! why, where Chromium or the scripts' node modules are not installed
//! (`tests/install.sh` installs them).

use std::path::PathBuf;
use std::process::Command;

use carechat_e2e::{Server, repo_root};

/// The scripts' directory and Chromium, or `None` (having said what is
/// missing) when the browser tests cannot run here.
fn browser(test: &str) -> Option<(PathBuf, String)> {
    let dir = repo_root().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = [
        (!std::path::Path::new(&chromium).exists()).then_some("chromium"),
        (!dir.join("node_modules/playwright-core").exists())
            .then_some("tests/browser/node_modules"),
        Command::new("node")
            .arg("--version")
            .output()
            .is_err()
            .then_some("node"),
    ];
    let missing: Vec<_> = missing.into_iter().flatten().collect();
    if !missing.is_empty() {
        eprintln!("SKIPPED {test}: missing {}", missing.join(", "));
        return None;
    }
    Some((dir, chromium))
}

#[test]
fn widget_and_console_work_in_chromium() {
    let Some((dir, chromium)) = browser("widget_and_console_work_in_chromium") else {
        return;
    };
    let server = Server::start();
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    let shots = std::env::var("CARECHAT_SCREENSHOTS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| server.dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("flow.mjs")
        .arg(&server.base)
        .args(["nurse", "correct horse battery"])
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "browser flow failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    for shot in [
        "widget.png",
        "console-queue.png",
        "console-chat.png",
        "widget-reply.png",
    ] {
        assert!(shots.join(shot).exists(), "{shot} was not taken");
    }
}

#[test]
fn accounts_and_the_audit_trail_work_in_chromium() {
    let Some((dir, chromium)) = browser("accounts_and_the_audit_trail_work_in_chromium") else {
        return;
    };
    let server = Server::start();
    server.add_user("ada", "admin", "", "en", "an admin password");
    let shots = std::env::var("CARECHAT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| server.dir.path().join("screenshots"));
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("admin.mjs")
        .arg(&server.base)
        .args(["ada", "an admin password"])
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "admin flow failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    for shot in ["admin-users.png", "admin-audit.png", "admin-auditor.png"] {
        assert!(shots.join(shot).exists(), "{shot} was not taken");
    }
}
