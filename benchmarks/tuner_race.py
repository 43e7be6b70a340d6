#!/usr/bin/env python3
"""Time to a good model: `mlptune tune` against Optuna driving PyTorch on the CPU, side by side.

Every study searches the same space (lr log-uniform 1e-4..1e-1, batch size 64..512, depth 1..3,
width 128..1024, Adam, 10 epochs) with TPE and a median pruner (5 startup trials, the first epoch
never judged), on the same train/validation split with the same scaling, for the same wall-clock
budget. The systems:

  mlptune        `mlptune tune` with its own CPU defaults (concurrency and threads chosen by it)
  optuna         Optuna's TPESampler + MedianPruner driving PyTorch, one trial at a time with
                 torch's default thread count, as Optuna's and PyTorch's tutorials write it
  optuna-jobs    the same with study.optimize(n_jobs=cores) and one torch thread per trial

A trial's value is its last epoch's validation accuracy on both sides. For each dataset, system and
study seed the script records when each trial finished; it prints the best validation accuracy of
the finished trials at 30, 60, 120 and 300 s (within the budget), the time to the target accuracy,
and per system the median and range over the seeds, with the ratio of the medians against mlptune.

Clocks: mlptune's time runs from the launch of its process (start, data load and search included);
Optuna's from the start of its study inside an already started Python process, after `import
torch`, with the data load included (which favours Optuna by its interpreter start and imports).
"""
import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = (30, 60, 120, 300)
TARGETS = {"mnist": 0.975, "digits": 0.97}
EPOCHS = 10
BATCH_SIZES = [64, 128, 256, 512]
WIDTHS = [128, 256, 512, 1024]
MEDIAN_STARTUP_TRIALS = 5
MEDIAN_WARMUP_EPOCHS = 1

STUDY_YAML = """\
name: race-{dataset}-{seed}
method: bayes
metric: {{name: validation_accuracy, goal: maximize}}
parameters:
  lr: {{distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-1}}
  batch_size: {{values: {batch_sizes}}}
  depth: {{distribution: int_uniform, min: 1, max: 3}}
  width: {{values: {widths}}}
  epochs: {{value: {epochs}}}
  optimizer: {{value: adam}}
early_terminate: {{type: median, startup_trials: {startup}, warmup_epochs: {warmup}}}
{run_cap}mlptune: {{dataset: {dataset}, backend: cpu, seed: {seed}}}
"""


# --- The split and scaling mlptune uses, reproduced so that both sides train on the same rows ---

def mix64(x):
    """SplitMix64's finaliser on uint64 arrays (src/common/counter_rng.hpp), wrapping like C++."""
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def seeded_permutation(rows, seed):
    """Rows ordered by hash(seed, SPLIT stream, row), as src/data/split_scale.cpp orders them."""
    split_stream = np.uint64(0x53504C4954)
    keys = mix64(mix64(mix64(np.array([seed], np.uint64)) ^ split_stream) ^ np.arange(rows, dtype=np.uint64))
    return np.lexsort((np.arange(rows), keys))  # ties (never seen) fall back to the row index


def llround(x):
    """C's llround for x >= 0: halves away from zero (Python's round() goes to even)."""
    return int(np.floor(x + 0.5))


def load_mnist_train():
    folder = ROOT / "datasets/mnist"
    with gzip.open(folder / "train-images-idx3-ubyte.gz") as f:
        x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784).astype(np.float64)
    with gzip.open(folder / "train-labels-idx1-ubyte.gz") as f:
        y = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
    return x, y


