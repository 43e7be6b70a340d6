"""An MLP in NumPy, the outside reference the data-file tests compare mlptune with.

Weights are read and written with the safetensors package, named as PyTorch names an
nn.ModuleList of nn.Linear called `layers`: layers.N.weight (out, in), layers.N.bias (out).
Each command prints what it found and exits non-zero when mlptune's numbers disagree.

  numpy_mlp.py weights OUT DTYPE SEED W0 W1 ...         random layers W0 -> W1 -> ..., in DTYPE
  numpy_mlp.py sgd WEIGHTS TRAIN.csv LR EPOCHS SAVED    per-row SGD on MSE in file order (linear model)
  numpy_mlp.py test-loss WEIGHTS TEST.csv LABEL ACTIVATION METRICS.json
  numpy_mlp.py predict MODEL TRAIN.csv LABEL NEW.csv ACTIVATION TASK PREDICTIONS.csv
  numpy_mlp.py strip-data MODEL OUT                     MODEL without its mlptune.data entry (an older file)
"""
import json
import sys

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file


def fail(message):
    print("numpy_mlp: " + message)
    sys.exit(1)


def read_csv(path, label):
    """Features (float64) and the label column of a CSV with a header line."""
    with open(path) as f:
        names = f.readline().strip().split(",")
    values = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    column = names.index(label) if label in names else len(names) - 1
    return np.delete(values, column, axis=1), values[:, column]


def layers_of(path):
    tensors = load_file(path)
    count = len([name for name in tensors if name.endswith(".weight")])
    return [(tensors[f"layers.{i}.weight"].astype(np.float64), tensors[f"layers.{i}.bias"].astype(np.float64))
            for i in range(count)]


ACTIVATIONS = {"relu": lambda z: np.maximum(z, 0), "tanh": np.tanh, "identity": lambda z: z}


def forward(layers, x, activation):
    for i, (weight, bias) in enumerate(layers):
        x = x @ weight.T + bias
        if i + 1 < len(layers):
            x = ACTIVATIONS[activation](x)
    return x


def softmax(logits):
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def close(name, got, expected, tolerance):
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    if got.shape != expected.shape:
        fail(f"{name}: shape {got.shape}, expected {expected.shape}")
    error = np.max(np.abs(got - expected) / (tolerance + tolerance * np.abs(expected)), initial=0.0)
    print(f"{name}: largest difference {error:.3g} of the tolerance {tolerance}")
    if error > 1:
        fail(f"{name}: got {got.ravel()[:8]}, expected {expected.ravel()[:8]}")


def weights(out, dtype, seed, widths):
    rng = np.random.default_rng(int(seed))
    widths = [int(w) for w in widths]
    tensors = {}
    for i, (fan_in, fan_out) in enumerate(zip(widths, widths[1:])):
        tensors[f"layers.{i}.weight"] = (rng.normal(size=(fan_out, fan_in)) / np.sqrt(fan_in)).astype(dtype)
        tensors[f"layers.{i}.bias"] = rng.normal(scale=0.1, size=fan_out).astype(dtype)
    save_file(tensors, out)  # no metadata, as safetensors.torch.save_file writes a state dict


def sgd(weights_path, train_path, lr, epochs, saved_path):
    """mlptune's targets are standardised on the training split (population statistics); the
    update of torch.optim.SGD on MSE for one row is w -= lr * 2 (p - t) x."""
    x, y = read_csv(train_path, "")
    target = ((y - y.mean()) / y.std()).astype(np.float32).astype(np.float64)
    (weight, bias), = layers_of(weights_path)
    for _ in range(int(epochs)):
        for row in range(len(x)):
            gradient = 2 * (x[row] @ weight.T + bias - target[row])
            weight = weight - float(lr) * np.outer(gradient, x[row])
            bias = bias - float(lr) * gradient
    (saved_weight, saved_bias), = layers_of(saved_path)
    close("layers.0.weight after training in file order", saved_weight, weight, 1e-4)
    close("layers.0.bias after training in file order", saved_bias, bias, 1e-4)


def test_loss(weights_path, test_path, label, activation, metrics_path):
    x, y = read_csv(test_path, label)
    probabilities = softmax(forward(layers_of(weights_path), x, activation))
    loss = -np.mean(np.log(probabilities[np.arange(len(y)), y.astype(int)]))
    accuracy = np.mean(probabilities.argmax(axis=1) == y)
    with open(metrics_path) as f:
        test = json.load(f)["result"]["test"]
    if test["samples"] != len(y):
        fail(f"the test split has {test['samples']} rows, {test_path} has {len(y)}")
    close("test loss of the starting weights", test["loss"], loss, 1e-5)
    close("test accuracy of the starting weights", test["accuracy"], accuracy, 1e-9)


def predict(model_path, train_path, label, new_path, activation, task, predictions_path):
    """Scaling as mlptune fits it (standard, population statistics) on the training split, which
    is the whole training file when the test comes from its own file and validation is 0."""
    x, y = read_csv(train_path, label)
    with open(new_path) as f:
        f.readline()
        new = np.loadtxt(f, delimiter=",", ndmin=2)
    if new.shape[1] == x.shape[1] + 1:  # the label column is there too; mlptune drops it
        with open(new_path) as f:
            names = f.readline().strip().split(",")
        new = np.delete(new, names.index(label), axis=1)
    scaled = (new - x.mean(axis=0)) / x.std(axis=0)
    outputs = forward(layers_of(model_path), scaled, activation)
    with open(predictions_path) as f:
        header = f.readline().strip().split(",")
        written = np.loadtxt(f, delimiter=",", ndmin=2)
    if task == "classification":
        probabilities = softmax(outputs)
        expected_header = ["class"] + [f"probability_{c}" for c in range(outputs.shape[1])]
        if header != expected_header:
            fail(f"header {header}, expected {expected_header}")
        close("classes", written[:, 0], probabilities.argmax(axis=1), 1e-9)
        close("probabilities", written[:, 1:], probabilities, 1e-4)
        close("probabilities' sums", written[:, 1:].sum(axis=1), np.ones(len(new)), 1e-5)
    else:
        if header != ["value"]:
            fail(f"header {header}, expected ['value']")
        close("values in the file's units", written[:, 0], outputs[:, 0] * y.std() + y.mean(), 1e-4)


def strip_data(model_path, out):
    with safe_open(model_path, framework="np") as f:
        metadata = {key: value for key, value in f.metadata().items() if key != "mlptune.data"}
    save_file(load_file(model_path), out, metadata=metadata)


if __name__ == "__main__":
    command, arguments = sys.argv[1], sys.argv[2:]
    if command == "weights":
        weights(arguments[0], arguments[1], arguments[2], arguments[3:])
    elif command == "sgd":
        sgd(*arguments)
    elif command == "test-loss":
        test_loss(*arguments)
    elif command == "predict":
        predict(*arguments)
    elif command == "strip-data":
        strip_data(*arguments)
    else:
        fail("unknown command " + command)
