"""Experiment 5, search strategies: grid, random, Sobol, TPE and TPE + Hyperband search the same
space (learning rate, depth, width of an Adam-trained MLP) with the same trial budget (run_cap),
each with several study seeds, through `mlptune tune CONFIG.yaml` and `mlptune export`. Shows the
best validation accuracy found against wall time and against trials used, with the spread across
seeds (median line, min-max band).

The grid needs discrete points: its learning rates are run_cap / (depths x widths) log-spaced
values over the same range, so the grid has exactly run_cap points. Hyperband prunes, so at the
same number of trials it trains fewer epochs; the wall-time panel shows what that buys.

Default and --smallest: the bundled digits set (CPU). --full: MNIST.
Writes one YAML config, study file and export per strategy and seed (studies/), search.csv (one
row per study), search_history.csv (best so far after each trial), search_strategies.png, and
the standard plot.py pictures of the first TPE + Hyperband study (plots_tpe_hyperband/).

    python3 experiments/search_strategies.py --out out/search
"""
import warnings
from datetime import datetime

import numpy as np

import common
import plot as study_plots

LR_RANGE = (1.0e-4, 1.0e-1)
DEPTHS, WIDTHS = [1, 2, 3], [16, 64, 256]
SIZES = {
    "smallest": {"dataset": "digits", "run_cap": 9, "epochs": 3, "seeds": [0], "concurrency": 2,
                 "startup": 3, "batch_size": 128},
    "small": {"dataset": "digits", "run_cap": 36, "epochs": 9, "seeds": [0, 1, 2, 3, 4], "concurrency": 2,
              "startup": 8, "batch_size": 128},
    "full": {"dataset": "mnist", "run_cap": 72, "epochs": 9, "seeds": [0, 1, 2, 3, 4], "concurrency": 16,
             "startup": 10, "batch_size": 128},
}
STRATEGIES = {  # name: (W&B method, Hyperband early termination?)
    "grid": ("grid", False),
    "random": ("random", False),
    "sobol": ("sobol", False),
    "tpe": ("bayes", False),
    "tpe+hyperband": ("bayes", True),
}
COLORS = {"grid": "tab:gray", "random": "tab:blue", "sobol": "tab:green", "tpe": "tab:orange",
          "tpe+hyperband": "tab:red"}


def config(context, size, strategy, seed, storage):
    """The study configuration (W&B Sweeps keys plus the mlptune section) for one strategy and seed."""
    method, hyperband = STRATEGIES[strategy]
    if method == "grid":
        points = size["run_cap"] // (len(DEPTHS) * len(WIDTHS))
        lr = {"values": [float(f"{v:.3g}") for v in np.geomspace(*LR_RANGE, points)]}
    else:
        lr = {"distribution": "log_uniform_values", "min": LR_RANGE[0], "max": LR_RANGE[1]}
    study = {
        "name": f"{strategy}-seed{seed}",
        "method": method,
        "metric": {"name": "validation_accuracy", "goal": "maximize"},
        "parameters": {"lr": lr, "depth": {"values": DEPTHS}, "width": {"values": WIDTHS},
                       "batch_size": {"value": size["batch_size"]}, "epochs": {"value": size["epochs"]},
                       "optimizer": {"value": "adam"}},
        "run_cap": size["run_cap"],
    }
    if hyperband:
        study["early_terminate"] = {"type": "hyperband", "min_iter": 1, "max_iter": size["epochs"], "eta": 3}
    study["mlptune"] = {"dataset": size["dataset"], "backend": context.backend, "seed": seed,
                        "storage": str(storage), "concurrency": size["concurrency"],
                        "n_startup_trials": size["startup"]}
    return study


def seconds_since(start, text):
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) - start).total_seconds()


def history(trials):
    """Trials in the order they ended, with the best complete value so far after each."""
    ended = [t for t in trials if t["datetime_complete"]]
    start = min(datetime.fromisoformat(t["datetime_start"].replace("Z", "+00:00")) for t in ended)
    ended.sort(key=lambda t: t["datetime_complete"])
    best, rows = None, []
    for order, trial in enumerate(ended, 1):
        value = common.number(trial["value"])
        if trial["state"] == "COMPLETE" and value is not None:
            best = value if best is None else max(best, value)
        rows.append({"order": order, "number": int(trial["number"]), "state": trial["state"],
                     "elapsed_seconds": seconds_since(start, trial["datetime_complete"]),
                     "value": value, "best_so_far": best})
    return rows


