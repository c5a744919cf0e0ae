//! A variation's summary of one metric, as gbstats models it: a proportion (conversions), a
//! sample mean with its sum of squares (revenue per unit), a ratio of two per-unit sums with their
//! sum of products (the delta method), a post-exposure mean adjusted by its pre-exposure value
//! (CUPED), or a quantile with its bounds (see `quantile`).

use serde::{Deserialize, Serialize};

use crate::quantile::QuantileSummary;

/// One side of a ratio or of a CUPED adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Moments {
    /// Units with the event (each unit counts 0 or 1).
    Proportion {
        n: f64,
        sum: f64,
    },
    SampleMean {
        n: f64,
        sum: f64,
        sum_squares: f64,
    },
}

impl Moments {
    pub fn n(&self) -> f64 {
        match *self {
            Moments::Proportion { n, .. } | Moments::SampleMean { n, .. } => n,
        }
    }

    pub fn sum(&self) -> f64 {
        match *self {
            Moments::Proportion { sum, .. } | Moments::SampleMean { sum, .. } => sum,
        }
    }

    pub fn mean(&self) -> f64 {
        if self.n() == 0.0 { 0.0 } else { self.sum() / self.n() }
    }

    pub fn variance(&self) -> f64 {
        match *self {
            Moments::Proportion { .. } => self.mean() * (1.0 - self.mean()),
            Moments::SampleMean { n, sum, sum_squares } => {
                if n <= 1.0 {
                    0.0
                } else {
                    (sum_squares - sum * sum / n) / (n - 1.0)
                }
            }
        }
    }

    fn joined(self, other: Moments) -> Moments {
        match (self, other) {
            (Moments::Proportion { n, sum }, Moments::Proportion { n: other_n, sum: other_sum }) => {
                Moments::Proportion { n: n + other_n, sum: sum + other_sum }
            }
            (a, b) => Moments::SampleMean {
                n: a.n() + b.n(),
                sum: a.sum() + b.sum(),
                sum_squares: a.sum_squares() + b.sum_squares(),
            },
        }
    }

    pub fn sum_squares(&self) -> f64 {
        match *self {
            Moments::Proportion { sum, .. } => sum,
            Moments::SampleMean { sum_squares, .. } => sum_squares,
        }
    }
}

/// A variation's statistic of one metric.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Statistic {
    Proportion {
        n: f64,
        sum: f64,
    },
    SampleMean {
        n: f64,
        sum: f64,
        sum_squares: f64,
    },
    /// Numerator and denominator per unit; the variance by the delta method.
    Ratio {
        n: f64,
        numerator: Moments,
        denominator: Moments,
        sum_of_products: f64,
    },
    /// CUPED: `post − θ·pre`, θ shared by the variations compared ([`cuped_theta`]).
    RegressionAdjusted {
        n: f64,
        post: Moments,
        pre: Moments,
        sum_of_products: f64,
        theta: f64,
    },
    /// A quantile of events or of units (p95 startup time); its "mean" is the quantile.
    Quantile(QuantileSummary),
}

fn covariance(n: f64, sum_of_products: f64, a: &Moments, b: &Moments) -> f64 {
    if n <= 1.0 { 0.0 } else { (sum_of_products - a.sum() * b.sum() / n) / (n - 1.0) }
}

impl Statistic {
    pub fn n(&self) -> f64 {
        match *self {
            Statistic::Proportion { n, .. }
            | Statistic::SampleMean { n, .. }
            | Statistic::Ratio { n, .. }
            | Statistic::RegressionAdjusted { n, .. } => n,
            Statistic::Quantile(summary) => summary.n,
        }
    }

    /// No comparison can be made on it: gbstats' zero-variance check, which for quantiles also
    /// refuses samples too small for the quantile's interval.
    pub fn has_zero_variance(&self) -> bool {
        match self {
            Statistic::Quantile(summary) => summary.has_zero_variance(),
            other => other.variance() <= 0.0,
        }
    }

    pub fn mean(&self) -> f64 {
        match self {
            Statistic::Proportion { n, sum } => Moments::Proportion { n: *n, sum: *sum }.mean(),
            Statistic::SampleMean { n, sum, sum_squares } => {
                Moments::SampleMean { n: *n, sum: *sum, sum_squares: *sum_squares }.mean()
            }
            Statistic::Ratio { numerator, denominator, .. } => {
                if denominator.sum() == 0.0 {
                    0.0
                } else {
                    numerator.sum() / denominator.sum()
                }
            }
            Statistic::RegressionAdjusted { post, pre, theta, .. } => post.mean() - theta * pre.mean(),
            Statistic::Quantile(summary) => summary.quantile,
        }
    }

    /// The mean before any CUPED adjustment: what a relative uplift divides by.
    pub fn unadjusted_mean(&self) -> f64 {
        match self {
            Statistic::RegressionAdjusted { post, .. } => post.mean(),
            other => other.mean(),
        }
    }

    pub fn variance(&self) -> f64 {
        match self {
            Statistic::Proportion { n, sum } => Moments::Proportion { n: *n, sum: *sum }.variance(),
            Statistic::SampleMean { n, sum, sum_squares } => {
                Moments::SampleMean { n: *n, sum: *sum, sum_squares: *sum_squares }.variance()
            }
            Statistic::Ratio { n, numerator, denominator, sum_of_products } => {
                let (mean_m, mean_d) = (numerator.mean(), denominator.mean());
                if mean_d == 0.0 || *n <= 1.0 {
                    return 0.0;
                }
                let cov = covariance(*n, *sum_of_products, numerator, denominator);
                numerator.variance() / mean_d.powi(2) - 2.0 * cov * mean_m / mean_d.powi(3)
                    + mean_m.powi(2) * denominator.variance() / mean_d.powi(4)
            }
            Statistic::RegressionAdjusted { n, post, pre, sum_of_products, theta } => {
                if *n <= 1.0 {
                    return 0.0;
                }
                let cov = covariance(*n, *sum_of_products, post, pre);
                post.variance() + theta.powi(2) * pre.variance() - 2.0 * theta * cov
            }
            Statistic::Quantile(summary) => summary.variance(),
        }
    }
}

/// CUPED's θ for two variations: the covariance of post and pre over the pre variance, pooled
/// (zero when either variance is zero, so no adjustment is made).
pub fn cuped_theta(a: &Statistic, b: &Statistic) -> f64 {
    let (
        Statistic::RegressionAdjusted { n: n_a, post: post_a, pre: pre_a, sum_of_products: products_a, .. },
        Statistic::RegressionAdjusted { n: n_b, post: post_b, pre: pre_b, sum_of_products: products_b, .. },
    ) = (a, b)
    else {
        return 0.0;
    };
    let n = n_a + n_b;
    let post = retotal(post_a.joined(*post_b), n);
    let pre = retotal(pre_a.joined(*pre_b), n);
    if pre.variance() == 0.0 || post.variance() == 0.0 {
        return 0.0;
    }
    covariance(n, products_a + products_b, &post, &pre) / pre.variance()
}

fn retotal(moments: Moments, n: f64) -> Moments {
    match moments {
        Moments::Proportion { sum, .. } => Moments::Proportion { n, sum },
        Moments::SampleMean { sum, sum_squares, .. } => Moments::SampleMean { n, sum, sum_squares },
    }
}
