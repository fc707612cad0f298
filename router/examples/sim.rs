//! Runs the routing simulation with its default model and prints the report
//! as JSON: `cargo run -p router --release --example sim [seed] [--teams-per-skill]`.
//! `--teams-per-skill` gives the baselines one team per skill instead of the
//! default front-office and clinical teams.

use std::time::Instant;

fn main() {
    let mut config = router::sim::SimConfig::default();
    for arg in std::env::args().skip(1) {
        if arg == "--teams-per-skill" {
            config.teams = config
                .chat_skills
                .iter()
                .map(|(s, _)| (s.clone(), vec![s.clone()]))
                .collect();
        } else {
            config.seed = arg.parse().expect("the seed is a number");
        }
    }
    let start = Instant::now();
    let mut clock = || u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
    let report = router::sim::run(&config, &mut clock);
    println!(
        "{}",
        serde_json::to_string_pretty(&report).expect("the report serialises")
    );
}
