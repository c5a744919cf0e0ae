"""What GrowthBook's gbstats 0.8.0 computes for an experiment's summary statistics, for the
experiments end-to-end test. Reads one JSON document on stdin:

  {"metrics": {KEY: [STATISTIC per variation, control first]}, "units": [...], "weights": [...]}

where a STATISTIC is {"kind": "proportion", "n", "sum"}, {"kind": "sample_mean", "n", "sum",
"sum_squares"} or {"kind": "event_values", "nu", "units": [[value per event] per unit]} (an event
quantile, summarised here with numpy as GrowthBook's SQL does: PERCENTILE_CONT, the bounds at
nu +- 1.96 sqrt(nu (1 - nu) / n), each unit a cluster). "inverse" lists the metrics where lower is
better. Prints, per metric and variation after control, the sequential two-sided t-test (gbstats'
default tuning) and the Bayesian effect test, and the SRM p-value.
"""
import json
import math
import sys

import numpy as np

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, QuantileClusteredStatistic, SampleMeanStatistic
from gbstats.utils import check_srm


def event_quantile(nu, units):
    values = np.array([value for unit in units for value in unit], dtype=float)
    n = len(values)
    spread = 1.959963984540054 * math.sqrt(nu * (1 - nu) / n)
    lower, quantile, upper = np.quantile(values, [max(nu - spread, 1e-8), nu, min(nu + spread, 1 - 1e-8)])
    below = np.array([sum(1 for value in unit if value <= quantile) for unit in units], dtype=float)
    events = np.array([len(unit) for unit in units], dtype=float)
    return QuantileClusteredStatistic(
        n=n, n_star=n, nu=nu, quantile_hat=float(quantile), quantile_lower=float(lower), quantile_upper=float(upper),
        main_sum=float(below.sum()), main_sum_squares=float((below ** 2).sum()), denominator_sum=float(events.sum()),
        denominator_sum_squares=float((events ** 2).sum()), main_denominator_sum_product=float((below * events).sum()),
        n_clusters=len(units))


def statistic(value):
    if value["kind"] == "event_values":
        return event_quantile(value["nu"], value["units"])
    if value["kind"] == "proportion":
        return ProportionStatistic(n=int(value["n"]), sum=value["sum"])
    return SampleMeanStatistic(n=int(value["n"]), sum=value["sum"], sum_squares=value["sum_squares"])


def main():
    request = json.load(sys.stdin)
    metrics = {}
    for key, per_variation in request["metrics"].items():
        control = statistic(per_variation[0])
        compared = []
        for value in per_variation[1:]:
            variation = statistic(value)
            frequentist = SequentialTwoSidedTTest(control, variation, SequentialConfig()).compute_result()
            config = EffectBayesianConfig(inverse=key in request.get("inverse", []))
            bayesian = EffectBayesianABTest(control, variation, config).compute_result()
            compared.append({
                "uplift": frequentist.expected, "ci": list(frequentist.ci), "p_value": frequentist.p_value,
                "chance_to_win": bayesian.chance_to_win, "credible_interval": list(bayesian.ci),
                "risk": list(bayesian.risk),
            })
        metrics[key] = compared
    json.dump({"metrics": metrics, "srm_p_value": check_srm(request["units"], request["weights"])}, sys.stdout)


main()
