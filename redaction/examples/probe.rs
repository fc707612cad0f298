use std::io::BufRead;
fn main() {
    let r = redaction::Redactor::new();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let spans = r.find(&line);
        let chars: Vec<char> = line.chars().collect();
        let parts: Vec<String> = spans
            .iter()
            .map(|s| {
                format!(
                    "{}:{:?}({:.2})",
                    s.kind.as_str(),
                    chars[s.start..s.end].iter().collect::<String>(),
                    s.score
                )
            })
            .collect();
        println!("{:<60} => {}", line, parts.join(", "));
    }
}
