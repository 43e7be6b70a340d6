"""The standard pictures of a tuning study, from its export (`mlptune export STUDY.db --out DIR`:
trials.csv, intermediate.csv, and journal.log when present):

  history.png                 every trial's value by trial number, and the best so far
  parameters.png              each hyperparameter against the metric (log axes for log ranges)
  intermediate.png            per-epoch values (learning curves), pruned and failed trials marked
  parallel_coordinates.png    one line per complete trial across every hyperparameter

    python3 experiments/plot.py STUDY_EXPORT_DIR --out DIR [--goal maximize|minimize]

`mlptune report STUDY --plots DIR` runs this script. The metric's name and direction and which
parameters are drawn on a log axis come from journal.log (the Optuna journal: the study's metric
names and direction, each parameter's distribution): a parameter gets a log axis exactly when its
distribution is logarithmic (log_uniform_values, say), however wide a uniform one's values spread,
and is drawn as categories exactly when its distribution is categorical. Without the journal, the
metric is called "value", the direction is taken from --goal (default: maximize when every value
lies in [0, 1], as accuracies do, else minimize), a positive parameter whose values span at least
two decades gets a log axis, and one with at most four distinct values is drawn as categories.
"""
import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

import common

STATE_STYLE = {  # Optuna state: (colour, marker, legend)
    "COMPLETE": ("tab:blue", "o", "complete"),
    "PRUNED": ("tab:gray", "x", "pruned"),
    "FAIL": ("tab:red", "X", "failed"),
    "RUNNING": ("tab:purple", "^", "running"),
    "WAITING": ("tab:olive", "v", "waiting"),
}


class Study:
    """A study export: trials, per-epoch values, parameter names, direction and log parameters."""

    def __init__(self, folder, goal=None):
        self.folder = Path(folder)
        self.trials, self.intermediate = common.read_export(self.folder)
        self.parameters = [c[len("params_"):] for c in (self.trials[0].keys() if self.trials else [])
                           if c.startswith("params_")]
        journal_goal, self.log_parameters, self.categorical_parameters = self._read_journal()
        values = [v for v in self.values() if v is not None]
        self.goal = goal or journal_goal or ("maximize" if values and all(0 <= v <= 1 for v in values)
                                             else "minimize")
        if self.log_parameters is None:  # no journal: guess from the values' spread
            self.log_parameters = {name for name in self.parameters if self._spans_decades(name)}
        self.metric = self._read_metric_name() or "value"

    def _read_metric_name(self):
        """The metric's name ("validation_accuracy") as journal.log labels the objective, or None."""
        path = self.folder / "journal.log"
        for line in path.read_text().splitlines() if path.is_file() else []:
            try:
                names = json.loads(line).get("system_attr", {}).get("study:metric_names")
            except (ValueError, AttributeError):
                continue
            if names:
                return names[0]
        return None

    def _read_journal(self):
        """(goal or None, names of log-distributed parameters, names of categorical ones) from
        journal.log; (None, None, None) without it."""
        goal, log_parameters, categorical_parameters = None, set(), set()
        path = self.folder / "journal.log"
        if not path.is_file():
            return goal, None, None
        for line in path.read_text().splitlines():
            try:
                op = json.loads(line)
            except ValueError:
                continue
            if "directions" in op:
                goal = "minimize" if op["directions"][0] == 1 else "maximize"
            if "param_name" in op and "distribution" in op:
                distribution = op["distribution"]
                if isinstance(distribution, str):
                    distribution = json.loads(distribution)
                if distribution.get("attributes", {}).get("log"):
                    log_parameters.add(op["param_name"])
                if distribution.get("name") == "CategoricalDistribution":
                    categorical_parameters.add(op["param_name"])
        return goal, log_parameters, categorical_parameters

    def _spans_decades(self, name):
        values = [v for v in self.numeric(name) if v is not None]
        return bool(values) and min(values) > 0 and max(values) / min(values) >= 100

    def values(self, trials=None):
        return [common.number(t["value"]) for t in (trials or self.trials)]

    def is_numeric(self, name):
        fields = [t["params_" + name] for t in self.trials if t["params_" + name] != ""]
        return bool(fields) and all(common.number(f) is not None for f in fields)

    def numeric(self, name):
        return [common.number(t["params_" + name]) for t in self.trials]

    def is_categorical(self, name):
        """Drawn as categories: text values, a categorical distribution in the journal, or without
        a journal at most four distinct values."""
        if not self.is_numeric(name):
            return True
        if self.categorical_parameters is not None:
            return name in self.categorical_parameters
        return len({t["params_" + name] for t in self.trials}) <= 4

    def varied(self):
        """Parameters that take more than one value (constants say nothing in a plot)."""
        return [p for p in self.parameters if len({t["params_" + p] for t in self.trials}) > 1]

    def better(self, a, b):
        return a > b if self.goal == "maximize" else a < b


