#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus (fuzz/corpus/<harness>/): small real files cut from datasets/,
files written by NumPy, a model and a study written by mlptune itself.

    python3 fuzz/make_corpus.py --mlptune build/mlptune

Regression inputs (regression-*) are kept: they are added by hand, one per finding.
"""
import argparse
import gzip
import io
import pathlib
import shutil
import sqlite3
import subprocess
import tempfile

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
DATASETS = ROOT / "datasets"
NEXT_FILE = b"\n--mlptune-fuzz-next-file--\n"  # fuzz_support.hpp's kNextFile


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def write(harness: str, name: str, data: bytes) -> None:
    folder = CORPUS / harness
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


def clear_seeds() -> None:
    for path in CORPUS.glob("*/*"):
        if not path.name.startswith("regression-"):
            path.unlink()


def idx_seeds() -> None:
    images = gzip.decompress((DATASETS / "mnist/t10k-images-idx3-ubyte.gz").read_bytes())
    labels = gzip.decompress((DATASETS / "mnist/t10k-labels-idx1-ubyte.gz").read_bytes())

    def pair(count: int, rows: int = 28, cols: int = 28) -> tuple[bytes, bytes]:
        # The first `count` images, cropped to rows x cols from their top-left corner.
        pixels = np.frombuffer(images[16:16 + count * 784], np.uint8).reshape(count, 28, 28)[:, :rows, :cols]
        header = np.array([0x803, count, rows, cols], ">u4").tobytes()
        return header + pixels.tobytes(), np.array([0x801, count], ">u4").tobytes() + labels[8:8 + count]

    for count, rows, cols in ((3, 28, 28), (5, 4, 4), (1, 2, 3), (8, 1, 1)):
        image_file, label_file = pair(count, rows, cols)
        write("idx", f"mnist-{count}x{rows}x{cols}", image_file + NEXT_FILE + label_file)
    image_file, label_file = pair(4, 6, 6)
    write("idx", "mnist-4x6x6-gz", gz(image_file) + NEXT_FILE + gz(label_file))


def csv_seeds() -> None:
    def lines(path: pathlib.Path, count: int) -> bytes:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as file:
            return b"".join(file.readline() for _ in range(count))

    sklearn = DATASETS / "sklearn"
    write("csv", "iris-6.csv", lines(sklearn / "iris.csv", 7).replace(b"150,", b"6,", 1))
    write("csv", "wine-4.csv", lines(sklearn / "wine_data.csv", 5).replace(b"178,", b"4,", 1))
    write("csv", "breast-cancer-3.csv", lines(sklearn / "breast_cancer.csv", 4).replace(b"569,", b"3,", 1))
    write("csv", "digits-3.csv.gz", gz(lines(sklearn / "digits.csv.gz", 3)))
    # Regression: five diabetes rows, the target appended as the last column.
    data = np.loadtxt(sklearn / "diabetes_data_raw.csv.gz", max_rows=5, ndmin=2)
    target = np.loadtxt(sklearn / "diabetes_target.csv.gz", max_rows=5)
    rows = [",".join(f"{v:g}" for v in (*features, y)) for features, y in zip(data, target)]
    write("csv", "diabetes-5-regression.csv", ("\n".join(rows) + "\n").encode())
    write("csv", "named-columns.csv", b"sepal,petal,label\n5.1,3.5,0\n4.9,+3.0,1\n\n6.2,2.9e0,2\n")
    write("csv", "whitespace.txt", b"1 2\t0\n  3   4 1\r\n-5 6.5 0\n")
    write("csv", "byte-order-mark.csv", b"\xef\xbb\xbfsepal,petal,label\n5.1,3.5,0\n4.9,3.0,1\n")
    write("csv", "quoted.csv", b'"a,b","say ""hi""\n(cm)",label\n"0.13", 2 ,"1"\n4,"5e-1",0\n')
    write("csv", "crlf.csv", b"x,y,label\r\n1,2,0\r\n\r\n3,4,1\r\n")


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def npy_v2_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, version=(2, 0), allow_pickle=False)
    return buffer.getvalue()


def npy_seeds() -> None:
    iris = np.loadtxt(DATASETS / "sklearn/iris.csv", delimiter=",", skiprows=1)[::30]  # 5 rows
    write("npy", "iris-5-f4.npy", npy_bytes(iris.astype(np.float32)))
    write("npy", "iris-5-f8-v2.npy", npy_v2_bytes(iris))
    write("npy", "iris-5-features-labels",
          npy_bytes(iris[:, :4].astype(np.float32)) + NEXT_FILE + npy_bytes(iris[:, 4].astype(np.int64)))
    write("npy", "bytes-u1-i4-labels",
          npy_bytes(np.arange(12, dtype=np.uint8).reshape(4, 3)) + NEXT_FILE +
          npy_bytes(np.array([0, 1, 1, 0], np.int32)))
    write("npy", "iris-5-f4-gz.npy", gz(npy_bytes(iris.astype(np.float32))))


def run(mlptune: pathlib.Path, *args: str, cwd: pathlib.Path) -> None:
    subprocess.run([str(mlptune), *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


STUDY = b"""method: bayes
metric: {name: validation_accuracy, goal: maximize}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-3, max: 1.0e-1}
  hidden: {values: ["4", "8,4"]}
  activation: {values: [relu, tanh]}
  epochs: {value: 3}
