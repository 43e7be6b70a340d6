"""Experiment 2, the learning rate: one model (one hidden layer of 128 units, plain SGD) trained
with learning rates from 1e-5 to 10 on a log grid. Too low crawls, the right range converges, too
high oscillates, stalls or diverges (`mlptune train` exits with status 3, "diverged at epoch E,
step S"; such runs are marked, never plotted as numbers).

The model runs twice: with ReLU units, where a too-high step switches the units off (the loss
stalls near ln 10, chance level) but stays finite, and with identity units (a linear network),
where a too-high step is multiplied through the layers until the loss overflows: diverged.

Default and --smallest: the bundled digits set (8x8 images, CPU). --full: MNIST.
Writes learning_rate.csv (one row per learning rate), learning_rate_curves.csv (per epoch) and
learning_rate.png.

    python3 experiments/learning_rate.py --out out/learning_rate
"""
import numpy as np

import common

SIZES = {
    "smallest": {"dataset": "digits", "epochs": 5, "batch_size": 32,
                 "learning_rates": [1e-4, 1e-1, 10.0]},
    "small": {"dataset": "digits", "epochs": 20, "batch_size": 32,
              "learning_rates": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0]},
    "full": {"dataset": "mnist", "epochs": 10, "batch_size": 128,
             "learning_rates": [float(f"{v:.3g}") for v in np.logspace(-5, 1, 13)]},
}
HIDDEN = "128"
ACTIVATIONS = ["relu", "identity"]
SEED = 0
SLACK = 0.05  # within 5 accuracy points of the best learning rate counts as "right"


def train_one(context, size, activation, learning_rate):
    run = common.train(context, context.out / "runs" / f"{activation}_lr{learning_rate:g}.json",
                       dataset=size["dataset"], hidden=HIDDEN, activation=activation, optimizer="sgd",
                       lr=learning_rate, epochs=size["epochs"], batch_size=size["batch_size"], seed=SEED)
    return learning_rate, run


def regimes(results):
    """Labels each run of one series: diverged, too low (crawls), right, or too high, judged by
    final validation accuracy against the series' best learning rate."""
    finished = {lr: run.last("validation_accuracy") for lr, run in results if not run.diverged}
    best_lr = max(finished, key=finished.get)
    labels = {}
    for lr, run in results:
        if run.diverged:
            labels[lr] = "diverged"
        elif finished[lr] >= finished[best_lr] - SLACK:
            labels[lr] = "right"
        else:
            labels[lr] = "too low (crawls)" if lr < best_lr else "too high"
    return labels


def rows_of(activation, results, labels):
    rows, curves = [], []
    for lr, run in results:
        diverged_at = run.epochs[-1]["epoch"] if run.diverged else None
        rows.append({"activation": activation, "lr": lr, "status": run.result["status"], "regime": labels[lr],
                     "epochs_run": run.result["epochs"], "diverged_at_epoch": diverged_at,
                     "final_train_loss": None if run.diverged else run.last("train_loss"),
                     "final_validation_accuracy": None if run.diverged else run.last("validation_accuracy"),
                     "test_accuracy": None if run.diverged else run.result["test"]["accuracy"],
                     "message": run.result["message"]})
        for epoch in run.epochs:
            healthy = epoch["status"] != "diverged"
            curves.append({"activation": activation, "lr": lr, "epoch": epoch["epoch"], "status": epoch["status"],
                           "train_loss": epoch["train_loss"] if healthy else None,
                           "validation_accuracy": epoch["validation_accuracy"] if healthy else None})
    return rows, curves


