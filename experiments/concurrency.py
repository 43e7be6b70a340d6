"""Experiment 6, concurrency: the same study (a random search over the learning rate of one fixed
MLP, the same number of trials) run with K trials at once (`mlptune tune --concurrency K`), for K
from 1 to the core count on the CPU, or 1 to 64 on a GPU with --full. Measured: aggregate trials
per second and training samples per second, over the span from the first trial's start to the
last trial's end (from the study export), and the GPU's utilisation where nvidia-smi can read it.

Default and --smallest: the bundled digits set on the CPU. --full: MNIST, meant for a GPU.
Writes concurrency.csv and concurrency.png.

    python3 experiments/concurrency.py --out out/concurrency
"""
import os
import statistics
import subprocess
from datetime import datetime

import common

CORES = os.cpu_count() or 1
SIZES = {
    "smallest": {"dataset": "digits", "hidden": [64], "epochs": 2, "run_cap": 4,
                 "concurrency": sorted({1, min(2, CORES)})},
    "small": {"dataset": "digits", "hidden": [256, 256], "epochs": 10, "run_cap": 16,
              "concurrency": sorted({1, *[k for k in (2, 4, 8, 16) if k <= CORES], CORES})},
    "full": {"dataset": "mnist", "hidden": [256, 256], "epochs": 2, "run_cap": 128,
             "concurrency": [1, 2, 4, 8, 16, 32, 64]},
}
BATCH_SIZE, SEED = 128, 0


def config(context, size, storage):
    return {
        "name": "concurrency",
        "method": "random",
        "metric": {"name": "validation_accuracy", "goal": "maximize"},
        "parameters": {"lr": {"distribution": "log_uniform_values", "min": 1.0e-3, "max": 3.0e-3},
                       "depth": {"value": len(size["hidden"])}, "width": {"value": size["hidden"][0]},
                       "batch_size": {"value": BATCH_SIZE}, "epochs": {"value": size["epochs"]},
                       "optimizer": {"value": "adam"}},
        "run_cap": size["run_cap"],
        "mlptune": {"dataset": size["dataset"], "backend": context.backend, "seed": SEED, "storage": str(storage)},
    }


class GpuSampler:
    """nvidia-smi reading the GPU's utilisation every 200 ms while a study runs, where it exists
    and the study may use the GPU; otherwise it reports "not available"."""

    def __init__(self, context):
        self.process = None
        if context.backend != "cpu" and common.nvidia_smi():
            self.process = subprocess.Popen(
                [common.nvidia_smi(), "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits",
                 "-lms", "200"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def stop(self):
        """(mean %, max %) of the readings, or ("not available", "not available")."""
        if not self.process:
            return "not available", "not available"
        self.process.terminate()
        output, _ = self.process.communicate()
        readings = [float(line.split(",")[0]) for line in output.split() if line.strip().replace(".", "").isdigit()]
        if not readings:
            return "not available", "not available"
        return round(statistics.mean(readings), 1), max(readings)


def train_rows(context, size):
    """Training rows of the data set, from a one-epoch run's metrics file."""
    run = common.train(context, context.out / "runs" / "rows.json", dataset=size["dataset"], hidden="",
                       epochs=1, seed=SEED)
    return run.train_rows


def measure(context, size, concurrency, rows):
    folder = context.out / "studies" / f"k{concurrency}"
    folder.mkdir(parents=True, exist_ok=True)
    storage = folder / "study.db"
    path = common.write_yaml(folder / "study.yaml", config(context, size, storage),
                             "concurrency experiment (written by experiments/concurrency.py)")
    gpu = GpuSampler(context)
    wall = common.tune(context, path, storage, concurrency=concurrency)
    gpu_mean, gpu_max = gpu.stop()
    trials, intermediate = common.export(context, storage, folder / "export")
    parse = lambda text: datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
    span = (max(parse(t["datetime_complete"]) for t in trials) -
            min(parse(t["datetime_start"]) for t in trials)).total_seconds()
    ended = sum(t["state"] in ("COMPLETE", "PRUNED", "FAIL") for t in trials)
    epochs = len(intermediate)
    return {"concurrency": concurrency, "trials": ended, "epochs_trained": epochs,
            "train_rows": rows, "span_seconds": span, "process_seconds": wall,
            "trials_per_second": ended / span, "samples_per_second": epochs * rows / span,
            "gpu_utilisation_mean_pct": gpu_mean, "gpu_utilisation_max_pct": gpu_max,
            "backend": context.backend}


def plot(rows, size, path):
    plt = common.plt
    fig, (trials_ax, samples_ax) = plt.subplots(1, 2, figsize=(12, 4.3))
    ks = [r["concurrency"] for r in rows]
    base = rows[0]
    for ax, key, label in ((trials_ax, "trials_per_second", "trials/s"),
                           (samples_ax, "samples_per_second", "training samples/s")):
        ax.plot(ks, [r[key] for r in rows], "o-", label="measured")
        ax.plot(ks, [base[key] * k / base["concurrency"] for k in ks], "k--", lw=1,
                label="linear from K = 1")
        ax.set_xscale("log", base=2)
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.set_xlabel("trials at once (K)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    utilisation = [r["gpu_utilisation_mean_pct"] for r in rows]
    note = ("GPU utilisation (mean): " + ", ".join(f"K={r['concurrency']}: {u}%" for r, u in zip(rows, utilisation))
            if all(isinstance(u, float) for u in utilisation) else "GPU utilisation: not available")
    trials_ax.set_title("aggregate trials per second")
    samples_ax.set_title("aggregate training samples per second")
    hidden = "-".join(str(w) for w in size["hidden"])
    fig.suptitle(f"Concurrency on {size['dataset']} ({rows[0]['backend']} backend, {CORES} cores): "
                 f"{size['run_cap']} trials of a {hidden} MLP, {size['epochs']} epochs\n{note}", fontsize=10)
    fig.tight_layout()
    return common.save_figure(fig, path)


def run(argv=None):
    args, context = common.parse_context(common.parser(__doc__.split("\n\n")[0], "concurrency"), argv)
    size = context.sized(SIZES)
    rows_per_epoch = train_rows(context, size)
    rows = [measure(context, size, k, rows_per_epoch) for k in size["concurrency"]]
    common.write_csv(context.out / "concurrency.csv", rows)
    print(f"{'K':>3} {'trials':>6} {'span s':>7} {'trials/s':>9} {'samples/s':>11} {'GPU util %':>11}")
    for r in rows:
        print(f"{r['concurrency']:>3} {r['trials']:>6} {r['span_seconds']:>7.2f} {r['trials_per_second']:>9.2f} "
              f"{r['samples_per_second']:>11,.0f} {str(r['gpu_utilisation_mean_pct']):>11}")
    plot(rows, size, context.out / "concurrency.png")
    return rows


if __name__ == "__main__":
    common.main_guard(run)
