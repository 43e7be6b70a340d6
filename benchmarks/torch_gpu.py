#!/usr/bin/env python3
"""PyTorch on the GPU, the baseline of benchmarks/cuda_throughput.cpp: the 784-256-256-10 MLP on
MNIST at batch 128 with Adam, the data already on the GPU, a plain training loop (shuffle with
randperm on the device, index, forward, loss, backward, step). Prints one JSON object per epoch
with samples_per_second; the first epoch warms up."""
import argparse
import json
import pathlib
import time

import torch

from mnist_torch import load_mnist_train


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=pathlib.Path, default=pathlib.Path(__file__).parent.parent / "datasets")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--train-rows", type=int, default=54000, help="rows per epoch (mlptune keeps 10%% for validation)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 matrix products (default: exact fp32, as mlptune)")
    args = parser.parse_args()

    device = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.manual_seed(0)
    features, labels = load_mnist_train(args.datasets)
    features = features[: args.train_rows].contiguous().to(device)
    labels = labels[: args.train_rows].contiguous().to(device)

    model = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10)
    ).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    rows = features.shape[0]
    for epoch in range(args.epochs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        order = torch.randperm(rows, device=device)
        loss_sum = torch.zeros((), device=device)
        for first in range(0, rows, args.batch_size):
            index = order[first : first + args.batch_size]
            x, y = features[index], labels[index]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach() * x.shape[0]
        torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        print(json.dumps({"benchmark": "torch_gpu", "epoch": epoch + 1, "train_loss": loss_sum.item() / rows,
                          "samples_per_second": rows / seconds, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
