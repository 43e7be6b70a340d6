"""Shared code of the experiments: the command line, running `mlptune`, reading its metrics files
and study exports, writing CSV/YAML, and saving matplotlib figures.

Every experiment script is one command:

    python3 experiments/<name>.py [--mlptune build/mlptune] [--out DIR] [--full | --smallest]

--smallest is the size experiments/check_experiments.py runs (seconds), the default is a small
CPU run (seconds to a couple of minutes on 2 cores), and --full is the full size, meant for a GPU.
"""
import argparse
import csv
import json
import math
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_BINARY = ROOT / "build" / "mlptune"
EXIT_DIVERGED = 3  # `mlptune train`: the loss became NaN or Inf
DPI = 100          # committed pictures stay small


class ExperimentError(RuntimeError):
    """A failure the user can act on; the scripts print its message without a traceback."""


# --- The command line -----------------------------------------------------------------------------

def parser(description, name):
    """The argument parser every experiment shares; `name` picks the default output folder."""
    p = argparse.ArgumentParser(description=description,
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--mlptune", default=str(DEFAULT_BINARY), help="the mlptune binary")
    p.add_argument("--out", default=str(ROOT / "out" / "experiments" / name),
                   help="folder for the CSV data and the PNG pictures")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--full", dest="size", action="store_const", const="full",
                      help="the full size (MNIST, wide grids; meant for a GPU)")
    size.add_argument("--smallest", dest="size", action="store_const", const="smallest",
                      help="the smallest size (what check_experiments.py runs)")
    p.set_defaults(size="small")
    p.add_argument("--backend", default=None, choices=["cpu", "cuda", "auto"],
                   help="mlptune backend (default: cpu, or auto with --full)")
    return p


@dataclass
class Context:
    """What every experiment gets from its command line."""
    binary: Path
    out: Path
    size: str
    backend: str

    def sized(self, table):
        """The entry of a {"smallest": ..., "small": ..., "full": ...} table for this run's size."""
        return table[self.size]


def parse_context(argument_parser, argv=None):
    """Parses the command line, checks the binary exists and makes the output folder."""
    args = argument_parser.parse_args(argv)
    context = Context(binary=find_binary(args.mlptune), out=Path(args.out), size=args.size,
                      backend=args.backend or ("auto" if args.size == "full" else "cpu"))
    context.out.mkdir(parents=True, exist_ok=True)
    return args, context


def find_binary(path):
    """The mlptune binary as an absolute path, or an error that says how to build it."""
    binary = Path(path)
    if not binary.is_file() and binary == Path("build/mlptune"):
        binary = DEFAULT_BINARY  # relative to the repository, not the working directory
    if not binary.is_file():
        raise ExperimentError(f"{path} not found: run scripts/build first "
                              "(or pass --mlptune PATH_TO_BINARY)")
    if not os.access(binary, os.X_OK):
        raise ExperimentError(f"{path} is not executable")
    return binary.resolve()


def main_guard(run, argv=None):
    """Runs an experiment's `run(argv)`; prints ExperimentError messages plainly and exits 1."""
    try:
        run(argv)
    except ExperimentError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)


# --- Running mlptune ------------------------------------------------------------------------------

@dataclass
class TrainRun:
    """One `mlptune train` run: its flags, exit status and metrics file (JSON form)."""
    flags: dict
    returncode: int
    metrics: dict
    stdout: str
    wall_seconds: float

    @property
    def diverged(self):
        return self.returncode == EXIT_DIVERGED

    @property
    def epochs(self):
        """Per-epoch reports: epoch, step, train_loss, validation_loss, validation_accuracy,
        validation_rmse, learning_rate, samples_per_second, seconds, status, message."""
        return self.metrics["epochs"]

    @property
    def result(self):
        """{status, message, epochs, seconds, backend, test?}"""
        return self.metrics["result"]

    @property
    def parameter_count(self):
        return self.metrics["spec"]["model"]["parameter_count"]

    @property
    def train_rows(self):
        """Training rows, from the data line "digits: 1293 train, 144 validation, 360 test rows"."""
        return int(self.metrics["data"].split(":")[-1].split()[0])

    def last(self, key):
        """The last epoch's value of `key` (None where it was not finite)."""
        return self.epochs[-1][key] if self.epochs else None


def command_line(binary, command, flags):
    """["mlptune", command, "--flag", "value", ...]; a value of True is a bare flag."""
    line = [str(binary), command]
    for name, value in flags.items():
        if value is None or value is False:
            continue
        line.append("--" + name.replace("_", "-"))
        if value is not True:
            line.append(str(value))
    return line