def plot_curves(ax, activation, results, labels):
    """Training loss per epoch, one line per learning rate; diverged runs end in an X at the top.
    Finite losses far above the starting loss (a run blowing up) are drawn clipped, as a triangle."""
    colors = common.plt.cm.plasma(np.linspace(0, 0.9, len(results)))
    first = [run.epochs[0]["train_loss"] for _, run in results
             if run.epochs and run.epochs[0]["train_loss"] is not None and run.epochs[0]["status"] != "diverged"]
    ceiling = 30 * float(np.median(first))
    diverged = 0
    for (lr, run), color in zip(results, colors):
        healthy = [e for e in run.epochs if e["status"] != "diverged" and e["train_loss"] is not None]
        label = f"lr {lr:g}: {labels[lr]}"
        if healthy:
            losses = [min(e["train_loss"], ceiling) for e in healthy]
            ax.plot([e["epoch"] for e in healthy], losses, "o-", ms=3, color=color, label=label)
            clipped = [e["epoch"] for e in healthy if e["train_loss"] > ceiling]
            ax.plot(clipped, [ceiling] * len(clipped), "^", ms=9, color=color, ls="none")
        if run.diverged:
            epoch = run.epochs[-1]["epoch"]
            ax.plot([epoch], [0.93], marker="X", ms=11, color=color, ls="none",
                    transform=ax.get_xaxis_transform(), label=None if healthy else label)
            ax.annotate(f"lr {lr:g}: diverged at epoch {epoch}", (epoch, 0.93),
                        xycoords=("data", "axes fraction"), xytext=(10, -4 - 11 * diverged),
                        textcoords="offset points", fontsize=7, color=color)
            diverged += 1
    ax.set_yscale("log")
    ax.set_ylim(top=ceiling * 3)
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (cross-entropy)")
    ax.set_title(f"{activation} units: loss curves\n(X: diverged, run stopped; triangle: loss above {ceiling:.0f}, clipped)",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower left")


def plot(series, labels, size, path):
    plt = common.plt
    fig, axes = plt.subplots(1, len(series) + 1, figsize=(6 * (len(series) + 1), 4.8))
    for ax, (activation, results) in zip(axes, series.items()):
        plot_curves(ax, activation, results, labels[activation])
    final = axes[-1]
    for (activation, results), color in zip(series.items(), ["tab:blue", "tab:green"]):
        ok = [(lr, run.last("validation_accuracy")) for lr, run in results if not run.diverged]
        bad = [lr for lr, run in results if run.diverged]
        final.plot([lr for lr, _ in ok], [a for _, a in ok], "o-", color=color, label=f"{activation}")
        if bad:
            final.plot(bad, [0.0] * len(bad), "X", ms=11, color=color, ls="none",
                       label=f"{activation}: diverged (no accuracy)")
    final.set_xscale("log")
    final.set_ylim(-0.05, 1.05)
    final.set_xlabel("learning rate (log scale)")
    final.set_ylabel("validation accuracy")
    final.set_title(f"final validation accuracy after {size['epochs']} epochs")
    final.grid(alpha=0.3)
    final.legend(fontsize=8)
    fig.suptitle(f"Learning rate on {size['dataset']}: SGD, hidden {HIDDEN}, batch {size['batch_size']}")
    fig.tight_layout()
    return common.save_figure(fig, path)


def run(argv=None):
    args, context = common.parse_context(common.parser(__doc__.split("\n\n")[0], "learning_rate"), argv)
    size = context.sized(SIZES)
    series = {a: [train_one(context, size, a, lr) for lr in size["learning_rates"]] for a in ACTIVATIONS}
    labels = {a: regimes(results) for a, results in series.items()}
    rows, curves = [], []
    for activation, results in series.items():
        more_rows, more_curves = rows_of(activation, results, labels[activation])
        rows += more_rows
        curves += more_curves
    common.write_csv(context.out / "learning_rate.csv", rows)
    common.write_csv(context.out / "learning_rate_curves.csv", curves)
    print(f"{'units':<9} {'lr':>8} {'regime':<17} {'train loss':>10} {'val acc':>8}  message")
    for r in rows:
        loss = "-" if r["final_train_loss"] is None else f"{r['final_train_loss']:.4f}"
        accuracy = "-" if r["final_validation_accuracy"] is None else f"{r['final_validation_accuracy']:.4f}"
        print(f"{r['activation']:<9} {r['lr']:>8g} {r['regime']:<17} {loss:>10} {accuracy:>8}  {r['message']}")
    plot(series, labels, size, context.out / "learning_rate.png")
    return rows


if __name__ == "__main__":
    common.main_guard(run)
