"""Experiment 3, the batch size: one model (one hidden layer of 128 ReLU units, plain SGD) trained
with batch sizes from 8 to 4096, twice: with one fixed learning rate, and with the learning rate
scaled with the batch size (the linear scaling rule, lr = BASE_LR * batch / BASE_BATCH). Measured:
training samples/s (from the metrics file), wall time to a target validation accuracy, and the
validation accuracy after a fixed number of epochs.

Default: MNIST for 3 epochs and six batch sizes (about a minute on 2 cores); --smallest: the
bundled digits set (too small to time well, a smoke test); --full: MNIST, 10 epochs, every power
of two. Time to target counts training seconds (the epochs' own timings, without data loading).
Writes batch_size.csv and batch_size.png.

    python3 experiments/batch_size.py --out out/batch_size
"""
import statistics

import common

POWERS_OF_TWO = [2 ** k for k in range(3, 13)]  # 8 .. 4096
SIZES = {
    "smallest": {"dataset": "digits", "epochs": 5, "target": 0.90, "batch_sizes": [8, 128, 4096]},
    "small": {"dataset": "mnist", "epochs": 3, "target": 0.93, "batch_sizes": [8, 32, 128, 512, 2048, 4096]},
    "full": {"dataset": "mnist", "epochs": 10, "target": 0.97, "batch_sizes": POWERS_OF_TWO},
}
HIDDEN = "128"
BASE_LR, BASE_BATCH = 0.1, 128
SEED = 0
MODES = {  # name: learning rate for a batch size
    "fixed lr": lambda batch: BASE_LR,
    "scaled lr": lambda batch: BASE_LR * batch / BASE_BATCH,
}


def seconds_to_target(run, target):
    """Training seconds until the validation accuracy first reached `target` (None: never)."""
    elapsed = 0.0
    for epoch in run.epochs:
        elapsed += epoch["seconds"]
        accuracy = epoch["validation_accuracy"]
        if epoch["status"] != "diverged" and accuracy is not None and accuracy >= target:
            return elapsed
    return None


def measure(context, size, mode, batch):
    lr = MODES[mode](batch)
    run = common.train(context, context.out / "runs" / f"{mode.split()[0]}_b{batch}.json",
                       dataset=size["dataset"], hidden=HIDDEN, optimizer="sgd", lr=lr,
                       epochs=size["epochs"], batch_size=batch, seed=SEED)
    speeds = [e["samples_per_second"] for e in run.epochs if e["status"] != "diverged"]
    steady = speeds[1:] or speeds  # the first epoch includes warm-up
    return {"mode": mode, "batch_size": batch, "lr": lr, "status": run.result["status"],
            "steps": run.last("step"),
            "samples_per_second": statistics.median(steady) if steady else None,
            "seconds_to_target": None if run.diverged else seconds_to_target(run, size["target"]),
            "target_accuracy": size["target"], "epochs": size["epochs"],
            "final_validation_accuracy": None if run.diverged else run.last("validation_accuracy"),
            "train_seconds": run.result["seconds"], "message": run.result["message"]}


def plot(rows, size, path):
    plt = common.plt
    fig, (speed, time_ax, accuracy) = plt.subplots(1, 3, figsize=(15, 4.3))
    styles = {"fixed lr": ("o-", "tab:blue"), "scaled lr": ("s--", "tab:orange")}
    for mode, (style, color) in styles.items():
        runs = [r for r in rows if r["mode"] == mode]
        label = f"{mode} ({BASE_LR:g})" if mode == "fixed lr" else \
            f"{mode} ({BASE_LR:g} x batch/{BASE_BATCH})"
        pts = [r for r in runs if r["samples_per_second"]]
        speed.plot([r["batch_size"] for r in pts], [r["samples_per_second"] for r in pts], style,
                   color=color, label=label)
        pts = [r for r in runs if r["seconds_to_target"] is not None]
        time_ax.plot([r["batch_size"] for r in pts], [r["seconds_to_target"] for r in pts], style,
                     color=color, label=label)
        pts = [r for r in runs if r["final_validation_accuracy"] is not None]
        accuracy.plot([r["batch_size"] for r in pts], [r["final_validation_accuracy"] for r in pts],
                      style, color=color, label=label)
        missed = [r["batch_size"] for r in runs if r["seconds_to_target"] is None and r["status"] != "diverged"]
        diverged = [r["batch_size"] for r in runs if r["status"] == "diverged"]
        for ax in (time_ax, accuracy):
            if diverged:
                ax.plot(diverged, [0.02] * len(diverged), "X", ms=10, color=color,
                        transform=ax.get_xaxis_transform(), label=f"{mode}: diverged")
        if missed:
            time_ax.plot(missed, [0.97] * len(missed), "v", ms=8, color=color,
                         transform=time_ax.get_xaxis_transform(),
                         label=f"{mode}: target not reached")
    for ax in (speed, time_ax, accuracy):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    speed.set_yscale("log")
    speed.set_ylabel("training samples/s")
    speed.set_title("throughput")
    time_ax.set_yscale("log")
    time_ax.set_ylabel("seconds")
    time_ax.set_title(f"training time to {size['target']:.0%} validation accuracy")
    accuracy.set_ylim(-0.05, 1.05)
    accuracy.set_ylabel("validation accuracy")
    accuracy.set_title(f"accuracy after {size['epochs']} epochs")
    fig.suptitle(f"Batch size on {size['dataset']}: SGD, hidden {HIDDEN}")
    fig.tight_layout()
    return common.save_figure(fig, path)


def run(argv=None):
    args, context = common.parse_context(common.parser(__doc__.split("\n\n")[0], "batch_size"), argv)
    size = context.sized(SIZES)
    rows = [measure(context, size, mode, batch) for mode in MODES for batch in size["batch_sizes"]]
    common.write_csv(context.out / "batch_size.csv", rows)
    print(f"{'mode':<10} {'batch':>5} {'lr':>8} {'samples/s':>10} {'s to target':>11} {'val acc':>8}")
    for r in rows:
        speed = f"{r['samples_per_second']:,.0f}" if r["samples_per_second"] else "-"
        to_target = f"{r['seconds_to_target']:.2f}" if r["seconds_to_target"] is not None else "-"
        accuracy = f"{r['final_validation_accuracy']:.4f}" if r["final_validation_accuracy"] is not None \
            else r["status"]
        print(f"{r['mode']:<10} {r['batch_size']:>5} {r['lr']:>8g} {speed:>10} {to_target:>11} {accuracy:>8}")
    plot(rows, size, context.out / "batch_size.png")
    return rows


if __name__ == "__main__":
    common.main_guard(run)
