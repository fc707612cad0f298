//! The same flows in a real browser: headless Chromium driven by
//! Playwright (`tests/browser/flow.mjs`: a patient and a clinician;
//! `tests/browser/admin.mjs`: accounts and the audit trail, each page
//! checked by axe-core;
//! `tests/browser/contact.mjs`: a message left while nobody was online;
//! `tests/browser/a11y.mjs`: axe-core's WCAG 2.1 AA rules everywhere;
//! `tests/browser/files.mjs`: a photo and a PDF both ways). Skipped, saying
//! why, where Chromium or the scripts' node modules are not installed
//! (`tests/install.sh` installs them).

use std::path::PathBuf;
use std::process::Command;

use carechat_e2e::{Server, repo_root};

/// The scripts' directory and Chromium, or `None` (having said what is
/// missing) when the browser tests cannot run here.
pub(crate) fn browser(test: &str) -> Option<(PathBuf, String)> {
    let dir = repo_root().join("tests/browser");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let missing = [
        (!std::path::Path::new(&chromium).exists()).then_some("chromium"),
        (!dir.join("node_modules/playwright-core").exists()
            || !dir.join("node_modules/@axe-core/playwright").exists())
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

/// Runs `script` against `server` as `user`, asserts it reported success,
/// and that it took each of `shots` (in `CARECHAT_SCREENSHOTS` when set).
pub(crate) fn walk(
    server: &Server,
    script: &str,
    user: (&str, &str),
    shots: &[&str],
    extra: &[String],
) {
    let Some((dir, chromium)) = browser(script) else {
        return;
    };
    let shot_dir = std::env::var("CARECHAT_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| server.dir.path().join("screenshots"));
    std::fs::create_dir_all(&shot_dir).unwrap();
    let out = Command::new("node")
        .current_dir(&dir)
        .arg(script)
        .arg(&server.base)
        .args([user.0, user.1])
        .arg(&shot_dir)
        .args(extra)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{script} failed:\n{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    assert!(stdout.contains("\"ok\":true"), "{stdout}");
    for shot in shots {
        assert!(shot_dir.join(shot).exists(), "{shot} was not taken");
    }
}

#[test]
fn widget_and_console_work_in_chromium() {
    if browser("widget_and_console_work_in_chromium").is_none() {
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
    walk(
        &server,
        "flow.mjs",
        ("nurse", "correct horse battery"),
        &[
            "widget-consent.png",
            "widget.png",
            "console-queue.png",
            "console-chat.png",
            "console-canned.png",
            "widget-reply.png",
            "widget-closed.png",
            "transcript-link-used.png",
        ],
        &[],
    );
}

#[test]
fn a_message_left_offline_is_answered_in_chromium() {
    if browser("a_message_left_offline_is_answered_in_chromium").is_none() {
        return;
    }
    // The clinic asks its intake questions before the chat.
    let server = Server::start_with(&[("CARECHAT_INTAKE__FIELDS", "[name,date_of_birth,reason]")]);
    // Nobody is signed in when the patient writes: the chat goes to the
    // contact form.
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    walk(
        &server,
        "contact.mjs",
        ("nurse", "correct horse battery"),
        &[
            "widget-contact-form.png",
            "widget-contact-left.png",
            "console-left.png",
            "widget-contact-answered.png",
        ],
        &[],
    );
}

/// A photo and a PDF both ways in Chromium, against a real clamd: the
/// photo the nurse opens is upright and without its EXIF, the PDF the
/// patient saves has no author; axe-core checks the upload under way.
#[test]
fn files_go_both_ways_in_chromium() {
    if browser("files_go_both_ways_in_chromium").is_none() {
        return;
    }
    let Some(bin) = carechat_e2e::clamd_binary() else {
        eprintln!(
            "SKIPPED files_go_both_ways_in_chromium: clamd is not installed (Debian: apt-get install clamav-daemon; tests/install.sh does)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let scanner = carechat_e2e::clamd(&bin, dir.path());
    let photo = dir.path().join("arm.jpg");
    std::fs::write(&photo, attachments::testing::photo_with_location()).unwrap();
    let leaflet = dir.path().join("Aftercare.pdf");
    std::fs::write(&leaflet, attachments::testing::pdf_with_metadata()).unwrap();
    let server = Server::start_with(&[(
        "CARECHAT_FILES__CLAMD",
        &format!("unix:{}", scanner.socket.display()),
    )]);
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    walk(
        &server,
        "files.mjs",
        ("nurse", "correct horse battery"),
        &[
            "widget-file-uploading.png",
            "console-file.png",
            "widget-files.png",
        ],
        &[photo.display().to_string(), leaflet.display().to_string()],
    );
}

/// WCAG 2.1 AA by axe-core on every widget state and console page, a
/// keyboard-only patient, and a clinic colour too light for white text.
#[test]
fn the_widget_and_console_are_accessible_in_chromium() {
    if browser("the_widget_and_console_are_accessible_in_chromium").is_none() {
        return;
    }
    let server = Server::start_with(&[(
        "CARECHAT_INTAKE__FIELDS",
        "[name,date_of_birth,reason,callback]",
    )]);
    server.add_user(
        "nurse",
        "clinician",
        "nursing,front_desk",
        "en",
        "correct horse battery",
    );
    walk(
        &server,
        "a11y.mjs",
        ("nurse", "correct horse battery"),
        &[
            "a11y-widget-consent-390.png",
            "a11y-widget-intake-390.png",
            "a11y-widget-chat-390.png",
            "a11y-widget-offline-390.png",
            "a11y-console-1280.png",
            "a11y-widget-queued-1280.png",
            "a11y-console-390.png",
            "a11y-widget-light-colour-1280.png",
        ],
        &[],
    );
}

#[test]
fn accounts_and_the_audit_trail_work_in_chromium() {
    if browser("accounts_and_the_audit_trail_work_in_chromium").is_none() {
        return;
    }
    let server = Server::start();
    server.add_user("ada", "admin", "", "en", "an admin password");
    walk(
        &server,
        "admin.mjs",
        ("ada", "an admin password"),
        &[
            "admin-users.png",
            "admin-audit.png",
            "admin-workbench.png",
            "admin-dashboard.png",
            "admin-auditor.png",
            "admin-mfa.png",
        ],
        &[server.totp_secret("ada").expect("an admin is enrolled")],
    );
}
