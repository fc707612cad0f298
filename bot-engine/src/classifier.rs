//! Nearest-neighbour intent scoring over the whitelist's example phrasings.

use serde::Serialize;

/// An intent and how well the message matches it (cosine similarity, -1..1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scored {
    pub intent: String,
    pub confidence: f32,
}

/// Every example's embedding, row by row, with the intent it belongs to.
pub struct IntentIndex {
    intents: Vec<String>,
    labels: Vec<usize>,
    rows: Vec<f32>,
    dim: usize,
}

impl IntentIndex {
    /// `examples` pairs an index into `intents` with a unit-length embedding.
    pub fn new(intents: Vec<String>, examples: Vec<(usize, Vec<f32>)>, dim: usize) -> IntentIndex {
        let mut labels = Vec::with_capacity(examples.len());
        let mut rows = Vec::with_capacity(examples.len() * dim);
        for (label, v) in examples {
            assert_eq!(v.len(), dim, "embedding size");
            assert!(label < intents.len(), "label out of range");
            labels.push(label);
            rows.extend(v);
        }
        IntentIndex {
            intents,
            labels,
            rows,
            dim,
        }
    }

    /// Intents by descending score. An intent's score is its best example's
    /// similarity, nudged by its second best so that one lucky example counts
    /// for less than two good ones.
    pub fn rank(&self, query: &[f32]) -> Vec<Scored> {
        let mut best = vec![(f32::MIN, f32::MIN); self.intents.len()];
        for (row, &label) in self.rows.chunks_exact(self.dim).zip(&self.labels) {
            let s: f32 = row.iter().zip(query).map(|(a, b)| a * b).sum();
            let b = &mut best[label];
            if s > b.0 {
                *b = (s, b.0);
            } else if s > b.1 {
                b.1 = s;
            }
        }
        let mut out: Vec<Scored> = best
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 > f32::MIN)
            .map(|(i, &(first, second))| Scored {
                intent: self.intents[i].clone(),
                confidence: if second > f32::MIN {
                    0.8 * first + 0.2 * second
                } else {
                    first
                },
            })
            .collect();
        out.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        out
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.iter().map(|x| x / n).collect()
    }

    #[test]
    fn ranks_by_nearest_examples() {
        let index = IntentIndex::new(
            vec!["a".into(), "b".into()],
            vec![
                (0, unit(&[1.0, 0.0, 0.0])),
                (0, unit(&[0.9, 0.1, 0.0])),
                (1, unit(&[0.0, 1.0, 0.0])),
            ],
            3,
        );
        let r = index.rank(&unit(&[0.2, 1.0, 0.0]));
        assert_eq!(r[0].intent, "b");
        assert_eq!(r[1].intent, "a");
        assert!(r[0].confidence > r[1].confidence);
        let r = index.rank(&unit(&[1.0, 0.05, 0.0]));
        assert_eq!(r[0].intent, "a");
        assert!(r[0].confidence > 0.95);
    }
}