def run_study(context, size, strategy, seed):
    folder = context.out / "studies" / f"{strategy}-seed{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    storage = folder / "study.db"
    path = common.write_yaml(folder / "study.yaml", config(context, size, strategy, seed, storage),
                             f"search strategies: {strategy}, study seed {seed} "
                             "(written by experiments/search_strategies.py)")
    wall = common.tune(context, path, storage)
    trials, intermediate = common.export(context, storage, folder / "export")
    states = [t["state"] for t in trials]
    values = [common.number(t["value"]) for t in trials if t["state"] == "COMPLETE"]
    summary = {"strategy": strategy, "seed": seed, "run_cap": size["run_cap"], "trials": len(trials),
               "complete": states.count("COMPLETE"), "pruned": states.count("PRUNED"),
               "failed": states.count("FAIL"), "epochs_trained": len(intermediate),
               "best_validation_accuracy": max((v for v in values if v is not None), default=None),
               "wall_seconds": wall}
    steps = [{"strategy": strategy, "seed": seed, **row} for row in history(trials)]
    return summary, steps, folder / "export"


def spread(curves, grid):
    """Median, min and max across seeds of step functions [(x, best)] sampled on `grid`."""
    sampled = []
    for xs, ys in curves:
        index = np.searchsorted(xs, grid, side="right") - 1
        sampled.append([ys[i] if i >= 0 and ys[i] is not None else np.nan for i in index])
    sampled = np.array(sampled, dtype=float)
    with warnings.catch_warnings():  # before a seed's first complete trial there is no best yet
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmedian(sampled, axis=0), np.nanmin(sampled, axis=0), np.nanmax(sampled, axis=0)


def plot(steps, size, path):
    plt = common.plt
    fig, (by_trials, by_time) = plt.subplots(1, 2, figsize=(13, 4.6))
    seeds = sorted({s["seed"] for s in steps})
    end_time = max(s["elapsed_seconds"] for s in steps)
    for strategy in STRATEGIES:
        for ax, key, grid in ((by_trials, "order", np.arange(1, size["run_cap"] + 1)),
                              (by_time, "elapsed_seconds", np.linspace(0, end_time, 200))):
            curves = []
            for seed in seeds:
                rows = [s for s in steps if s["strategy"] == strategy and s["seed"] == seed]
                curves.append((np.array([r[key] for r in rows]), [r["best_so_far"] for r in rows]))
            median, low, high = spread(curves, grid)
            ax.step(grid, median, where="post", color=COLORS[strategy], label=strategy)
            if len(seeds) > 1:
                ax.fill_between(grid, low, high, step="post", color=COLORS[strategy], alpha=0.15)
    finite = [s["best_so_far"] for s in steps if s["best_so_far"] is not None]
    bottom = float(np.percentile(finite, 10)) if finite else 0.0  # early misses would squash the rest
    for ax in (by_trials, by_time):
        ax.set_ylim(max(0.0, bottom - 0.02), min(1.0, max(finite, default=1.0) + 0.01))
    by_trials.set_xlabel("trials used (in the order they ended)")
    by_time.set_xlabel("wall seconds since the study started")
    for ax in (by_trials, by_time):
        ax.set_ylabel("best validation accuracy so far")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    band = f"median of {len(seeds)} study seeds, band: min to max" if len(seeds) > 1 else "one study seed"
    fig.suptitle(f"Search strategies on {size['dataset']}, {size['run_cap']} trials of up to "
                 f"{size['epochs']} epochs each ({band})")
    fig.tight_layout()
    return common.save_figure(fig, path)


def run(argv=None):
    args, context = common.parse_context(common.parser(__doc__.split("\n\n")[0], "search"), argv)
    size = context.sized(SIZES)
    summaries, steps, exports = [], [], {}
    for strategy in STRATEGIES:
        for seed in size["seeds"]:
            summary, history_rows, export_dir = run_study(context, size, strategy, seed)
            summaries.append(summary)
            steps += history_rows
            exports[(strategy, seed)] = export_dir
            print(f"{strategy:>14} seed {seed}: {summary['trials']} trials ({summary['complete']} complete, "
                  f"{summary['pruned']} pruned, {summary['failed']} failed), {summary['epochs_trained']} epochs, "
                  f"best {summary['best_validation_accuracy']:.4f}, {summary['wall_seconds']:.1f} s")
    common.write_csv(context.out / "search.csv", summaries)
    common.write_csv(context.out / "search_history.csv", steps)
    print(f"\n{'strategy':>14} {'median best':>11} {'median wall s':>13} {'epochs':>7}")
    for strategy in STRATEGIES:
        mine = [s for s in summaries if s["strategy"] == strategy]
        print(f"{strategy:>14} {np.median([s['best_validation_accuracy'] for s in mine]):>11.4f} "
              f"{np.median([s['wall_seconds'] for s in mine]):>13.1f} "
              f"{np.median([s['epochs_trained'] for s in mine]):>7.0f}")
    plot(steps, size, context.out / "search_strategies.png")
    study_plots.make_all(exports[("tpe+hyperband", size["seeds"][0])], context.out / "plots_tpe_hyperband")
    return summaries


if __name__ == "__main__":
    common.main_guard(run)
