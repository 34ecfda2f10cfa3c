"""Kaplan-Meier plus log-rank: outcomes against lifelines on the same durations, in one process.

Runs in a separate virtualenv (lifelines needs pandas < 3; see benchmarks/README.md)::

    /tmp/benchvenv/bin/python benchmarks/lifelines_compare.py /tmp/outcomes-bench/survival_1000000.npz

The file holds ``durations``, ``events`` and ``groups`` (time to relief by procedure, written by
``_measure.py survival --save``). Prints one JSON line: the best of ``--repeat`` timings of each,
and the largest differences in survival (at every distinct time) and in the log-rank p-value.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import lifelines
    import pandas as pd
    from lifelines import KaplanMeierFitter
    from lifelines.statistics import logrank_test

    from outcomes.survival import kaplan_meier, logrank

    data = np.load(args.data, allow_pickle=True)
    durations, events, groups = data["durations"], data["events"].astype(bool), data["groups"].astype(str)
    labels = sorted(set(groups))
    a, b = groups == labels[0], groups == labels[1]
    codes = b.astype(np.int8)  # the same split for both: a 0/1 code here, the mask for lifelines

    def ours():
        return kaplan_meier(durations, events), logrank(durations, events, codes)

    def theirs():
        kmf = KaplanMeierFitter().fit(durations, events)
        test = logrank_test(durations[a], durations[b], event_observed_A=events[a], event_observed_B=events[b])
        return kmf, test

    def ours_with_labels():
        return kaplan_meier(durations, events), logrank(durations, events, groups)

    timings: dict[str, list[float]] = {"outcomes": [], "lifelines": [], "outcomes_labels": []}
    for _ in range(args.repeat):
        for name, run in (("outcomes", ours), ("lifelines", theirs), ("outcomes_labels", ours_with_labels)):
            start = time.perf_counter()
            result = run()
            timings[name].append(time.perf_counter() - start)
            if name == "outcomes":
                km, lr = result
            elif name == "lifelines":
                kmf, test = result
    # The procedures differ so much that both p-values underflow to 0; a random split of the same
    # durations gives a p-value in (0, 1) to compare as well.
    null = np.random.default_rng(2026).random(len(durations)) < 0.5
    null_ours = logrank(durations, events, null.astype(np.int8)).pvalue
    null_theirs = logrank_test(durations[null], durations[~null], event_observed_A=events[null],
                               event_observed_B=events[~null]).p_value
    times = km.table["time"].to_numpy()
    theirs_surv = kmf.survival_function_at_times(times).to_numpy()
    out = {
        "n": int(len(durations)),
        "outcomes_seconds": min(timings["outcomes"]),
        "lifelines_seconds": min(timings["lifelines"]),
        "outcomes_labels_seconds": min(timings["outcomes_labels"]),
        "max_survival_difference": float(np.max(np.abs(km.table["survival"].to_numpy() - theirs_surv))),
        "pvalue_outcomes": float(lr.pvalue),
        "pvalue_lifelines": float(test.p_value),
        "pvalue_difference": float(abs(lr.pvalue - test.p_value)),
        "statistic_relative_difference": float(abs(lr.statistic - test.test_statistic) / test.test_statistic),
        "null_pvalue_outcomes": float(null_ours),
        "null_pvalue_difference": float(abs(null_ours - null_theirs)),
        "lifelines": lifelines.__version__,
        "pandas": pd.__version__,
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
