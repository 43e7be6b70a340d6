"""Runs every experiment at its smallest size on the CPU and checks that its outputs exist and hold
sane values: the line fit recovers a and b, the too-high learning rate is reported as diverged,
accuracies lie in [0, 1], parameter counts are right, the searches ran the trials asked for, and
plot.py and profile.sh work as commands. Prints "N passed, M failed"; exits 1 on any failure.

    python3 experiments/check_experiments.py --mlptune build/mlptune --out build/experiments-check

CTest runs it as the test "experiments_smallest".
"""
import argparse
import subprocess
import sys
import time
from pathlib import Path

import common

HERE = Path(__file__).resolve().parent
LINE_TOLERANCE = 0.02  # a and b within 2%: noise 0.1 on 720 rows leaves a standard error near 0.3%


class Checks:
    """Counts passed and failed checks and prints each failure."""

    def __init__(self):
        self.passed, self.failed = 0, 0

    def expect(self, condition, what):
        if condition:
            self.passed += 1
        else:
            self.failed += 1
            print(f"  FAIL: {what}")
        return condition


def run_experiment(script, binary, out, checks):
    """Runs `python3 experiments/SCRIPT --smallest --backend cpu`; returns its output folder."""
    folder = out / Path(script).stem
    line = [sys.executable, str(HERE / script), "--mlptune", str(binary), "--out", str(folder),
            "--smallest", "--backend", "cpu"]
    start = time.perf_counter()
    process = subprocess.run(line, capture_output=True, text=True)
    print(f"{script}: exit {process.returncode} in {time.perf_counter() - start:.1f} s")
    if not checks.expect(process.returncode == 0, f"{' '.join(line)} exited {process.returncode}:\n"
                                                  f"{process.stdout[-2000:]}{process.stderr[-2000:]}"):
        return None
    return folder


def files_exist(checks, folder, names):
    for name in names:
        path = folder / name
        checks.expect(path.is_file() and path.stat().st_size > 0, f"{path} missing or empty")


def in_unit_interval(checks, rows, key, what):
    for row in rows:
        value = common.number(row[key])
        checks.expect(value is not None and 0.0 <= value <= 1.0, f"{what}: {key} {row[key]!r} not in [0, 1]")


def check_line(checks, folder):
    files_exist(checks, folder, ["line_fit.csv", "line_table.md", "line_fit.png"])
    rows = common.read_csv(folder / "line_fit.csv")
    best = min(rows, key=lambda r: float(r["a_error_pct"]) + float(r["b_error_pct"]))
    a, b = float(best["a"]), float(best["b"])
    checks.expect(abs(a - 2.0) <= 2.0 * LINE_TOLERANCE, f"line: learned a = {a}, expected 2 within 2%")
    checks.expect(abs(b - 1.0) <= 1.0 * LINE_TOLERANCE, f"line: learned b = {b}, expected 1 within 2%")
    table = (folder / "line_table.md").read_text()
    checks.expect("parameter: learned from data" in table and "hyperparameter: set before training" in table,
                  "line: the table names parameters and hyperparameters")


def check_learning_rate(checks, folder):
    files_exist(checks, folder, ["learning_rate.csv", "learning_rate_curves.csv", "learning_rate.png"])
    rows = common.read_csv(folder / "learning_rate.csv")
    top = max(float(r["lr"]) for r in rows)
    highest = [r for r in rows if float(r["lr"]) == top and r["activation"] == "identity"]
    checks.expect(len(highest) == 1 and highest[0]["status"] == "diverged"
                  and highest[0]["message"].startswith("diverged at epoch"),
                  f"learning rate: lr {top:g} (identity units) reported as diverged: {highest}")
    for row in rows:
        if row["status"] == "diverged":
            checks.expect(row["final_validation_accuracy"] == "" and row["regime"] == "diverged",
                          f"learning rate: diverged run {row['lr']} has no accuracy and is marked diverged")
    in_unit_interval(checks, [r for r in rows if r["status"] != "diverged"], "final_validation_accuracy",
                     "learning rate")
    checks.expect(any(r["regime"] == "right" for r in rows), "learning rate: some learning rate is right")
    curves = common.read_csv(folder / "learning_rate_curves.csv")
    checks.expect(all(r["train_loss"] != "" for r in curves if r["status"] != "diverged"),
                  "learning rate: every healthy epoch has a finite training loss")


def check_batch_size(checks, folder):
    files_exist(checks, folder, ["batch_size.csv", "batch_size.png"])
    rows = common.read_csv(folder / "batch_size.csv")
    checks.expect({r["mode"] for r in rows} == {"fixed lr", "scaled lr"}, "batch size: both learning-rate modes ran")
    healthy = [r for r in rows if r["status"] != "diverged"]
    in_unit_interval(checks, healthy, "final_validation_accuracy", "batch size")
    for row in healthy:
        checks.expect((common.number(row["samples_per_second"]) or 0) > 0,
                      f"batch size {row['batch_size']}: samples/s > 0")
    for row in rows:
        if row["mode"] == "scaled lr":
            expected = 0.1 * int(row["batch_size"]) / 128
            checks.expect(abs(float(row["lr"]) - expected) < 1e-12, f"batch size: scaled lr {row['lr']} != {expected}")


