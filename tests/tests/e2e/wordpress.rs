//! The WordPress plugin (`integrations/wordpress/carechat`), which puts the
//! patient widget on a clinic's WordPress site by adding one script tag.
//!
//! - Every PHP file there passes `php -l`, so a syntax slip cannot reach a
//!   clinic's site, where it would take the whole site down on activation.
//! - `readme.txt` has what the WordPress.org readme format requires (header
//!   fields, at most 5 tags, a short description of at most 150
//!   characters, the sections), its `Stable tag` is the plugin header's
//!   `Version` (WordPress offers updates by it), and the plugin keeps the
//!   two rules a reviewer checks first: it exits when loaded outside
//!   WordPress, and it escapes every `data-` attribute it writes (the
//!   clinic name is free text).
//! - The front-end code path, run under `php` by `tests/harness.php` (a
//!   stand-in for the few WordPress functions it calls), prints exactly the
//!   tag the widget reads (`console/assets/widget.js` takes `data-clinic`,
//!   `data-color`, `data-state` and `data-lang` from its own tag): the
//!   server's `/widget.js`, the name escaped, an invalid colour replaced by
//!   the default; and prints nothing when disabled, on admin screens or
//!   with a server the widget must not load from.
//!
//! The tests that need `php` skip, saying so, where it is not installed
//! (`tests/install.sh` installs `php-cli`).

use std::path::{Path, PathBuf};
use std::process::Command;

use carechat_e2e::repo_root;
use serde_json::{Value, json};

/// `integrations/wordpress`.
fn wordpress_dir() -> PathBuf {
    repo_root().join("integrations/wordpress")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Whether `php` runs here; when it does not, says that `test` skips.
fn have_php(test: &str) -> bool {
    let runs = Command::new("php")
        .arg("--version")
        .output()
        .is_ok_and(|out| out.status.success());
    if !runs {
        eprintln!("SKIPPED {test}: missing php (tests/install.sh installs php-cli)");
    }
    runs
}

/// Every `.php` file under `dir`, recursively.
fn php_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("reading a directory entry").path();
        if path.is_dir() {
            php_files(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "php") {
            files.push(path);
        }
    }
}

