"""Cases for the statistics engine's parity test: random summary statistics (seeded; quantiles
summarised from generated values), and what GrowthBook's gbstats 0.8.0 computes for them. Prints
one JSON document on stdout.

Usage: python3 gbstats_cases.py SEED COUNT
"""
import json
import math
import random
import sys

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import (FrequentistConfig, SequentialConfig, SequentialTwoSidedTTest,
                                       TwoSidedTTest)
from gbstats.models.statistics import (ProportionStatistic, QuantileClusteredStatistic, QuantileStatistic,
                                       RatioStatistic, RegressionAdjustedStatistic, SampleMeanStatistic,
                                       compute_theta)
from gbstats.utils import check_srm


def sample_mean(rng, n):
    mean = rng.uniform(0.5, 50)
    # One case in eight has no spread at all (every unit alike).
    spread = (0.0 if rng.random() < 0.125 else rng.uniform(0.1, 30)) if n > 1 else 0.0
    total = mean * n
    # sum of squares = (n-1) var + sum^2 / n
    sum_squares = (n - 1) * spread ** 2 + total ** 2 / n if n else 0.0
    return {"kind": "sample_mean", "n": n, "sum": total, "sum_squares": sum_squares}


def proportion(rng, n):
    # One case in eight converts nobody or everybody.
    rate = rng.choice([0.0, 1.0]) if rng.random() < 0.125 else rng.uniform(0.001, 0.999)
    return {"kind": "proportion", "n": n, "sum": float(round(rate * n))}


def gb(moments):
    if moments["kind"] == "proportion":
        return ProportionStatistic(n=int(moments["n"]), sum=moments["sum"])
    return SampleMeanStatistic(n=int(moments["n"]), sum=moments["sum"], sum_squares=moments["sum_squares"])


