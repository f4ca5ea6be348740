//! Small statistics for the benchmark: percentiles, medians and per-round ratios.
//!
//! Pure functions over `f64` slices, used on the caller's thread. NaN values
//! are never produced by the workloads; inputs containing them are filtered out
//! so one broken sample cannot poison a whole table.

/// The `p`-th percentile (0–100) of `values`, with linear interpolation
/// between closest ranks (NumPy's default), or `None` for an empty input.
pub fn percentile(values: &[f64], p: f64) -> Option<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    let rank = (p.clamp(0.0, 100.0) / 100.0) * (sorted.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// The median of `values` (the mean of the two middle values for an even count).
pub fn median(values: &[f64]) -> Option<f64> {
    percentile(values, 50.0)
}

/// Median and range of a set of per-round values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    /// Number of values summarised.
    pub n: usize,
}

impl Spread {
    /// Summarises `values`, or `None` if there are none.
    pub fn of(values: &[f64]) -> Option<Self> {
        let clean: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
        let median = median(&clean)?;
        let min = clean.iter().copied().fold(f64::INFINITY, f64::min);
        let max = clean.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Self {
            median,
            min,
            max,
            n: clean.len(),
        })
    }
}

/// Summary of the per-round ratios `subject / baseline` for the rounds where
/// both values exist and the baseline is non-zero.
///
/// Rounds are paired by position: `pairs[i]` is round `i`'s (subject, baseline).
/// Ratios are taken per round before the median (rather than dividing the two
/// medians) so that a slow minute on this shared machine hits both sides of
/// the same ratio instead of one side of the comparison.
pub fn ratio_spread(pairs: &[(Option<f64>, Option<f64>)]) -> Option<Spread> {
    let ratios: Vec<f64> = pairs
        .iter()
        .filter_map(|(s, b)| match (s, b) {
            (Some(s), Some(b)) if *b != 0.0 => Some(s / b),
            _ => None,
        })
        .collect();
    Spread::of(&ratios)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_linearly() {
        let v = [4.0, 1.0, 3.0, 2.0];
        assert_eq!(percentile(&v, 0.0), Some(1.0));
        assert_eq!(percentile(&v, 100.0), Some(4.0));
        assert_eq!(median(&v), Some(2.5));
        // rank = 0.95 * 3 = 2.85 → 3 + 0.85 * (4 - 3)
        assert!((percentile(&v, 95.0).unwrap() - 3.85).abs() < 1e-12);
        assert_eq!(median(&[7.0]), Some(7.0));
        assert_eq!(percentile(&[7.0], 95.0), Some(7.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[f64::NAN, 2.0]), Some(2.0));
    }

    #[test]
    fn spread_reports_median_and_range() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Spread::of(&[]), None);
    }

    #[test]
    fn ratios_are_taken_per_round_then_summarised() {
        let pairs = [
            (Some(2.0), Some(1.0)),
            (Some(3.0), Some(3.0)),
            (Some(1.0), Some(2.0)),
            (None, Some(1.0)),
            (Some(1.0), Some(0.0)),
        ];
        let s = ratio_spread(&pairs).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (1.0, 0.5, 2.0, 3));
        // Not the ratio of the medians, which would be 3.0 / 2.0 here.
        let paired = [
            (Some(4.0), Some(1.0)),
            (Some(1.0), Some(2.0)),
            (Some(3.0), Some(3.0)),
        ];
        assert_eq!(ratio_spread(&paired).unwrap().median, 1.0);
        assert_eq!(ratio_spread(&[(None, None)]), None);
    }
}