early_terminate: {type: hyperband, min_iter: 1, max_iter: 3, eta: 3}
run_cap: 4
mlptune: {dataset: iris, backend: cpu, seed: 1, storage: tiny.db, n_startup_trials: 2}
"""


def with_adam_slots(model: pathlib.Path) -> bytes:
    """The model as safetensors' own writer lays it out, with Adam's two slots per parameter."""
    from safetensors.numpy import load_file, save
    from safetensors import safe_open
    tensors = load_file(str(model))
    with safe_open(str(model), "np") as file:
        metadata = file.metadata()
    for name, value in list(tensors.items()):
        tensors["optimizer.first." + name] = value * 0.5
        tensors["optimizer.second." + name] = value * value
    metadata["mlptune.step"] = "3"
    return save(tensors, metadata)


def plain_layer_seeds() -> None:
    """Layers as PyTorch saves a ModuleList of nn.Linear, without metadata, in the shapes of the
    harness's model (4 -> 4 -> 3), in float16 and float64."""
    from safetensors.numpy import save
    rng = np.random.default_rng(0)
    for dtype in ("float16", "float64"):
        tensors = {"layers.0.weight": rng.normal(size=(4, 4)), "layers.0.bias": rng.normal(size=4),
                   "layers.1.weight": rng.normal(size=(3, 4)), "layers.1.bias": rng.normal(size=3)}
        write("safetensors", f"pytorch-layers-{dtype}.safetensors",
              save({name: value.astype(dtype) for name, value in tensors.items()}))


def model_and_study_seeds(mlptune: pathlib.Path) -> None:
    with tempfile.TemporaryDirectory() as folder_name:
        folder = pathlib.Path(folder_name)
        run(mlptune, "train", "--dataset", "iris", "--epochs", "1", "--hidden", "4", "--save", "x.safetensors",
            "--backend", "cpu", cwd=folder)
        write("safetensors", "iris-hidden-4.safetensors", (folder / "x.safetensors").read_bytes())
        (folder / "tiny.yaml").write_bytes(STUDY)
        run(mlptune, "tune", "tiny.yaml", "--quiet", "--journal", "tiny.log", cwd=folder)
        write("journal", "tiny-study-live.log", (folder / "tiny.log").read_bytes())
        write("safetensors", "study-best-weights.safetensors", (folder / "tiny.db.best.safetensors").read_bytes())
        write("safetensors", "adam-state-by-python.safetensors", with_adam_slots(folder / "x.safetensors"))
        database = sqlite3.connect(folder / "tiny.db")
        name, = database.execute("SELECT name FROM studies").fetchone()
        for number, params, attributes, message in database.execute(
                "SELECT number, params_json, attributes_json, message FROM trials ORDER BY number LIMIT 3"):
            columns = [params.encode(), attributes.encode(), message.encode(), name.encode()]
            write("storage_export", f"tiny-trial-{number}", NEXT_FILE.join(columns))
        database.close()
    write("storage_export", "params-only", b'{"lr":{"value":0.5},"depth":{"value":3}}')
    write("journal", "requeued-then-torn.log", JOURNAL_REQUEUED)