def check_depth_width(checks, folder):
    files_exist(checks, folder, ["depth_width.csv", "depth_width_layers.md", "depth_width.png"])
    rows = common.read_csv(folder / "depth_width.csv")
    in_unit_interval(checks, rows, "final_validation_accuracy", "depth/width")
    known = {("0", ""): 650, ("1", "16"): 1210, ("2", "64"): 8970}  # digits: 64 inputs, 10 classes
    for row in rows:
        checks.expect(row["counts_match"] == "True",
                      f"depth/width {row['shape']}: in-script count {row['parameter_count']} "
                      f"!= mlptune's {row['mlptune_parameter_count']}")
        expected = known.get((row["depth"], row["width"]))
        if expected is not None:
            checks.expect(int(row["parameter_count"]) == expected,
                          f"depth/width {row['shape']}: {row['parameter_count']} parameters, expected {expected}")


def check_search(checks, folder):
    files_exist(checks, folder, ["search.csv", "search_history.csv", "search_strategies.png"] +
                [f"plots_tpe_hyperband/{n}.png" for n in ("history", "parameters", "intermediate",
                                                          "parallel_coordinates")])
    rows = common.read_csv(folder / "search.csv")
    checks.expect({r["strategy"] for r in rows} == {"grid", "random", "sobol", "tpe", "tpe+hyperband"},
                  "search: every strategy ran")
    for row in rows:
        checks.expect(row["trials"] == row["run_cap"],
                      f"search {row['strategy']} seed {row['seed']}: {row['trials']} trials, asked for {row['run_cap']}")
        in_unit_interval(checks, [row], "best_validation_accuracy", f"search {row['strategy']}")
    hyperband = [r for r in rows if r["strategy"] == "tpe+hyperband"]
    checks.expect(all(int(r["pruned"]) > 0 for r in hyperband), "search: Hyperband pruned some trials")


def check_concurrency(checks, folder):
    files_exist(checks, folder, ["concurrency.csv", "concurrency.png"])
    for row in common.read_csv(folder / "concurrency.csv"):
        checks.expect(int(row["trials"]) == 4, f"concurrency K={row['concurrency']}: {row['trials']} trials, asked for 4")
        checks.expect(float(row["trials_per_second"]) > 0 and float(row["samples_per_second"]) > 0,
                      f"concurrency K={row['concurrency']}: positive rates")
        checks.expect(row["gpu_utilisation_mean_pct"] == "not available",
                      "concurrency: GPU utilisation is 'not available' on the CPU backend")


def check_plot_command(checks, out, search_folder):
    """plot.py as `mlptune report --plots` calls it: a script with EXPORT_DIR --out DIR."""
    export = search_folder / "studies" / "random-seed0" / "export"
    target = out / "plot_command"
    process = subprocess.run([sys.executable, str(HERE / "plot.py"), str(export), "--out", str(target)],
                             capture_output=True, text=True)
    if checks.expect(process.returncode == 0, f"plot.py exited {process.returncode}: {process.stderr[-2000:]}"):
        files_exist(checks, target, ["history.png", "parameters.png", "intermediate.png", "parallel_coordinates.png"])
    process = subprocess.run([sys.executable, str(HERE / "plot.py"), str(out / "no-such-export"), "--out",
                              str(target)], capture_output=True, text=True)
    checks.expect(process.returncode == 1 and "mlptune export" in process.stderr,
                  f"plot.py on a missing export explains itself: {process.stderr.strip()}")


def check_profile_script(checks, binary, out):
    process = subprocess.run(["bash", str(HERE / "profile.sh"), "--mlptune", str(binary), "--out",
                              str(out / "profile")], capture_output=True, text=True)
    print(f"profile.sh: {process.stdout.strip().splitlines()[-1] if process.stdout.strip() else ''}")
    checks.expect(process.returncode == 0, f"profile.sh exited {process.returncode}: {process.stderr[-2000:]}")


def check_missing_binary(checks, out):
    process = subprocess.run([sys.executable, str(HERE / "line_fit.py"), "--mlptune", str(out / "no-mlptune"),
                              "--out", str(out / "unused")], capture_output=True, text=True)
    checks.expect(process.returncode == 1 and "not found: run scripts/build first" in process.stderr,
                  f"a missing binary is named with the fix: {process.stderr.strip()}")


EXPERIMENTS = [  # script, check of its output folder
    ("line_fit.py", check_line),
    ("learning_rate.py", check_learning_rate),
    ("batch_size.py", check_batch_size),
    ("depth_width.py", check_depth_width),
    ("search_strategies.py", check_search),
    ("concurrency.py", check_concurrency),
]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mlptune", default=str(common.DEFAULT_BINARY), help="the mlptune binary")
    p.add_argument("--out", required=True, help="folder for every experiment's output")
    args = p.parse_args(argv)
    try:
        binary = common.find_binary(args.mlptune)
    except common.ExperimentError as error:
        print(f"error: {error}\n0 passed, 1 failed")
        return 1
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    checks = Checks()
    start = time.perf_counter()
    folders = {}
    for script, check in EXPERIMENTS:
        folder = run_experiment(script, binary, out, checks)
        folders[script] = folder
        if folder is not None:
            try:
                check(checks, folder)
            except (OSError, KeyError, ValueError) as error:
                checks.expect(False, f"{script}: reading its output failed: {error!r}")
    if folders["search_strategies.py"] is not None:
        check_plot_command(checks, out, folders["search_strategies.py"])
    check_profile_script(checks, binary, out)
    check_missing_binary(checks, out)
    print(f"({time.perf_counter() - start:.0f} s)\n{checks.passed} passed, {checks.failed} failed")
    return 0 if checks.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