def plot_history(study, path):
    plt = common.plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for state, (color, marker, label) in STATE_STYLE.items():
        trials = [t for t in study.trials if t["state"] == state and common.number(t["value"]) is not None]
        if trials:
            ax.plot([int(t["number"]) for t in trials], [common.number(t["value"]) for t in trials],
                    marker, color=color, ls="none", label=label)
    best, xs, ys = None, [], []
    for t in sorted(study.trials, key=lambda t: int(t["number"])):
        value = common.number(t["value"])
        if t["state"] == "COMPLETE" and value is not None and (best is None or study.better(value, best)):
            best = value
        if best is not None:
            xs.append(int(t["number"]))
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"{study.metric} ({study.goal})")
    ax.set_title(f"optimisation history ({len(study.trials)} trials)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return common.save_figure(fig, path)


def category_positions(study, name):
    """Categorical values in a stable order (numeric order where they are numbers) -> position."""
    labels = sorted({t["params_" + name] for t in study.trials if t["params_" + name] != ""},
                    key=lambda s: (common.number(s) is None, common.number(s) or 0, s))
    return {label: i for i, label in enumerate(labels)}


def plot_parameters(study, path):
    plt = common.plt
    names = study.varied() or study.parameters
    columns = min(3, max(1, len(names)))
    rows = max(1, math.ceil(len(names) / columns))
    fig, axes = plt.subplots(rows, columns, figsize=(4.6 * columns, 3.6 * rows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.set_visible(False)
    for ax, name in zip(axes.flat, names):
        categorical = study.is_categorical(name)
        positions = category_positions(study, name) if categorical else None
        for state, (color, marker, label) in STATE_STYLE.items():
            trials = [t for t in study.trials if t["state"] == state and common.number(t["value"]) is not None
                      and t["params_" + name] != ""]
            if not trials:
                continue
            if categorical:
                jitter = np.random.default_rng(0).uniform(-0.12, 0.12, len(trials))
                xs = [positions[t["params_" + name]] + j for t, j in zip(trials, jitter)]
            else:
                xs = [common.number(t["params_" + name]) for t in trials]
            ax.plot(xs, [common.number(t["value"]) for t in trials], marker, color=color, ls="none",
                    label=label, alpha=0.8)
        if categorical:
            ax.set_xticks(list(positions.values()), list(positions.keys()))
        elif name in study.log_parameters:
            ax.set_xscale("log")
        ax.set_xlabel(name + (" (log)" if name in study.log_parameters and not categorical else ""))
        ax.set_ylabel(study.metric)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"each hyperparameter against {study.metric}")
    fig.tight_layout()
    return common.save_figure(fig, path)


def plot_intermediate(study, path):
    plt = common.plt
    fig, ax = plt.subplots(figsize=(7, 4.2))
    curves = {}
    for row in study.intermediate:
        value = common.number(row["value"])
        if value is not None:
            curves.setdefault(int(row["number"]), (row["state"], []))[1].append((int(row["epoch"]), value))
    seen = set()
    for number, (state, points) in sorted(curves.items()):
        points.sort()
        color, marker, label = STATE_STYLE.get(state, STATE_STYLE["COMPLETE"])
        ax.plot([e for e, _ in points], [v for _, v in points], "-", color=color, lw=1,
                alpha=0.45 if state == "PRUNED" else 0.8)
        ax.plot(points[-1][0], points[-1][1], marker, color=color,
                label=None if state in seen else f"{label} (last epoch marked)")
        seen.add(state)
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"{study.metric} after each epoch")
    ax.set_title("learning curves (intermediate values)")
    ax.grid(alpha=0.3)
    if seen:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return common.save_figure(fig, path)


def axis_values(study, name, trials):
    """A parameter's values scaled to [0, 1] (log for log parameters; categories by position),
    and tick labels for its axis."""
    if study.is_categorical(name):
        positions = category_positions(study, name)
        top = max(1, len(positions) - 1)
        return [positions[t["params_" + name]] / top for t in trials], \
            [(i / top, label) for label, i in positions.items()]
    raw = np.array([common.number(t["params_" + name]) for t in trials], dtype=float)
    every = np.array([v for v in study.numeric(name) if v is not None], dtype=float)
    log = name in study.log_parameters
    transform = np.log10 if log else (lambda v: v)
    low, high = transform(every.min()), transform(every.max())
    span = high - low or 1.0
    ticks = [(0.0, f"{every.min():.3g}"), (1.0, f"{every.max():.3g}")]
    return list((transform(raw) - low) / span), ticks


def plot_parallel(study, path):
    plt = common.plt
    trials = [t for t in study.trials if t["state"] == "COMPLETE" and common.number(t["value"]) is not None]
    names = study.varied() or study.parameters
    fig, ax = plt.subplots(figsize=(max(6.0, 1.9 * (len(names) + 1)), 4.4))
    if not trials or not names:
        ax.text(0.5, 0.5, "no complete trials to draw", ha="center", va="center")
        return common.save_figure(fig, path)
    values = np.array([common.number(t["value"]) for t in trials])
    columns, ticks = [], []
    for name in names:
        column, tick = axis_values(study, name, trials)
        columns.append(column)
        ticks.append(tick)
    span = values.max() - values.min() or 1.0
    columns.append(list((values - values.min()) / span))
    ticks.append([(0.0, f"{values.min():.4g}"), (1.0, f"{values.max():.4g}")])
    order = np.argsort(values if study.goal == "maximize" else -values)  # best drawn last, on top
    colormap = plt.cm.viridis if study.goal == "maximize" else plt.cm.viridis_r
    for i in order:
        ax.plot(range(len(columns)), [c[i] for c in columns], color=colormap((values[i] - values.min()) / span),
                alpha=0.8, lw=1.2)
    for x, tick in enumerate(ticks):
        ax.axvline(x, color="black", lw=0.8)
        for y, label in tick:
            ax.text(x + 0.03, y, label, fontsize=7, va="center")
    labels = [n + (" (log)" if n in study.log_parameters else "") for n in names] + [study.metric]
    ax.set_xticks(range(len(columns)), labels)
    ax.set_yticks([])
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"parallel coordinates: {len(trials)} complete trials")
    mappable = plt.cm.ScalarMappable(cmap=colormap, norm=plt.Normalize(values.min(), values.max()))
    better = "brighter" if study.goal == "maximize" else "darker"
    fig.colorbar(mappable, ax=ax, label=f"{study.metric} ({better} is better)")
    fig.tight_layout()
    return common.save_figure(fig, path)


def make_all(export_dir, out_dir, goal=None):
    """Writes the four standard pictures of one study export into out_dir; returns their paths."""
    study = Study(export_dir, goal)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if not study.trials:
        raise common.ExperimentError(f"{export_dir}/trials.csv holds no trials: nothing to plot")
    return [plot_history(study, out / "history.png"), plot_parameters(study, out / "parameters.png"),
            plot_intermediate(study, out / "intermediate.png"),
            plot_parallel(study, out / "parallel_coordinates.png")]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("export", help="a folder written by `mlptune export STUDY.db --out DIR`")
    p.add_argument("--out", required=True, help="folder for the PNG pictures")
    p.add_argument("--goal", choices=["maximize", "minimize"], help="the metric's direction "
                   "(default: from journal.log)")
    args = p.parse_args(argv)
    try:
        make_all(args.export, args.out, args.goal)
    except common.ExperimentError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
