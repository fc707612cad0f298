//! The same flow in a real browser: headless Chromium driven by Playwright
//! (`tests/browser/flow.mjs`). Skipped, saying why, where Chromium or the
//! script's node modules are not installed (`tests/browser/README.md`).

use std::process::Command;

use carechat_e2e::{Server, repo_root};

#[test]
fn widget_and_console_work_in_chromium() {
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
        eprintln!(
            "SKIPPED widget_and_console_work_in_chromium: missing {}",
            missing.join(", ")
        );
        return;
    }
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
