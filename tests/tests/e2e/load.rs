//! `carechat-lab bench load` runs against a real server: idle sockets
//! opened from two loopback source addresses, the server's memory read at
//! each level, active patients' replies timed. Small numbers here: the
//! figures themselves are measured with the release build
//! (docs/deploy.md).

use std::process::Command;

use carechat_e2e::{Server, carechat_lab};
use serde_json::Value;

#[test]
fn the_load_generator_measures_memory_per_idle_socket_and_reply_times() {
    // Every socket comes from the loopback address: its limits raised.
    let server = Server::start_with(&[
        ("CARECHAT_LIMITS__SOCKETS_PER_MINUTE", "100000"),
        ("CARECHAT_LIMITS__NEW_CHATS_PER_ADDRESS", "100000"),
        ("CARECHAT_LIMITS__MESSAGES_PER_CONVERSATION", "1000"),
    ]);
    let out = Command::new(carechat_lab())
        .args(["bench", "load", "--server"])
        .arg(server.base.trim_start_matches("http://"))
        .args(["--pid", &server.pid().to_string()])
        .args([
            "--idle",
            "40",
            "--active",
            "2",
            "--messages",
            "2",
            "--sources",
            "2",
        ])
        .output()
        .expect("running carechat-lab");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\nserver log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        server.log()
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    let levels = report["levels"].as_array().unwrap();
    assert_eq!(
        levels
            .iter()
            .map(|l| l["idle"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 40]
    );
    for level in levels {
        assert!(level["rss_kib"].as_u64().unwrap() > 10_000, "{level}");
        assert_eq!(level["active_replies"], 4, "{level}");
        assert!(level["p99_ms"].as_f64().unwrap() > 0.0, "{level}");
    }
    assert!(levels[1]["kib_per_idle_socket"].is_number());
}
