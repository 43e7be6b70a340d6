#!/usr/bin/env python3
"""Benchmark (not a test): milliseconds per Optuna TPESampler suggestion on the history that
bench_tpe_suggest wrote, timed the way it times mlptune (the same 100 and 1,000 finished trials).

    python3 benchmarks/tpe_optuna.py tpe_history.json
"""
import json
import sys
import time

import optuna


def distribution(spec):
    if spec["type"] == "float":
        return optuna.distributions.FloatDistribution(spec["low"], spec["high"], log=spec["log"])
    if spec["type"] == "int":
        return optuna.distributions.IntDistribution(spec["low"], spec["high"])
    return optuna.distributions.CategoricalDistribution(spec["choices"])


def study_with(history, distributions, finished):
    # The same defaults as mlptune's sampler: seed, constant liar, 10 start-up trials, 24 candidates.
    sampler = optuna.samplers.TPESampler(seed=1, constant_liar=True)
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.add_trials(
        optuna.trial.create_trial(params=trial["params"], distributions=distributions, value=trial["value"])
        for trial in history["trials"][:finished]
    )
    return study


def milliseconds_per_suggestion(history, distributions, finished, repeats):
    study = study_with(history, distributions, finished)

    def suggest():
        trial = study.ask(fixed_distributions=distributions)
        # Failed trials are ignored by TPE, so every suggestion sees the same finished trials.
        return trial

    def discard(trial):
        study.tell(trial, state=optuna.trial.TrialState.FAIL)

    discard(suggest())  # warm-up
    total = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        trial = suggest()
        total += time.perf_counter() - start
        discard(trial)
    return 1000.0 * total / repeats


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tpe_history.json"
    with open(path) as file:
        history = json.load(file)
    distributions = {spec["name"]: distribution(spec) for spec in history["parameters"]}
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print(f"optuna {optuna.__version__} TPESampler (defaults: multivariate, constant_liar=True), seed 1")
    for finished, repeats in ((100, 50), (1000, 20)):
        ms = milliseconds_per_suggestion(history, distributions, finished, repeats)
        print(f"optuna TPE after {finished:4d} trials: {ms:.4f} ms per suggestion")


if __name__ == "__main__":
    main()
