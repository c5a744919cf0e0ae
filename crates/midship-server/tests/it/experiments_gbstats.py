"""What GrowthBook's gbstats 0.8.0 computes for an experiment's summary statistics, for the
experiments end-to-end test. Reads one JSON document on stdin:

  {"metrics": {KEY: [STATISTIC per variation, control first]}, "units": [...], "weights": [...]}

where a STATISTIC is {"kind": "proportion", "n", "sum"} or {"kind": "sample_mean", "n", "sum",
"sum_squares"}; prints, per metric and variation after control, the sequential two-sided t-test
(gbstats' default tuning) and the Bayesian effect test, and the SRM p-value.
"""
import json
import sys

from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.frequentist.tests import SequentialConfig, SequentialTwoSidedTTest
from gbstats.models.statistics import ProportionStatistic, SampleMeanStatistic
from gbstats.utils import check_srm


def statistic(value):
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
            bayesian = EffectBayesianABTest(control, variation, EffectBayesianConfig()).compute_result()
            compared.append({
                "uplift": frequentist.expected, "ci": list(frequentist.ci), "p_value": frequentist.p_value,
                "chance_to_win": bayesian.chance_to_win, "credible_interval": list(bayesian.ci),
                "risk": list(bayesian.risk),
            })
        metrics[key] = compared
    json.dump({"metrics": metrics, "srm_p_value": check_srm(request["units"], request["weights"])}, sys.stdout)


main()
