# Benchmark: a 40-trial TPE search on digits, run by `mlptune tune` and by Optuna with a NumPy MLP.
#
# Both sides search the same space (benchmarks/digits_search.yaml), train Adam ReLU MLPs
# for the same epochs on the same kind of split, evaluate validation accuracy after every epoch,
# run the same number of trials at once (one per core, each single-threaded), and record the last
# epoch's validation accuracy as the trial's value. Printed: wall seconds, best validation
# accuracy, and the wall-time ratio.
#
# Wall time: for mlptune, the whole `mlptune tune` process (start, data load, search); for
# Optuna, data load, split and search inside this process (interpreter start and imports are not
# counted, which favours Optuna slightly).
import argparse
import csv
import gzip
import os
import subprocess
import tempfile
import time
from pathlib import Path

# One BLAS thread per trial on the Optuna side, as mlptune gives one core to each trial; this must
# be set before NumPy loads its BLAS.
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import numpy as np  # noqa: E402
import optuna  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks/digits_search.yaml"
DIGITS = ROOT / "datasets/sklearn/digits.csv.gz"
TRIALS = 40  # the config's run_cap
EPOCHS = 10  # the config's epochs


def run_mlptune(binary, workers):
    """Runs the study in a fresh SQLite file; returns (wall seconds, best validation accuracy)."""
    with tempfile.TemporaryDirectory() as tmp:
        storage = Path(tmp) / "study.db"
        start = time.perf_counter()
        subprocess.run([binary, "tune", str(CONFIG), "--storage", str(storage), "--quiet",
                        "--concurrency", str(workers)], check=True, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - start
        subprocess.run([binary, "export", str(storage), "--out", f"{tmp}/export"], check=True,
                       stdout=subprocess.DEVNULL)
        with open(f"{tmp}/export/trials.csv", newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["state"] == "COMPLETE"]
    return wall, max(float(r["value"]) for r in rows), len(rows)


def load_split(seed=0, test_fraction=0.2, validation_fraction=0.1):
    """Digits as mlptune splits it: a seeded shuffle, 20% test, then 10% of the rest for
    validation, the remainder for training; per-column standard scaling fitted on train."""
    with gzip.open(DIGITS, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    x, y = table[:, :-1], table[:, -1].astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(np.floor(test_fraction * len(y) + 0.5))
    n_val = int(np.floor(validation_fraction * (len(y) - n_test) + 0.5))
    val, train = order[n_test:n_test + n_val], order[n_test + n_val:]
    mean, std = x[train].mean(axis=0), x[train].std(axis=0)
    std[std == 0] = 1.0  # constant pixels stay at zero
    scale = lambda rows: ((x[rows] - mean) / std).astype(np.float32)  # noqa: E731
    return scale(train), y[train], scale(val), y[val]


class MLP:
    """ReLU MLP with He-initialised weights, softmax cross-entropy and Adam."""

    def __init__(self, sizes, rng, lr, beta1=0.9, beta2=0.999, eps=1e-8):
        self.params = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            w = rng.standard_normal((fan_in, fan_out)).astype(np.float32) * np.sqrt(2.0 / fan_in)
            self.params += [w, np.zeros(fan_out, np.float32)]
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.lr, self.beta1, self.beta2, self.eps, self.t = lr, beta1, beta2, eps, 0

    def forward(self, x):
        """Returns the logits and every layer's input (for the backward pass)."""
        inputs = [x]
        for i in range(0, len(self.params), 2):
            x = x @ self.params[i] + self.params[i + 1]
            if i + 2 < len(self.params):
                x = np.maximum(x, 0)
                inputs.append(x)
        return x, inputs

    def step(self, x, y):
        """One Adam step on the mean cross-entropy of a mini-batch."""
        logits, inputs = self.forward(x)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(y)), y] -= 1
        delta = p / len(y)  # d(loss)/d(logits)
        grads = [None] * len(self.params)
        for i in reversed(range(0, len(self.params), 2)):
            grads[i], grads[i + 1] = inputs[i // 2].T @ delta, delta.sum(axis=0)
            if i > 0:
                delta = (delta @ self.params[i].T) * (inputs[i // 2] > 0)
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step = self.lr * np.sqrt(1 - b2 ** self.t) / (1 - b1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            p -= step * m / (np.sqrt(v) + self.eps)

    def accuracy(self, x, y):
        return float((self.forward(x)[0].argmax(axis=1) == y).mean())


def run_optuna(workers):
    """Runs the same search with Optuna's TPE; returns (wall seconds, best accuracy, trials)."""
    start = time.perf_counter()
    x_train, y_train, x_val, y_val = load_split()
    classes = int(y_train.max()) + 1

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        depth = trial.suggest_categorical("depth", [1, 2])
        width = trial.suggest_categorical("width", [32, 64, 128])
        batch = trial.suggest_categorical("batch_size", [32, 64, 128])
        rng = np.random.default_rng(trial.number)  # each trial's seed follows from its number
        model = MLP([x_train.shape[1]] + [width] * depth + [classes], rng, lr)
        for epoch in range(1, EPOCHS + 1):
            order = rng.permutation(len(y_train))
            for i in range(0, len(order), batch):  # the last, partial batch included
                rows = order[i:i + batch]
                model.step(x_train[rows], y_train[rows])
            accuracy = model.accuracy(x_val, y_val)
            trial.report(accuracy, epoch)  # per-epoch values, as mlptune records them
        return accuracy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=TRIALS, n_jobs=workers)
    return time.perf_counter() - start, study.best_value, len(study.trials)


def main():
    parser = argparse.ArgumentParser(description="mlptune tune against Optuna on digits")
    parser.add_argument("--mlptune", default=str(ROOT / "build/mlptune"), help="the mlptune binary")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)),
                        help="trials at once on both sides (default: one per core)")
    args = parser.parse_args()

    ours = run_mlptune(args.mlptune, args.workers)
    theirs = run_optuna(args.workers)
    print(f"{'system':<22} {'trials':>6} {'wall s':>8} {'best val acc':>13}")
    print(f"{'mlptune tune (C++)':<22} {ours[2]:>6} {ours[0]:>8.2f} {ours[1]:>13.4f}")
    print(f"{'Optuna + NumPy MLP':<22} {theirs[2]:>6} {theirs[0]:>8.2f} {theirs[1]:>13.4f}")
    print(f"workers: {args.workers} trials at once, 1 thread each; epochs: {EPOCHS}; "
          f"wall-time ratio Optuna / mlptune: {theirs[0] / ours[0]:.2f}x")


if __name__ == "__main__":
    main()
