//! Choosing the answer threshold from held-out phrasings.

use serde::Serialize;

/// How much worse a wrong answer is than a needless escalation. A wrong
/// canned reply misleads a patient (a wrong time, a wrong form, a reply to
/// a question that was not asked); an escalation costs a person a minute.
pub const WRONG_ANSWER_COST: f64 = 4.0;

/// The decision threshold and what it gave on the calibration phrasings.
#[derive(Debug, Clone, Serialize)]
pub struct Calibration {
    pub threshold: f32,
    pub in_scope: usize,
    pub out_of_scope: usize,
    /// Shares of the in-scope phrasings answered rightly, answered wrongly
    /// and escalated, and of the out-of-scope ones answered.
    pub in_scope_correct: f64,
    pub in_scope_wrong: f64,
    pub in_scope_escalated: f64,
    pub out_of_scope_answered: f64,
}

/// The policy in one place. For each held-out phrasing the bot knows its
/// best score and, for in-scope ones, whether the best intent was right.
/// Every candidate threshold is priced at [`WRONG_ANSWER_COST`] per share
/// of in-scope phrasings answered wrongly and per share of out-of-scope
/// phrasings answered, and 1 per share of in-scope phrasings escalated
/// that would have been answered rightly; the cheapest wins, the higher of
/// equals (escalating is preferred to guessing). Shares rather than counts,
/// so that how many out-of-scope examples a whitelist has does not tilt it.
pub fn calibrate(in_scope: &[(f32, bool)], out_of_scope: &[f32]) -> Option<Calibration> {
    if in_scope.is_empty() && out_of_scope.is_empty() {
        return None;
    }
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let measure = |t: f32| {
        let answered = |s: f32| s >= t;
        let right = in_scope
            .iter()
            .filter(|(s, ok)| *ok && answered(*s))
            .count();
        let wrong = in_scope
            .iter()
            .filter(|(s, ok)| !*ok && answered(*s))
            .count();
        let oos = out_of_scope.iter().filter(|s| answered(**s)).count();
        Calibration {
            threshold: t,
            in_scope: in_scope.len(),
            out_of_scope: out_of_scope.len(),
            in_scope_correct: share(right, in_scope.len()),
            in_scope_wrong: share(wrong, in_scope.len()),
            in_scope_escalated: share(in_scope.len() - right - wrong, in_scope.len()),
            out_of_scope_answered: share(oos, out_of_scope.len()),
        }
    };
    let cost = |c: &Calibration| {
        WRONG_ANSWER_COST * (c.in_scope_wrong + c.out_of_scope_answered)
            + (c.in_scope_escalated
                - share(
                    in_scope
                        .iter()
                        .filter(|(s, ok)| !*ok && *s < c.threshold)
                        .count(),
                    in_scope.len(),
                ))
    };
    // Thresholds just above each observed score, and at the lowest one.
    let mut candidates: Vec<f32> = in_scope
        .iter()
        .map(|(s, _)| *s)
        .chain(out_of_scope.iter().copied())
        .flat_map(|s| [s, s.next_up()])
        .collect();
    candidates.sort_by(f32::total_cmp);
    candidates.dedup();
    let mut best: Option<(f64, Calibration)> = None;
    for t in candidates {
        let c = measure(t);
        let k = cost(&c);
        if best.as_ref().is_none_or(|(b, _)| k <= *b) {
            best = Some((k, c));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_prices_wrong_answers_above_escalations() {
        // Right answers score high, wrong ones and out-of-scope in between.
        let in_scope = [
            (0.9, true),
            (0.85, true),
            (0.8, true),
            (0.7, false),
            (0.65, true),
        ];
        let oos = [0.6, 0.5, 0.72];
        let c = calibrate(&in_scope, &oos).unwrap();
        // Above 0.72 nothing wrong is answered; losing the 0.65 right answer
        // (cost 1/5) is cheaper than answering 0.7 wrongly (4/5).
        assert!(c.threshold > 0.72 && c.threshold <= 0.8, "{c:?}");
        assert_eq!(c.out_of_scope_answered, 0.0);
        assert_eq!(c.in_scope_wrong, 0.0);
        assert!((c.in_scope_correct - 0.6).abs() < 1e-9);
        // With nothing out of scope and every answer right, answer all.
        let c = calibrate(&[(0.3, true), (0.5, true)], &[]).unwrap();
        assert!(c.threshold <= 0.3, "{c:?}");
        assert!(calibrate(&[], &[]).is_none());
    }
}