def load_digits():
    with gzip.open(ROOT / "datasets/sklearn/digits.csv.gz", "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    return table[:, :-1], table[:, -1].astype(np.int64)


def mlptune_split(dataset, split_seed=0, validation_fraction=0.1, test_fraction=0.2):
    """(x_train, y_train, x_validation, y_validation) as float32/int64, exactly mlptune's rows and
    scaling for the dataset: MNIST keeps its own test file, so validation is 10% of its 60,000
    training rows, scaled min-max per column; digits holds out 20% for test and then 10% of the
    rest for validation, standardised per column. Both fitted on the training split only."""
    if dataset == "mnist":
        x, y = load_mnist_train()
        test = 0
    else:
        x, y = load_digits()
        test = llround(test_fraction * len(y))
    order = seeded_permutation(len(y), split_seed)
    validation = llround(validation_fraction * (len(y) - test))
    val_rows = np.sort(order[test:test + validation])
    train_rows = np.sort(order[test + validation:])
    x_train = x[train_rows]
    if dataset == "mnist":
        low, spread = x_train.min(axis=0), x_train.max(axis=0) - x_train.min(axis=0)
    else:
        low, spread = x_train.mean(axis=0), x_train.std(axis=0)
    # As set_affine and apply_columns: the scale in double, the offset from it, both stored as
    # float32, then fma(x, scale, offset) (here in double: the float32 product is exact there).
    scale64 = np.where(spread > 0, 1.0 / np.where(spread > 0, spread, 1.0), 0.0)
    scale, offset = scale64.astype(np.float32), (-low * scale64).astype(np.float32)
    scaled = lambda rows: (x[rows].astype(np.float32).astype(np.float64) * scale.astype(np.float64)  # noqa: E731
                           + offset.astype(np.float64)).astype(np.float32)
    return scaled(train_rows), y[train_rows], scaled(val_rows), y[val_rows]


# --- mlptune ---

def run_mlptune(binary, dataset, seed, seconds, run_cap, extra_args=()):
    """Runs one study in a fresh SQLite file; returns the finished trials as (seconds, value, state)."""
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "study.yaml"
        config.write_text(STUDY_YAML.format(dataset=dataset, seed=seed, batch_sizes=BATCH_SIZES, widths=WIDTHS,
                                             epochs=EPOCHS, startup=MEDIAN_STARTUP_TRIALS, warmup=MEDIAN_WARMUP_EPOCHS,
                                             run_cap=f"run_cap: {run_cap}\n" if run_cap else ""))
        storage = Path(tmp) / "study.db"
        launched = time.time()
        subprocess.run([binary, "tune", str(config), "--storage", str(storage), "--timeout", f"{seconds}s",
                        *extra_args],
                       check=True, stdout=subprocess.DEVNULL)
        subprocess.run([binary, "export", str(storage), "--out", f"{tmp}/export"], check=True,
                       stdout=subprocess.DEVNULL)
        trials = json.loads(Path(f"{tmp}/export/trials.json").read_text())
    finished = []
    for trial in trials:
        if trial["state"] not in ("COMPLETE", "PRUNED") or not trial.get("datetime_complete"):
            continue
        at = datetime.fromisoformat(trial["datetime_complete"]).timestamp() - launched
        finished.append((at, trial["value"] if trial["state"] == "COMPLETE" else None, trial["state"]))
    return sorted(finished, key=lambda t: t[0])


# --- Optuna + PyTorch ---

def run_optuna(dataset, seed, seconds, run_cap, jobs):
    """One Optuna study in this process; jobs > 1 runs study.optimize(n_jobs=jobs), 1 torch thread each."""
    import optuna
    import torch

    if jobs > 1:
        torch.set_num_threads(1)
    start = time.perf_counter()
    x_train, y_train, x_val, y_val = (torch.from_numpy(a) for a in mlptune_split(dataset))
    classes = int(y_train.max()) + 1
    finished = []

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        batch_size = trial.suggest_categorical("batch_size", BATCH_SIZES)
        depth = trial.suggest_int("depth", 1, 3)
        width = trial.suggest_categorical("width", WIDTHS)
        torch.manual_seed(seed * 100003 + trial.number)
        widths = [x_train.shape[1]] + [width] * depth
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(widths[-1], classes))
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        loss_fn = torch.nn.CrossEntropyLoss()
        accuracy = 0.0
        for epoch in range(EPOCHS):
            model.train()
            order = torch.randperm(len(y_train))
            for first in range(0, len(order), batch_size):
                rows = order[first:first + batch_size]
                optimizer.zero_grad(set_to_none=True)
                loss_fn(model(x_train[rows]), y_train[rows]).backward()
                optimizer.step()
            model.eval()
            with torch.no_grad():
                accuracy = (model(x_val).argmax(dim=1) == y_val).float().mean().item()
            if time.perf_counter() - start > seconds:  # past the budget: this trial does not count
                trial.study.stop()
                raise optuna.TrialPruned()
            trial.report(accuracy, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return accuracy

    def record(study, trial):
        if trial.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
            if time.perf_counter() - start <= seconds:
                finished.append((time.perf_counter() - start, trial.value, trial.state.name))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=MEDIAN_STARTUP_TRIALS,
                                           n_warmup_steps=MEDIAN_WARMUP_EPOCHS))
    study.optimize(objective, n_trials=run_cap, timeout=seconds, n_jobs=jobs, callbacks=[record])
    return sorted(finished, key=lambda t: t[0])


# --- The race ---

def best_at(finished, at):
    values = [v for t, v, state in finished if t <= at and state == "COMPLETE" and v is not None]
    return max(values) if values else None


def time_to(finished, target):
    for t, v, state in finished:
        if state == "COMPLETE" and v is not None and v >= target:
            return t
    return None


def text(value, form):
    return "-" if value is None else format(value, form)