#[test]
fn the_wordpress_plugin_lints() {
    if !have_php("the_wordpress_plugin_lints") {
        return;
    }
    let mut files = Vec::new();
    php_files(&wordpress_dir(), &mut files);
    files.sort();
    for expected in [
        "carechat/carechat.php",
        "carechat/uninstall.php",
        "tests/harness.php",
    ] {
        assert!(
            files.contains(&wordpress_dir().join(expected)),
            "{expected} is missing from {files:?}"
        );
    }
    for file in &files {
        let out = Command::new("php")
            .arg("-l")
            .arg(file)
            .output()
            .expect("running php -l");
        assert!(
            out.status.success(),
            "php -l {}:\n{}{}",
            file.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A `readme.txt` in the WordPress.org format, as far as the checks need it.
struct Readme {
    /// From `=== Name ===`.
    name: String,
    /// The `Field: value` lines under the name, in order.
    fields: Vec<(String, String)>,
    /// The paragraph between the fields and the first section.
    short_description: String,
    /// The `== Section ==` titles, in order.
    sections: Vec<String>,
}

impl Readme {
    fn parse(text: &str) -> Readme {
        let mut lines = text.lines().map(str::trim_end).skip_while(|l| l.is_empty());
        let first = lines.next().unwrap_or_default();
        let name = first
            .strip_prefix("=== ")
            .and_then(|rest| rest.strip_suffix(" ==="))
            .unwrap_or_else(|| panic!("the first line is not `=== Name ===`: {first:?}"))
            .trim()
            .to_string();
        let mut fields = Vec::new();
        let mut short = Vec::new();
        let mut sections = Vec::new();
        let mut in_header = true;
        for line in lines {
            if in_header {
                if line.trim().is_empty() {
                    in_header = false;
                    continue;
                }
                let (key, value) = line
                    .split_once(':')
                    .unwrap_or_else(|| panic!("a header line is not `Field: value`: {line:?}"));
                fields.push((key.trim().to_string(), value.trim().to_string()));
            } else if let Some(title) = line
                .strip_prefix("== ")
                .and_then(|rest| rest.strip_suffix(" =="))
            {
                sections.push(title.trim().to_string());
            } else if sections.is_empty() && !line.trim().is_empty() {
                short.push(line.trim());
            }
        }
        Readme {
            name,
            fields,
            short_description: short.join(" "),
            sections,
        }
    }

    fn field(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The `Field: value` lines of the plugin's header (its first doc block).
fn plugin_header(php: &str) -> Vec<(String, String)> {
    let start = php.find("/**").expect("carechat.php has no header block");
    let end = php[start..]
        .find("*/")
        .map(|len| start + len)
        .expect("carechat.php's header block is not closed");
    php[start + 3..end]
        .lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches('*').trim();
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_string(), value.trim().to_string()))
        })
        .collect()
}

#[test]
fn the_wordpress_readme_is_well_formed() {
    let dir = wordpress_dir().join("carechat");
    let readme = Readme::parse(&read(&dir.join("readme.txt")));
    let php = read(&dir.join("carechat.php"));
    let header = plugin_header(&php);
    let header_field = |key: &str| -> &str {
        header
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("carechat.php's header has no {key}: {header:?}"))
    };

    assert_eq!(readme.name, "Carechat");
    assert_eq!(header_field("Plugin Name"), readme.name);
    assert_eq!(header_field("Text Domain"), "carechat");
    assert_eq!(header_field("License"), "GPL-2.0-or-later");
    for key in [
        "Contributors",
        "Tags",
        "Requires at least",
        "Tested up to",
        "Requires PHP",
        "Stable tag",
        "License",
        "License URI",
    ] {
        let value = readme.field(key);
        assert!(
            value.is_some_and(|v| !v.is_empty()),
            "readme.txt has no {key}: {:?}",
            readme.fields
        );
    }
    let tags: Vec<&str> = readme
        .field("Tags")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    assert!(
        (1..=5).contains(&tags.len()),
        "readme.txt has {} tags, WordPress.org shows at most 5: {tags:?}",
        tags.len()
    );
    let short = readme.short_description.chars().count();
    assert!(
        (1..=150).contains(&short),
        "the short description has {short} characters (1 to 150): {:?}",
        readme.short_description
    );
    for section in [
        "Description",
        "Installation",
        "Frequently Asked Questions",
        "Changelog",
        "Privacy",
    ] {
        assert!(
            readme.sections.iter().any(|s| s == section),
            "readme.txt has no == {section} == section: {:?}",
            readme.sections
        );
    }

    // WordPress offers an update when Stable tag moves; it must be the
    // version the plugin says it is, and the changelog must have it.
    let version = header_field("Version");
    assert_eq!(readme.field("Stable tag"), Some(version), "Stable tag");
    assert_eq!(
        readme.field("Requires at least"),
        Some(header_field("Requires at least"))
    );
    assert_eq!(
        readme.field("Requires PHP"),
        Some(header_field("Requires PHP"))
    );
    let changelog_entry = format!("= {version} =");
    assert!(
        read(&dir.join("readme.txt")).contains(&changelog_entry),
        "the changelog has no {changelog_entry} entry"
    );

    // Loaded outside WordPress, the plugin does nothing: the guard comes
    // before any code.
    let guard = php
        .find("defined( 'ABSPATH' ) || exit;")
        .expect("carechat.php has no `defined( 'ABSPATH' ) || exit;` guard");
    let first_code = ["function ", "add_action(", "add_filter(", "const "]
        .iter()
        .filter_map(|code| php.find(code))
        .min()
        .unwrap_or(php.len());
    assert!(guard < first_code, "the ABSPATH guard comes after code");
    let uninstall = read(&dir.join("uninstall.php"));
    assert!(
        uninstall.contains("defined( 'WP_UNINSTALL_PLUGIN' ) || exit;"),
        "uninstall.php does not check WP_UNINSTALL_PLUGIN"
    );
    assert!(uninstall.contains("delete_option( 'carechat_options' )"));

    // Each attribute the widget reads is written escaped: the line that
    // names it calls esc_attr on its value.
    for attribute in ["data-clinic", "data-color", "data-state", "data-lang"] {
        let quoted = format!("'{attribute}'");
        let lines: Vec<&str> = php.lines().filter(|l| l.contains(&quoted)).collect();
        assert!(!lines.is_empty(), "carechat.php never writes {attribute}");
        for line in lines {
            assert!(
                line.contains("esc_attr("),
                "{attribute} is written without esc_attr: {}",
                line.trim()
            );
        }
    }
}

