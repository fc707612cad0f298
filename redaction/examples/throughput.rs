//! Rough single-core throughput of `Redactor::redact` on short chat
//! messages: `cargo run --release -p redaction --example throughput`.

use std::hint::black_box;
use std::time::Instant;

const MESSAGES: &[&str] = &[
    "Hi, what time do you open on saturday?",
    "Can I book a cleaning for next Tuesday?",
    "My name is John Smith, DOB 03/04/1961, phone 555-123-4567",
    "I have crushing chest pain and my left arm is numb",
    "my daughter Emma has had a fever of 102 since yesterday",
    "Is Dr. Patel available Monday to Friday 8 to 6?",
    "please update my address to 120 Maple Street, Springfield, IL 62704",
    "I need a refill of amoxicillin 500mg twice daily",
    "member ID XYZ123456789, group number 12345",
    "thanks!",
    "can you call me back at (555) 123-4567 after 5pm",
    "my card 4111 1111 1111 1111 was charged twice for claim CLM-2024-88812",
    "José García nació el 3 de marzo de 1961",
    "ok",
    "I'm 45 years old and my BP was 142/91 this morning",
    "do you take Kaiser insurance?",
];

fn main() {
    let r = redaction::Redactor::new();
    let rounds = 20_000;
    let start = Instant::now();
    let mut total = 0usize;
    for _ in 0..rounds {
        for m in MESSAGES {
            total += black_box(r.redact(black_box(m))).text.len();
        }
    }
    let elapsed = start.elapsed();
    let n = rounds * MESSAGES.len();
    println!(
        "{n} messages in {:.2?}: {:.0} messages/s ({:.1} µs each), {total} bytes out",
        elapsed,
        n as f64 / elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / n as f64
    );
}
