//! Corrections for testing many metrics and variations at once, as adjusted p-values: Holm's
//! step-down (family-wise error; Holm 1979, "A simple sequentially rejective multiple test
//! procedure") and Benjamini–Hochberg's step-up (false discovery rate; Benjamini & Hochberg 1995).
//! gbstats has no such method; the tests below check an example worked by hand from the
//! definitions.

/// Holm-adjusted p-values, in the order given.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let count = p_values.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|a, b| p_values[*a].total_cmp(&p_values[*b]));
    let mut adjusted = vec![0.0; count];
    let mut running = 0.0_f64;
    for (rank, &index) in order.iter().enumerate() {
        let value = ((count - rank) as f64 * p_values[index]).min(1.0);
        running = running.max(value);
        adjusted[index] = running;
    }
    adjusted
}

/// Benjamini–Hochberg-adjusted p-values (q-values), in the order given.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let count = p_values.len();
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by(|a, b| p_values[*b].total_cmp(&p_values[*a]));
    let mut adjusted = vec![0.0; count];
    let mut running = 1.0_f64;
    for (position, &index) in order.iter().enumerate() {
        let rank = (count - position) as f64;
        running = running.min(p_values[index] * count as f64 / rank).min(1.0);
        adjusted[index] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rounded(values: Vec<f64>) -> Vec<f64> {
        values.into_iter().map(|value| (value * 1e6).round() / 1e6).collect()
    }

    #[test]
    fn holm_steps_down() {
        // Five p-values; Holm multiplies the k-th smallest by (m − k + 1) and keeps the maximum so far.
        let adjusted = holm(&[0.01, 0.04, 0.03, 0.005, 0.2]);
        assert_eq!(rounded(adjusted), vec![0.04, 0.09, 0.09, 0.025, 0.2]);
    }

    #[test]
    fn benjamini_hochberg_steps_up() {
        // The same p-values: the k-th smallest times m/k, then the minimum from the largest down.
        let adjusted = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005, 0.2]);
        assert_eq!(rounded(adjusted), vec![0.025, 0.05, 0.05, 0.025, 0.2]);
    }
}