def summary(values, form, missing_rank):
    """median [low, high] of the values that exist, with how many are missing. A missing value ranks
    as missing_rank: inf for a time to target (later than any seen one, ">budget"), -inf for an
    accuracy (lower than any, "none")."""
    present = sorted(v for v in values if v is not None)
    if not present:
        return "-"
    missing = len(values) - len(present)
    median = statistics.median(present + [missing_rank] * missing)
    spread = f"[{format(present[0], form)}, {format(present[-1], form)}]"
    missing_text = ">budget" if missing_rank > 0 else "none"
    return (missing_text if median == missing_rank else format(median, form)) + " " + spread + \
        (f" ({missing} none)" if missing else "")


def median_or_none(values):
    ranked = sorted(float("inf") if v is None else v for v in values)
    return statistics.median(ranked) if ranked else None


def one_study(args, system, dataset, seed):
    run_cap = args.digits_run_cap if dataset == "digits" else 0
    if system == "mlptune":
        return run_mlptune(args.mlptune, dataset, seed, args.seconds, run_cap, args.mlptune_args.split())
    # A fresh Python process per Optuna study, so that no thread pool or cache carries over.
    jobs = args.cores if system == "optuna-jobs" else 1
    out = subprocess.run([sys.executable, __file__, "--optuna-study", dataset, str(seed), str(jobs),
                          "--seconds", str(args.seconds), "--digits-run-cap", str(args.digits_run_cap)],
                         check=True, capture_output=True, text=True).stdout
    return [tuple(row) for row in json.loads(out)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlptune", default=str(ROOT / "build/mlptune"), help="the mlptune binary")
    parser.add_argument("--mlptune-args", default="", help="more flags for mlptune tune, e.g. '--concurrency 1'")
    parser.add_argument("--datasets", default="mnist,digits", help="comma-separated: mnist, digits")
    parser.add_argument("--systems", default="mlptune,optuna,optuna-jobs")
    parser.add_argument("--seeds", default="0,1,2", help="study seeds (the sampler's and the trials')")
    parser.add_argument("--seconds", type=float, default=300, help="each study's wall-clock budget")
    parser.add_argument("--digits-run-cap", type=int, default=100,
                        help="trials per digits study (its trials take well under a second)")
    parser.add_argument("--cores", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--json", type=Path, help="also write every study's finished trials here")
    parser.add_argument("--optuna-study", nargs=3, metavar=("DATASET", "SEED", "JOBS"), help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.optuna_study:
        dataset, seed, jobs = args.optuna_study
        print(json.dumps(run_optuna(dataset, int(seed), args.seconds, args.digits_run_cap if dataset == "digits"
                                    else None, int(jobs))))
        return

    systems = args.systems.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    checkpoints = [c for c in CHECKPOINTS if c <= args.seconds]
    results = {}
    for dataset in args.datasets.split(","):
        target = TARGETS[dataset]
        print(f"\n{dataset}: target validation accuracy {target}, budget {args.seconds:g} s per study, "
              f"{args.cores} cores")
        header = f"{'system':<12} {'seed':>4} {'trials':>6} " + \
            " ".join(f"{'best@' + str(c) + 's':>9}" for c in checkpoints) + f" {'to target':>10}"
        print(header, flush=True)
        for system in systems:
            for seed in seeds:
                finished = one_study(args, system, dataset, seed)
                results[(dataset, system, seed)] = finished
                print(f"{system:<12} {seed:>4} {len(finished):>6} " +
                      " ".join(f"{text(best_at(finished, c), '.4f'):>9}" for c in checkpoints) +
                      f" {text(time_to(finished, target), '.1f'):>9}s", flush=True)
        print(f"\n{dataset}, median [range] over seeds {args.seeds}:")
        for system in systems:
            runs = [results[(dataset, system, s)] for s in seeds]
            line = f"  {system:<12} " + "  ".join(
                f"@{c}s {summary([best_at(r, c) for r in runs], '.4f', float('-inf'))}" for c in checkpoints)
            print(line + f"  to {target}: {summary([time_to(r, target) for r in runs], '.1f', float('inf'))} s")
        if "mlptune" in systems:
            ours = median_or_none([time_to(results[(dataset, 'mlptune', s)], target) for s in seeds])
            for system in systems:
                if system == "mlptune":
                    continue
                theirs = median_or_none([time_to(results[(dataset, system, s)], target) for s in seeds])
                ratio = "-" if ours in (None, float("inf")) or theirs is None else \
                    ("inf" if theirs == float("inf") else f"{theirs / ours:.2f}x")
                print(f"  time to {target}: {system} / mlptune = {ratio} (median of {len(seeds)} seeds; "
                      "target >= 2x)")
    if args.json:
        args.json.write_text(json.dumps({"|".join(map(str, k)): v for k, v in results.items()}))


if __name__ == "__main__":
    main()