def train(context, metrics_path, **flags):
    """Runs `mlptune train --quiet --metrics METRICS_PATH (JSON) ...flags`. A diverged run (exit 3)
    is a result, not an error; any other failure raises with mlptune's own message."""
    metrics_path = Path(metrics_path)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    flags = {"backend": context.backend, **flags, "metrics": metrics_path, "quiet": True}
    line = command_line(context.binary, "train", flags)
    start = time.perf_counter()
    process = subprocess.run(line, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if process.returncode not in (0, EXIT_DIVERGED):
        raise ExperimentError(f"{' '.join(line)}\nexited with status {process.returncode}:\n"
                              f"{process.stderr.strip() or process.stdout.strip()}")
    with open(metrics_path) as f:
        metrics = json.load(f)
    return TrainRun(flags, process.returncode, metrics, process.stdout, wall)


def tune(context, config_path, storage, concurrency=None):
    """Runs `mlptune tune CONFIG --storage DB --quiet` (from a fresh study file); returns the wall
    seconds of the whole process."""
    storage = Path(storage)
    for stale in (storage, Path(f"{storage}-wal"), Path(f"{storage}-shm")):
        stale.unlink(missing_ok=True)
    line = [str(context.binary), "tune", str(config_path), "--storage", str(storage), "--quiet"]
    if concurrency:
        line += ["--concurrency", str(concurrency)]
    start = time.perf_counter()
    process = subprocess.run(line, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if process.returncode != 0:
        raise ExperimentError(f"{' '.join(line)}\nexited with status {process.returncode}:\n"
                              f"{process.stderr.strip() or process.stdout.strip()}")
    return wall


def export(context, storage, folder):
    """Runs `mlptune export DB --out FOLDER`; returns (trials, intermediate) as lists of dicts."""
    line = [str(context.binary), "export", str(storage), "--out", str(folder)]
    process = subprocess.run(line, capture_output=True, text=True)
    if process.returncode != 0:
        raise ExperimentError(f"{' '.join(line)}\nexited with status {process.returncode}:\n"
                              f"{process.stderr.strip()}")
    return read_export(folder)


def read_export(folder):
    """trials.csv and intermediate.csv of a study export, as lists of dicts."""
    folder = Path(folder)
    for name in ("trials.csv", "intermediate.csv"):
        if not (folder / name).is_file():
            raise ExperimentError(f"{folder / name} not found: is {folder} the output of "
                                  "`mlptune export STUDY.db --out DIR`?")
    return read_csv(folder / "trials.csv"), read_csv(folder / "intermediate.csv")


# --- Files ----------------------------------------------------------------------------------------

def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path, rows, columns=None):
    """Writes dicts as CSV; floats in full precision, None as an empty field."""
    columns = columns or list(rows[0].keys())
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})
    return path


def number(text):
    """A CSV field as a float; empty fields, NaN and Inf are None."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def yaml_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if ("e" in repr(value) or "." in repr(value)) else repr(value) + ".0"
    if isinstance(value, (int, Path)):
        return str(value)
    text = str(value)
    return json.dumps(text) if any(c in text for c in ":#{}[],'\"") or text == "" else text


def yaml_text(mapping, indent=0):
    """A small YAML writer for study configs: nested mappings in block style, lists and the
    innermost mappings (parameter distributions) in flow style."""
    lines = []
    pad = "  " * indent
    for key, value in mapping.items():
        if isinstance(value, dict) and any(isinstance(v, dict) for v in value.values()):
            lines.append(f"{pad}{key}:")
            lines.append(yaml_text(value, indent + 1))
        elif isinstance(value, dict):
            inner = ", ".join(f"{k}: {yaml_flow(v)}" for k, v in value.items())
            lines.append(f"{pad}{key}: {{{inner}}}")
        else:
            lines.append(f"{pad}{key}: {yaml_flow(value)}")
    return "\n".join(lines)


def yaml_flow(value):
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_flow(v) for v in value) + "]"
    return yaml_scalar(value)


def write_yaml(path, mapping, comment):
    with open(path, "w") as f:
        f.write(f"# {comment}\n{yaml_text(mapping)}\n")
    return path


def save_figure(fig, path):
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"wrote {path}")
    return path


def nvidia_smi():
    """The nvidia-smi executable, or None."""
    return shutil.which("nvidia-smi")


def log_ticks(ax, axis="x"):
    """Powers of ten as 1e-3 style labels on a log axis."""
    formatter = matplotlib.ticker.LogFormatterSciNotation()
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)


def markdown_table(header, rows):
    """A Markdown table (header: list of titles; rows: lists of cells)."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass
class Timer:
    """Wall seconds since creation."""
    start: float = field(default_factory=time.perf_counter)

    def seconds(self):
        return time.perf_counter() - self.start