/// Runs `tests/harness.php` on `scenario` (the stored options, whether the
/// screen is an admin one, the WordPress version) and returns what it
/// printed: one `group: <script …>` line per enqueued script.
fn render(scenario: &Value) -> String {
    let harness = wordpress_dir().join("tests/harness.php");
    let out = Command::new("php")
        .arg(&harness)
        .arg(scenario.to_string())
        .output()
        .expect("running php");
    let stdout = String::from_utf8(out.stdout).expect("the harness printed UTF-8");
    assert!(
        out.status.success(),
        "the harness failed on {scenario}:\n{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn the_wordpress_plugin_renders_the_widget_tag() {
    if !have_php("the_wordpress_plugin_renders_the_widget_tag") {
        return;
    }
    let options = json!({
        "enabled": true,
        "server_url": "https://chat.example",
        "clinic": r#"Maple "Street" <Family> & Dental"#,
        "color": "teal; background: url(x)",
        "state": "NY",
        "lang": "es",
    });

    let printed = render(&json!({ "options": options }));
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 1, "one script tag: {printed}");
    let tag = lines[0]
        .strip_prefix("footer: ")
        .unwrap_or_else(|| panic!("the widget is not in the footer: {printed}"));
    for expected in [
        r#"src="https://chat.example/widget.js""#,
        r#"data-clinic="Maple &quot;Street&quot; &lt;Family&gt; &amp; Dental""#,
        r##"data-color="#0f766e""##,
        r#"data-state="NY""#,
        r#"data-lang="es""#,
        " defer",
    ] {
        assert!(tag.contains(expected), "{expected} is not in {tag}");
    }
    // Only the tag's own brackets: none from the clinic name.
    assert_eq!(tag.matches('<').count(), 2, "{tag}");
    assert!(!tag.contains("<Family"), "{tag}");
    assert!(!tag.contains("ver="), "a ?ver= hides the tag's src: {tag}");
    assert!(
        tag.starts_with("<script ") && tag.ends_with("></script>"),
        "{tag}"
    );

    // Off, on an admin screen, or with a server the widget must not load
    // from (plain HTTP off this machine, a path): nothing at all.
    let mut off = options.clone();
    off["enabled"] = json!(false);
    assert_eq!(render(&json!({ "options": off })), "", "disabled");
    assert_eq!(
        render(&json!({ "options": options, "admin": true })),
        "",
        "an admin screen"
    );
    for server in [
        "http://chat.example",
        "https://chat.example/chat",
        "javascript:alert(1)",
    ] {
        let mut bad = options.clone();
        bad["server_url"] = json!(server);
        assert_eq!(render(&json!({ "options": bad })), "", "server {server}");
    }
    assert_eq!(render(&json!({})), "", "never configured");

    // Before WordPress 6.3 (no loading strategies): still in the footer, a
    // local test server, the colour lowercased, and no attribute for an
    // empty name or an invalid state or language.
    let printed = render(&json!({
        "wp_version": "6.2",
        "options": {
            "enabled": true,
            "server_url": "http://127.0.0.1:8080/",
            "clinic": "",
            "color": "#ABCDEF",
            "state": "New York",
            "lang": "\"><script>",
        },
    }));
    assert_eq!(
        printed.trim_end(),
        "footer: <script data-color=\"#abcdef\" src='http://127.0.0.1:8080/widget.js' id='carechat-widget-js'></script>"
    );

    // Loaded on its own, outside WordPress, the plugin prints nothing.
    let out = Command::new("php")
        .arg(wordpress_dir().join("carechat/carechat.php"))
        .output()
        .expect("running php");
    assert!(out.status.success());
    assert!(out.stdout.is_empty() && out.stderr.is_empty(), "{out:?}");
}
