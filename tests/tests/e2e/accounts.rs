//! `carechat user ...` and `carechat audit verify` as an admin at the
//! server's machine runs them, on a real database file; the audit trail's
//! seals against an entry changed behind Carechat's back with `sqlite3`.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use carechat_e2e::carechat;

/// Runs `carechat ARGS --db DB` with `input` on stdin.
fn carechat_at(db: &Path, args: &[&str], input: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(carechat())
        .args(args)
        .arg("--db")
        .arg(db)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn ok(db: &Path, args: &[&str], input: &str) -> String {
    let out = carechat_at(db, args, input);
    assert!(
        out.status.success(),
        "carechat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fails(db: &Path, args: &[&str], input: &str) -> String {
    let out = carechat_at(db, args, input);
    assert!(!out.status.success(), "carechat {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn the_account_commands_keep_the_rules_and_the_audit_trail_holds() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("carechat.db");
    let add = |name: &str, role: &str, password: &str| {
        carechat_at(
            &db,
            &["user", "add", name, "--role", role, "--states", "CA"],
            &format!("{password}\n"),
        )
    };
    let weak = add("ada", "admin", "hunter2");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("at least 12 characters"));
    let common = add("ada", "admin", "password1234");
    assert!(String::from_utf8_lossy(&common.stderr).contains("common passwords"));
    assert!(
        add("ada", "admin", "granite harbour lights")
            .status
            .success()
    );
    assert!(
        add("nina", "clinician", "her own long secret")
            .status
            .success()
    );
    assert!(
        !add("nina", "clinician", "some other long one")
            .status
            .success()
    );
    assert!(
        add("otto", "auditor", "ledger of quiet days")
            .status
            .success()
    );

    let list = ok(&db, &["user", "list"], "");
    let rows: Vec<Vec<&str>> = list.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 3, "{list}");
    assert_eq!(&rows[1][1..4], ["nina", "clinician", "active"]);
    assert!(rows[1].contains(&"states=CA"), "{list}");
    assert!(
        rows[1].contains(&"skills=front_desk"),
        "the default skill: {list}"
    );
    assert_eq!(&rows[2][1..4], ["otto", "auditor", "active"]);

    ok(
        &db,
        &[
            "user",
            "set",
            "nina",
            "--skills",
            "nursing",
            "--max-chats",
            "2",
        ],
        "",
    );
    ok(&db, &["user", "disable", "nina"], "");
    assert!(ok(&db, &["user", "list"], "").contains("nina\tclinician\tdisabled"));
    ok(&db, &["user", "enable", "nina"], "");
    ok(&db, &["user", "set-role", "nina", "auditor"], "");
    let says = fails(&db, &["user", "passwd", "nina"], "nina-nina-nina-nina\n");
    assert!(says.contains("login name"), "{says}");
    ok(&db, &["user", "passwd", "nina"], "a brand new passphrase\n");
    ok(&db, &["user", "remove", "nina"], "");
    assert!(!ok(&db, &["user", "list"], "").contains("nina"));
    assert!(ok(&db, &["user", "list", "--removed"], "").contains("nina\tauditor\tremoved"));
    assert!(fails(&db, &["user", "enable", "nina"], "").contains("no such user"));
    // The only admin stays one.
    let says = fails(&db, &["user", "disable", "ada"], "");
    assert!(says.contains("last active admin"), "{says}");
    assert!(
        fails(&db, &["user", "set-role", "ada", "clinician"], "").contains("last active admin")
    );

    // Database and key: the server's user only.
    #[cfg(unix)]
    for file in ["carechat.db", "carechat.db.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    let holds = ok(&db, &["audit", "verify"], "");
    assert!(
        holds.contains("the audit trail holds: 9 entries"),
        "{holds}"
    );

    let Ok(sqlite) = Command::new("sqlite3").arg("-version").output() else {
        eprintln!(
            "SKIPPED the tamper half: sqlite3 is not installed (tests/install.sh installs it)"
        );
        return;
    };
    assert!(sqlite.status.success());
    let sql = |statement: &str| {
        let out = Command::new("sqlite3")
            .arg(&db)
            .arg(statement)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Someone with the file hides that nina was disabled.
    let id = sql("SELECT id FROM audit WHERE action = 'user_disable'");
    let id = id.trim();
    sql(&format!(
        "UPDATE audit SET action = 'user_change' WHERE id = {id}"
    ));
    let says = fails(&db, &["audit", "verify"], "");
    assert!(says.contains(&format!("broken at entry {id}:")), "{says}");
    // Put back, it holds again; an entry removed breaks the one after it.
    sql(&format!(
        "UPDATE audit SET action = 'user_disable' WHERE id = {id}"
    ));
    ok(&db, &["audit", "verify"], "");
    sql(&format!("DELETE FROM audit WHERE id = {id}"));
    let next: u64 = id.parse::<u64>().unwrap() + 1;
    let says = fails(&db, &["audit", "verify"], "");
    assert!(says.contains(&format!("broken at entry {next}:")), "{says}");
}