# A trial that ran, went back to waiting (requeued), ran again and completed; a second trial
# running; then a last record cut off mid-line.
JOURNAL_REQUEUED = b"""{"directions":[1],"op_code":0,"study_name":"fuzz","worker_id":"w"}
{"op_code":3,"study_id":0,"system_attr":{"study:metric_names":["validation_loss"]},"worker_id":"w"}
{"datetime_start":"2024-05-01T12:00:00.000000+00:00","op_code":4,"study_id":0,"worker_id":"w"}
{"distribution":"{\\"attributes\\":{\\"high\\":1.0,\\"log\\":true,\\"low\\":0.0001,\\"step\\":null},\\"name\\":\\"FloatDistribution\\"}","op_code":5,"param_name":"lr","param_value_internal":0.01,"trial_id":0,"worker_id":"w"}
{"op_code":8,"trial_id":0,"user_attr":{"seed":"0"},"worker_id":"w"}
{"intermediate_value":0.5,"op_code":7,"step":1,"trial_id":0,"worker_id":"w"}
{"op_code":6,"state":4,"trial_id":0,"values":null,"worker_id":"w"}
{"datetime_start":"2024-05-01T12:00:05.000000+00:00","op_code":6,"state":0,"trial_id":0,"values":null,"worker_id":"w"}
{"datetime_complete":"2024-05-01T12:00:09.000000+00:00","op_code":6,"state":1,"trial_id":0,"values":[0.25],"worker_id":"w"}
{"datetime_start":"2024-05-01T12:00:10.000000+00:00","op_code":4,"study_id":0,"worker_id":"w"}
{"intermediate_value":0.4,"op_code":7,"step":1,"tri"""


def study_yaml_seeds() -> None:
    write("study_yaml", "mnist.yaml", (ROOT / "experiments/mnist.yaml").read_bytes())
    write("study_yaml", "tiny-bayes-hyperband.yaml", STUDY)
    write("study_yaml", "grid-asha.yaml", b"""method: grid
metric: {name: val_loss, goal: minimize}
parameters:
  batch_size: {values: [16, 32]}
  depth: {values: [1, 2]}
  width: {value: 8}
early_terminate: {type: asha, min_iter: 1, max_iter: 9, eta: 3}
mlptune: {dataset: digits}
""")
    write("study_yaml", "sobol-distributions.yaml", b"""name: every-kind
method: sobol
metric:
  name: val_accuracy
  goal: maximize
  target: 0.99
run_cap: 40
parameters:
  learning_rate: {distribution: log_uniform_values, min: 1e-4, max: 1.0e-1}
  batch_size: {values: [32, 64, 128], probabilities: [0.2, 0.3, 0.5]}
  depth: {min: 1, max: 4}
  momentum: {min: 0.0, max: 0.99}
  width: {distribution: q_log_uniform_values, min: 16, max: 1024, q: 8}
  weight_decay: {distribution: log_normal, mu: -9, sigma: 2}
  beta1: {distribution: beta, a: 8, b: 2}
  epochs: {distribution: q_uniform, min: 2, max: 10, q: 2}
  step_gamma: {distribution: inv_log_uniform_values, min: 1.5, max: 10}
early_terminate: {type: median, warmup_epochs: 1, startup_trials: 2}
mlptune: {dataset: mnist, backend: cpu, seed: 7, cpu_run_cap: 6, cpu_max_epochs: 2, n_startup_trials: 0}
""")
    write("study_yaml", "random-hidden-lists.yaml", b"""method: random
run_cap: 5
parameters:
  hidden: {values: [[256, 128], "512", [64]]}
  activation: {values: [relu, gelu, sigmoid]}
  optimizer: {values: [sgd, nesterov, adamw]}
  schedule: {value: cosine}
  lr: {distribution: normal, mu: 0.01, sigma: 0.001}
early_terminate: {type: hyperband, max_iter: 27, s: 2, eta: 3, strict: true}
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mlptune", type=pathlib.Path, required=True, help="the built program (build/mlptune)")
    mlptune = parser.parse_args().mlptune.resolve()
    clear_seeds()
    idx_seeds()
    csv_seeds()
    npy_seeds()
    plain_layer_seeds()
    model_and_study_seeds(mlptune)
    study_yaml_seeds()
    for folder in sorted(CORPUS.iterdir()):
        print(f"{folder.name}: {len(list(folder.iterdir()))} files, {sum(p.stat().st_size for p in folder.iterdir())} bytes")


if __name__ == "__main__":
    main()
