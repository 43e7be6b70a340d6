"""MNIST's training images and labels as PyTorch tensors (pixels scaled to [0, 1]), read from the
bundled IDX files; shared by the PyTorch baselines torch_cpu.py and torch_gpu.py."""
import gzip
import pathlib

import numpy as np
import torch


def load_mnist_train(datasets: pathlib.Path):
    with gzip.open(datasets / "mnist" / "train-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)
    with gzip.open(datasets / "mnist" / "train-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    return torch.from_numpy(images.astype(np.float32) / 255.0), torch.from_numpy(labels.astype(np.int64))
