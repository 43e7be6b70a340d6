#!/usr/bin/env python3
"""Benchmark (not a test): ask + report + tell throughput of Optuna's RDBStorage with WORKERS
processes, and the latency of one trial.report, timed the way bench_storage_ops times mlptune's
storage (benchmarks/storage_ops.cpp): each worker its own process and connection, all starting
together, looping for SECONDS over ask, suggest lr and batch_size, EPOCHS reports, tell.

    python3 benchmarks/storage_optuna.py URL WORKERS SECONDS EPOCHS

URL is an SQLAlchemy URL (postgresql://..., sqlite:///path). The sampler is RandomSampler: it
reads no history, as bench_storage_ops's random sampler does not, so that both time their storage
and not a sampler (Optuna's default TPESampler reads every finished trial at each suggestion).
"""
import math
import multiprocessing
import os
import queue
import sys
import time

import optuna

BARRIER_TIMEOUT_SECONDS = 300  # a worker that cannot import Optuna or connect in that time has failed


def synthetic_loss(lr, epoch):
    """A loss that falls with the epoch and depends on lr, as storage_ops.cpp's does."""
    return (math.log10(lr) + 2.5) ** 2 + 1.0 / epoch


def percentile(sorted_values, fraction):
    """Nearest rank, as storage_ops.cpp computes it."""
    if not sorted_values:
        return math.nan
    rank = min(max(math.ceil(fraction * len(sorted_values)), 1), len(sorted_values))
    return sorted_values[rank - 1]


def worker(url, study_name, seconds, epochs, barrier, results):
    """One worker: its own storage, then until the deadline: ask, suggest, report EPOCHS values, tell."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=study_name, storage=optuna.storages.RDBStorage(url),
                                  sampler=optuna.samplers.RandomSampler(seed=os.getpid()))
    except BaseException:
        barrier.abort()  # the others stop waiting for this worker
        raise
    barrier.wait(BARRIER_TIMEOUT_SECONDS)
    start = time.perf_counter()
    deadline = start + seconds
    trials, report_ms = 0, []
    while time.perf_counter() < deadline:
        trial = study.ask()
        lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
        trial.suggest_categorical("batch_size", [64, 128, 256])
        for epoch in range(1, epochs + 1):
            before = time.perf_counter()
            trial.report(synthetic_loss(lr, epoch), epoch)
            report_ms.append(1000.0 * (time.perf_counter() - before))
        study.tell(trial, synthetic_loss(lr, epochs))
        trials += 1
    results.put((trials, time.perf_counter() - start, report_ms))


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: storage_optuna.py URL WORKERS SECONDS EPOCHS")
    url, workers, seconds, epochs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
    system = url.split(":", 1)[0].split("+", 1)[0]  # postgresql, sqlite
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    # A fresh study per run, created before the workers start.
    study_name = f"bench-storage-optuna-{os.getpid()}-{time.time_ns()}"
    optuna.create_study(storage=optuna.storages.RDBStorage(url), study_name=study_name, direction="minimize")

    # spawn: every worker a fresh interpreter with its own connections, as separate Optuna workers are.
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [context.Process(target=worker, args=(url, study_name, seconds, epochs, barrier, results))
                 for _ in range(workers)]
    for process in processes:
        process.start()
    # Read before joining: a worker's large result stays in its queue's pipe until it is read. A
    # worker that fails puts nothing (and breaks the barrier for the others): stop once all are gone.
    collected = []
    while len(collected) < workers:
        try:
            collected.append(results.get(timeout=1.0))
        except queue.Empty:
            if not any(process.is_alive() for process in processes) and results.empty():
                break
    for process in processes:
        process.join()
    if len(collected) < workers or any(p.exitcode != 0 for p in processes):
        sys.exit("storage_optuna.py: a worker failed (its traceback is above)")

    trials = sum(result[0] for result in collected)
    elapsed = max(result[1] for result in collected)
    report_ms = sorted(ms for result in collected for ms in result[2])
    print(f"optuna {system} workers={workers} trials={trials} trials_per_s={trials / elapsed:.1f} "
          f"report_p50_ms={percentile(report_ms, 0.50):.3f} report_p99_ms={percentile(report_ms, 0.99):.3f} "
          f"seconds={elapsed:.2f}")


if __name__ == "__main__":
    main()
