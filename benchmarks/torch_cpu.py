#!/usr/bin/env python3
"""PyTorch on the CPU, the baseline of scripts/bench-cpu: the same MLP, data and training loop as
`mlptune train` (mini-batches from a shuffled permutation, softmax cross-entropy, SGD or Adam), timed
over whole epochs. Prints one JSON object per epoch with samples_per_second."""
import argparse
import json
import pathlib
import time

import torch

from mnist_torch import load_mnist_train


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=pathlib.Path, default=pathlib.Path(__file__).parent.parent / "datasets")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="adam")
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--train-rows", type=int, default=54000, help="rows per epoch (mlptune keeps 10%% for validation)")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    features, labels = load_mnist_train(args.datasets)
    features, labels = features[: args.train_rows].contiguous(), labels[: args.train_rows].contiguous()

    widths = [784] + [int(w) for w in args.hidden.split(",") if w] + [10]
    layers = []
    for i in range(len(widths) - 1):
        layers.append(torch.nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    if args.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    rows = features.shape[0]
    for epoch in range(args.epochs):
        order = torch.randperm(rows)
        start = time.perf_counter()
        total_loss = 0.0
        for first in range(0, rows, args.batch_size):
            index = order[first : first + args.batch_size]
            x, y = features[index], labels[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            total_loss += loss.item() * len(index)
        seconds = time.perf_counter() - start
        print(json.dumps({"epoch": epoch + 1, "samples_per_second": rows / seconds, "seconds": seconds,
                          "train_loss": total_loss / rows, "torch": torch.__version__, "threads": args.threads}))


if __name__ == "__main__":
    main()
