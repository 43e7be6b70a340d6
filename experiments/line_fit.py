"""Experiment 1, parameters versus hyperparameters: fit y = a*x + b (the bundled `line` set:
a = 2, b = 1, noise 0.1) with a model that has no hidden layer, for a few learning rates and
epoch counts. a and b are the model's two parameters, read back from the saved safetensors file;
the learning rate, epochs, batch size and optimizer are hyperparameters.

Writes line_fit.csv (every run), line_table.md (the parameter/hyperparameter table of the best
run) and line_fit.png.

    python3 experiments/line_fit.py --out out/line
"""
import numpy as np
from safetensors.numpy import load_file

import common

TRUE_SLOPE, TRUE_INTERCEPT = 2.0, 1.0  # include/mlptune/data.hpp, LineSpec
BATCH_SIZE = 32
SEED = 0
SIZES = {
    "smallest": {"learning_rates": [0.01, 0.1], "epochs": [1, 5, 20]},
    "small": {"learning_rates": [0.001, 0.01, 0.1, 0.5], "epochs": [1, 2, 5, 10, 20, 50]},
    "full": {"learning_rates": [0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0],
             "epochs": [1, 2, 5, 10, 20, 50, 100, 200]},
}


def fit(context, learning_rate, epochs):
    """Trains the linear model; returns one row: the learned a and b and the run's numbers."""
    stem = context.out / "runs" / f"lr{learning_rate:g}_e{epochs}"
    run = common.train(context, f"{stem}.json", dataset="line", hidden="", loss="mse",
                       optimizer="sgd", lr=learning_rate, epochs=epochs, batch_size=BATCH_SIZE,
                       seed=SEED, save=f"{stem}.safetensors")
    tensors = load_file(f"{stem}.safetensors")
    weight, bias = tensors["layers.0.weight"], tensors["layers.0.bias"]  # (1, 1) and (1)
    assert weight.shape == (1, 1) and bias.shape == (1,), (weight.shape, bias.shape)
    return {"lr": learning_rate, "epochs": epochs, "batch_size": BATCH_SIZE, "optimizer": "sgd",
            "seed": SEED, "steps": run.last("step"), "status": run.result["status"],
            "a": float(weight[0, 0]), "b": float(bias[0]),
            "a_error_pct": 100 * abs(weight[0, 0] - TRUE_SLOPE) / TRUE_SLOPE,
            "b_error_pct": 100 * abs(bias[0] - TRUE_INTERCEPT) / TRUE_INTERCEPT,
            "validation_rmse": run.last("validation_rmse"),
            "train_rows": run.train_rows}


def table(best):
    """The parameter / hyperparameter table, filled with one run's values."""
    learned = (f"learned from data, updated at every one of the {best['steps']} steps "
               f"({best['epochs']} epochs x {best['train_rows']} rows / batch {best['batch_size']})")
    fixed = "hyperparameter: set before training, fixed during it"
    rows = [
        ["a (layers.0.weight)", f"{best['a']:.4f}", f"{TRUE_SLOPE:g}", "parameter: " + learned],
        ["b (layers.0.bias)", f"{best['b']:.4f}", f"{TRUE_INTERCEPT:g}", "parameter: " + learned],
        ["learning rate", f"{best['lr']:g}", "", fixed],
        ["epochs", best["epochs"], "", fixed],
        ["batch size", best["batch_size"], "", fixed],
        ["optimizer", best["optimizer"], "", fixed],
        ["seed", best["seed"], "", fixed],
    ]
    return common.markdown_table(["name", "value", "true value", "kind"], rows)


def plot(rows, path):
    learning_rates = sorted({r["lr"] for r in rows})
    colors = dict(zip(learning_rates, common.plt.cm.viridis(np.linspace(0, 0.9, len(learning_rates)))))
    fig, axes = common.plt.subplots(1, 3, figsize=(14, 4.2))
    for lr in learning_rates:
        runs = sorted((r for r in rows if r["lr"] == lr), key=lambda r: r["epochs"])
        epochs = [r["epochs"] for r in runs]
        axes[0].plot(epochs, [r["a"] for r in runs], "o-", color=colors[lr], label=f"lr {lr:g}")
        axes[1].plot(epochs, [r["b"] for r in runs], "o-", color=colors[lr], label=f"lr {lr:g}")
        last = runs[-1]
        x = np.linspace(-1, 1, 2)
        axes[2].plot(x, last["a"] * x + last["b"], color=colors[lr],
                     label=f"lr {lr:g}, {last['epochs']} ep: y = {last['a']:.3f}x + {last['b']:.3f}")
    for ax, true, name in ((axes[0], TRUE_SLOPE, "a (slope)"), (axes[1], TRUE_INTERCEPT, "b (intercept)")):
        ax.axhline(true, color="black", ls="--", lw=1, label=f"true {name.split()[0]} = {true:g}")
        ax.set_xscale("log")
        ax.set_xlabel("epochs (hyperparameter)")
        ax.set_ylabel(f"learned {name} (parameter)")
        ax.set_title(f"learned {name} against epochs")
        ax.legend(fontsize=8)
    x = np.linspace(-1, 1, 2)
    axes[2].plot(x, TRUE_SLOPE * x + TRUE_INTERCEPT, "k--", lw=1, label="true: y = 2x + 1")
    axes[2].set_xlabel("x")
    axes[2].set_ylabel("y")
    axes[2].set_title("fitted lines (longest run per learning rate)")
    axes[2].legend(fontsize=7)
    fig.suptitle("Parameters (a, b) are learned; learning rate and epochs are set beforehand")
    fig.tight_layout()
    return common.save_figure(fig, path)


def run(argv=None):
    args, context = common.parse_context(common.parser(__doc__.split("\n\n")[0], "line"), argv)
    size = context.sized(SIZES)
    rows = [fit(context, lr, epochs) for lr in size["learning_rates"] for epochs in size["epochs"]]
    common.write_csv(context.out / "line_fit.csv", rows)
    print(f"{'lr':>8} {'epochs':>6} {'steps':>6} {'a':>9} {'b':>9} {'a err %':>8} {'b err %':>8}")
    for r in rows:
        print(f"{r['lr']:>8g} {r['epochs']:>6} {r['steps']:>6} {r['a']:>9.4f} {r['b']:>9.4f} "
              f"{r['a_error_pct']:>8.2f} {r['b_error_pct']:>8.2f}")
    best = min(rows, key=lambda r: r["a_error_pct"] + r["b_error_pct"])
    text = table(best)
    (context.out / "line_table.md").write_text(text + "\n")
    print(f"\nbest run: lr {best['lr']:g}, {best['epochs']} epochs\n{text}")
    plot(rows, context.out / "line_fit.png")
    return rows


if __name__ == "__main__":
    common.main_guard(run)
