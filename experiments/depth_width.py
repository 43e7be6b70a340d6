"""Experiment 4, depth and width: MLPs with 0 to 6 hidden layers of 16 to 1024 ReLU units (Adam),
each trained for the same epochs. Shows parameter count against validation accuracy and against
training time, and prints the parameters per layer (weights in*out, biases out), checked against
the count mlptune writes in the metrics file (spec.model.parameter_count).

Default and --smallest: the bundled digits set (CPU). --full: MNIST.
Writes depth_width.csv, depth_width_layers.md and depth_width.png.

    python3 experiments/depth_width.py --out out/depth_width
"""
import numpy as np

import common

SIZES = {
    "smallest": {"dataset": "digits", "epochs": 3, "depths": [0, 1, 2], "widths": [16, 64]},
    "small": {"dataset": "digits", "epochs": 10, "depths": [0, 1, 2, 4, 6], "widths": [16, 64, 256, 1024]},
    "full": {"dataset": "mnist", "epochs": 10, "depths": list(range(7)),
             "widths": [16, 32, 64, 128, 256, 512, 1024]},
}
LR, BATCH_SIZE, SEED = 1e-3, 64, 0


def layer_counts(input_width, hidden, output_width):
    """[(fan_in, fan_out, weights, biases)] per layer: weights in*out, biases out."""
    sizes = [input_width, *hidden, output_width]
    return [(i, o, i * o, o) for i, o in zip(sizes[:-1], sizes[1:])]


def shapes(size):
    """(depth, width) pairs; depth 0 has no hidden layer, so it is run once."""
    pairs = [(0, 0)] if 0 in size["depths"] else []
    return pairs + [(d, w) for d in size["depths"] if d > 0 for w in size["widths"]]


def measure(context, size, depth, width):
    run = common.train(context, context.out / "runs" / f"d{depth}_w{width}.json",
                       dataset=size["dataset"], depth=depth, width=max(width, 1), optimizer="adam",
                       lr=LR, epochs=size["epochs"], batch_size=BATCH_SIZE, seed=SEED)
    model = run.metrics["spec"]["model"]
    layers = layer_counts(model["input_width"], [width] * depth, model["output_width"])
    counted = sum(w + b for _, _, w, b in layers)
    return {"depth": depth, "width": width if depth else None,
            "shape": " -> ".join(str(s) for s in [model["input_width"], *model["hidden"], model["output_width"]]),
            "parameters_per_layer": " + ".join(str(w + b) for _, _, w, b in layers),
            "parameter_count": counted, "mlptune_parameter_count": run.parameter_count,
            "counts_match": counted == run.parameter_count,
            "final_validation_accuracy": None if run.diverged else run.last("validation_accuracy"),
            "test_accuracy": None if run.diverged else run.result["test"]["accuracy"],
            "train_seconds": run.result["seconds"], "status": run.result["status"]}


def layer_table(rows):
    return common.markdown_table(
        ["depth", "width", "shape", "parameters per layer (in*out + out)", "total", "mlptune's count",
         "val accuracy", "train s"],
        [[r["depth"], r["width"] or "-", r["shape"], r["parameters_per_layer"], f"{r['parameter_count']:,}",
          f"{r['mlptune_parameter_count']:,}",
          "-" if r["final_validation_accuracy"] is None else f"{r['final_validation_accuracy']:.4f}",
          f"{r['train_seconds']:.2f}"] for r in rows])


def plot(rows, size, path):
    plt = common.plt
    fig, (accuracy, seconds, grid) = plt.subplots(1, 3, figsize=(16, 4.5))
    depths = sorted({r["depth"] for r in rows})
    colors = dict(zip(depths, plt.cm.viridis(np.linspace(0, 0.9, len(depths)))))
    for depth in depths:
        runs = [r for r in rows if r["depth"] == depth and r["final_validation_accuracy"] is not None]
        style = "D" if depth == 0 else "o-"
        label = "depth 0 (logistic regression)" if depth == 0 else f"depth {depth}"
        accuracy.plot([r["parameter_count"] for r in runs], [r["final_validation_accuracy"] for r in runs],
                      style, color=colors[depth], label=label)
        seconds.plot([r["parameter_count"] for r in runs], [r["train_seconds"] for r in runs],
                     style, color=colors[depth], label=label)
    for ax in (accuracy, seconds):
        ax.set_xscale("log")
        ax.set_xlabel("parameters (log scale; along a line, width grows)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    accuracy.set_ylabel("validation accuracy")
    accuracy.set_title(f"accuracy after {size['epochs']} epochs")
    seconds.set_yscale("log")
    seconds.set_ylabel("training seconds")
    seconds.set_title("training time")

    hidden_depths = [d for d in depths if d > 0]
    widths = sorted({r["width"] for r in rows if r["width"]})
    table = np.full((len(hidden_depths), len(widths)), np.nan)
    for r in rows:
        if r["depth"] > 0 and r["final_validation_accuracy"] is not None:
            table[hidden_depths.index(r["depth"]), widths.index(r["width"])] = r["final_validation_accuracy"]
    image = grid.imshow(table, cmap="viridis", aspect="auto", origin="lower")
    for (i, j), value in np.ndenumerate(table):
        if np.isfinite(value):
            grid.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=7,
                      color="white" if value < np.nanmean(table) else "black")
    grid.set_xticks(range(len(widths)), [str(w) for w in widths])
    grid.set_yticks(range(len(hidden_depths)), [str(d) for d in hidden_depths])
    grid.set_xlabel("width")
    grid.set_ylabel("depth (hidden layers)")
    grid.set_title("validation accuracy by depth and width")
    fig.colorbar(image, ax=grid)
    fig.suptitle(f"Depth and width on {size['dataset']}: Adam lr {LR:g}, batch {BATCH_SIZE}")
    fig.tight_layout()
    return common.save_figure(fig, path)


def run(argv=None):
    args, context = common.parse_context(common.parser(__doc__.split("\n\n")[0], "depth_width"), argv)
    size = context.sized(SIZES)
    rows = [measure(context, size, depth, width) for depth, width in shapes(size)]
    common.write_csv(context.out / "depth_width.csv", rows)
    text = layer_table(rows)
    (context.out / "depth_width_layers.md").write_text(text + "\n")
    print(text)
    mismatched = [r["shape"] for r in rows if not r["counts_match"]]
    print("parameter counts: " + ("all match mlptune's spec.model.parameter_count" if not mismatched
                                  else f"MISMATCH for {', '.join(mismatched)}"))
    plot(rows, size, context.out / "depth_width.png")
    return rows


if __name__ == "__main__":
    common.main_guard(run)