def sample_quantile(values, level):
    """Linear interpolation between order statistics (PERCENTILE_CONT, numpy's default)."""
    position = min(max(level, 0.0), 1.0) * (len(values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


def moments(values):
    return {"kind": "sample_mean", "n": len(values), "sum": float(sum(values)),
            "sum_squares": float(sum(v * v for v in values))}


def quantile(rng, n, clustered, nu):
    """The nu quantile over real values: n units, each with one value, or with 1 to 6 events
    (startups)."""
    # One case in eight has every value alike; values are log-normal like startup times otherwise.
    alike = rng.random() < 0.125
    per_unit = [[400.0 if alike else round(rng.lognormvariate(6, 0.5), 1)
                 for _ in range(rng.randint(1, 6) if clustered else 1)] for _ in range(n)]
    values = sorted(v for unit in per_unit for v in unit)
    if not values:
        return {"kind": "quantile", "n": 0, "n_star": 0, "nu": nu, "quantile": 0.0, "lower": 0.0, "upper": 0.0}
    spread = 1.959963984540054 * math.sqrt(nu * (1 - nu) / len(values))
    lower, upper = max(nu - spread, 1e-8), min(nu + spread, 1 - 1e-8)
    summary = {"kind": "quantile", "n": len(values), "n_star": len(values), "nu": nu,
               "quantile": sample_quantile(values, nu), "lower": sample_quantile(values, lower),
               "upper": sample_quantile(values, upper)}
    if clustered:
        below = [float(sum(1 for v in unit if v <= summary["quantile"])) for unit in per_unit]
        events = [float(len(unit)) for unit in per_unit]
        summary["clusters"] = {"below": moments(below), "events": moments(events),
                               "sum_of_products": float(sum(b * e for b, e in zip(below, events)))}
    return summary


def statistic(rng, shape, n, nu):
    if shape in ("quantile", "quantile_event"):
        return quantile(rng, n, shape == "quantile_event", nu)
    if shape in ("proportion", "sample_mean"):
        return proportion(rng, n) if shape == "proportion" else sample_mean(rng, n)
    if shape == "ratio":
        numerator, denominator = sample_mean(rng, n), sample_mean(rng, n)
        products = numerator["sum"] * denominator["sum"] / max(n, 1) + rng.uniform(-1, 1) * n
        return {"kind": "ratio", "n": n, "numerator": numerator, "denominator": denominator, "sum_of_products": products}
    post, pre = sample_mean(rng, n), sample_mean(rng, n)
    products = post["sum"] * pre["sum"] / max(n, 1) + rng.uniform(0, 2) * n
    return {"kind": "regression_adjusted", "n": n, "post": post, "pre": pre, "sum_of_products": products, "theta": 0.0}


def gb_statistic(value):
    if value["kind"] == "quantile":
        common = dict(n=int(value["n"]), n_star=int(value["n_star"]), nu=value["nu"], quantile_hat=value["quantile"],
                      quantile_lower=value["lower"], quantile_upper=value["upper"])
        clusters = value.get("clusters")
        if clusters is None:
            return QuantileStatistic(**common)
        return QuantileClusteredStatistic(
            **common, main_sum=clusters["below"]["sum"], main_sum_squares=clusters["below"]["sum_squares"],
            denominator_sum=clusters["events"]["sum"], denominator_sum_squares=clusters["events"]["sum_squares"],
            main_denominator_sum_product=clusters["sum_of_products"], n_clusters=int(clusters["below"]["n"]))
    if value["kind"] in ("proportion", "sample_mean"):
        return gb(value)
    if value["kind"] == "ratio":
        return RatioStatistic(n=int(value["n"]), m_statistic=gb(value["numerator"]), d_statistic=gb(value["denominator"]),
                              m_d_sum_of_products=value["sum_of_products"])
    return RegressionAdjustedStatistic(n=int(value["n"]), post_statistic=gb(value["post"]), pre_statistic=gb(value["pre"]),
                                       post_pre_sum_of_products=value["sum_of_products"], theta=value["theta"])


def finite(values):
    return all(isinstance(value, (int, float)) and math.isfinite(value) for value in values)


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    cases = []
    while len(cases) < count:
        shape = rng.choice(["proportion", "sample_mean", "ratio", "regression_adjusted", "quantile", "quantile_event"])
        # Tiny samples (none, one, two, five units) in one case of four, else 30 to 100,000 units
        # (quantiles, whose values are generated one by one: 100 to 5,000).
        tiny = lambda: rng.random() < 0.25
        sizes = (lambda: rng.choice([100, rng.randint(400, 5000)])) if shape.startswith("quantile") else (
            lambda: rng.choice([30, rng.randint(100, 100000)]))
        n_a = rng.choice([0, 1, 2, 5]) if tiny() else sizes()
        n_b = rng.choice([1, 2, 5]) if tiny() else sizes()
        nu = rng.choice([0.5, 0.9, 0.95, 0.99])
        a, b = statistic(rng, shape, n_a, nu), statistic(rng, shape, n_b, nu)
        if shape == "regression_adjusted":
            theta = compute_theta(gb_statistic(a), gb_statistic(b))
            a["theta"] = b["theta"] = theta
        stat_a, stat_b = gb_statistic(a), gb_statistic(b)
        frequentist = TwoSidedTTest(stat_a, stat_b, FrequentistConfig()).compute_result()
        sequential = SequentialTwoSidedTTest(stat_a, stat_b, SequentialConfig()).compute_result()
        bayesian = EffectBayesianABTest(stat_a, stat_b, EffectBayesianConfig()).compute_result()
        outputs = {
            "frequentist": {"expected": frequentist.expected, "ci": list(frequentist.ci), "p_value": frequentist.p_value,
                            "error": frequentist.error_message},
            "sequential": {"expected": sequential.expected, "ci": list(sequential.ci), "p_value": sequential.p_value,
                           "error": sequential.error_message},
            "bayesian": {"expected": bayesian.expected, "ci": list(bayesian.ci), "chance_to_win": bayesian.chance_to_win,
                         "risk": list(bayesian.risk), "error": bayesian.error_message},
        }
        numbers = [frequentist.expected, *frequentist.ci, frequentist.p_value, *sequential.ci, sequential.p_value,
                   bayesian.chance_to_win, *bayesian.ci, *bayesian.risk]
        if not finite(numbers):
            continue  # gbstats itself gives no number here (an infinite interval): not a parity case
        units = [rng.randint(0, 5000) for _ in range(rng.choice([2, 3]))]
        weights = [rng.choice([0.5, 1.0, 2.0]) for _ in units]
        cases.append({"a": a, "b": b, "outputs": outputs, "srm": {"units": units, "weights": weights,
                                                                   "p_value": check_srm(units, weights)}})
    json.dump({"cases": cases}, sys.stdout)


main()
