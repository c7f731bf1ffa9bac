"""Data-parallel cost on CPU: the tiny-MLP step in 1 vs 2 gloo processes, and the engine's
per-iteration overhead under DDP next to a raw DDP loop.

Every process runs the same global batch of 32 (64-64-1 MLP, MSE, SGD): one process takes it
whole; with two, each takes 16 rows and DDP all-reduces the gradients over loopback. In each
configuration the raw loop (``for batch in data: step(batch)``) and ``Engine.run`` with the same
step take turns, in ``--rounds`` runs of ``--iterations`` each, every run started after a
barrier (which of the two goes first alternates). Rank 0 measures the time of each run and the
time spent inside the step: the rest is the loop's own cost per iteration. Subtracting the step
makes the overhead measurable on a busy machine, where the step time (and with two processes the
wait for the other rank, which happens inside ``backward()``) varies by far more than the
overhead itself. Numbers are medians over the rounds, in microseconds per iteration.

Usage: ``python benchmarks/distributed.py [--iterations 200] [--rounds 30]`` (it launches the
processes itself: no torchrun needed).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.multiprocessing as mp
from torch import nn

import miniengine.distributed as idist
from miniengine.engine import Engine

GLOBAL_BATCH = 32


def make_step(rows: int) -> tuple[Callable[[Any, Any], float], list]:
    torch.manual_seed(0)
    model = idist.auto_model(nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    loss_fn = nn.MSELoss()
    batch = (torch.randn(rows, 64), torch.randn(rows, 1))

    def step(engine: Any, batch: Any) -> float:
        x, y = batch
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()  # under DDP: the gradient all-reduce happens here
        optimizer.step()
        return loss.item()

    return step, [batch]


def bench(rank: int, world: int, ddp: bool, port: int, n: int, rounds: int, results: Any) -> None:
    torch.set_num_threads(1)
    if ddp:
        os.environ.update(
            MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world)
        )
        idist.initialize("gloo", timeout=60)
    step, batches = make_step(GLOBAL_BATCH // world)
    data = batches * n
    inside = [0.0]

    def measured_step(engine: Any, batch: Any) -> float:
        t0 = time.perf_counter()
        out = step(engine, batch)
        inside[0] += time.perf_counter() - t0
        return out

    engine = Engine(measured_step)

    def raw() -> None:
        for batch in data:
            measured_step(None, batch)

    def with_engine() -> None:
        engine.run(data, max_epochs=1)

    raw()  # warm-up: first steps allocate
    runs: dict[str, list[tuple[float, float]]] = {"raw": [], "engine": []}
    for i in range(rounds):
        order = [("raw", raw), ("engine", with_engine)]
        for name, fn in order if i % 2 == 0 else order[::-1]:
            idist.barrier()  # start together, or one rank's lead is the other's wait
            inside[0] = 0.0
            t0 = time.perf_counter()
            fn()
            total = time.perf_counter() - t0
            runs[name].append((total / n, (total - inside[0]) / n))
    if rank == 0:
        med = statistics.median
        row = {}
        for name, times in runs.items():
            row[name] = med(t for t, _ in times)
            row[f"{name}_loop"] = med(o for _, o in times)
        results.put(row)
    idist.finalize()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iterations", type=int, default=200, help="per run")
    parser.add_argument("--rounds", type=int, default=30)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    results = ctx.SimpleQueue()
    # the middle row: two processes that do not talk, each with its half batch; next to the
    # DDP row it tells the cost of sharing 2 cores from the cost of DDP itself
    configs = {"1": (1, False), "2, no DDP": (2, False), "2, DDP": (2, True)}
    rows = {}
    for label, (world, ddp) in configs.items():
        mp.start_processes(
            bench,
            args=(world, ddp, free_port(), args.iterations, args.rounds, results),
            nprocs=world,
            start_method="spawn",
        )
        rows[label] = results.get()
    setup = f"{args.rounds} rounds of {args.iterations} iterations; {os.cpu_count()} CPUs"
    print(f"tiny MLP 64-64-1, global batch {GLOBAL_BATCH}, {setup}, gloo, 1 thread per process")
    header = ["processes", "raw: step+loop", "engine: step+loop", "raw loop", "engine loop"]
    print(" | ".join(header) + " | engine overhead")
    for label, b in rows.items():
        cells = [b["raw"], b["engine"], b["raw_loop"], b["engine_loop"]]
        numbers = [f"{x * 1e6:>{len(h)}.1f}" for x, h in zip(cells, header[1:], strict=True)]
        overhead = (b["engine_loop"] - b["raw_loop"]) * 1e6
        print(" | ".join([f"{label:>9}", *numbers, f"{overhead:>15.1f}"]))
    speed = rows["1"]["raw"] / rows["2, DDP"]["raw"]
    print(f"2 DDP processes vs 1 (raw): {speed:.2f}x the steps per second")


if __name__ == "__main__":
    main()
