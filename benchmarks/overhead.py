"""Per-iteration overhead of miniengine and Ignite over a hand-written loop.

Each scenario runs as a raw ``for`` loop, with miniengine and (when installed) with Ignite, in
one process, alternating between them so that drifts in machine speed hit all alike. It prints
the best CPU time per iteration (``time.process_time``: steadier than wall time on a shared
machine), the overhead over the raw loop, and import times.

Usage: ``python benchmarks/overhead.py [--quick] [--only SUBSTRING]``.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

N = 20_000  # iterations per timed run


def load(prefix: str) -> SimpleNamespace:
    """The pieces a scenario needs, from `miniengine` or `ignite`."""
    engine = importlib.import_module(f"{prefix}.engine")
    return SimpleNamespace(
        Engine=engine.Engine,
        Events=engine.Events,
        RunningAverage=importlib.import_module(f"{prefix}.metrics").RunningAverage,
        tb=importlib.import_module(f"{prefix}.handlers.tensorboard_logger"),
    )


def counted_loop(data: list, step: Callable, handlers: list, every: int | None) -> None:
    """The hand-written loop: a counter, the step, the handlers' work inline."""
    state = SimpleNamespace(iteration=0)
    for batch in data:
        state.iteration += 1
        step(state, batch)
        for h in handlers:
            if every is None or state.iteration % every == 0:
                h(state)


def engine_with(lib: Any, step: Callable, handlers: list, every: int | None) -> Any:
    engine = lib.Engine(step)
    event = lib.Events.ITERATION_COMPLETED
    for h in handlers:
        engine.add_event_handler(event if every is None else event(every=every), h)
    return engine


def trivial(engine: Any, batch: Any) -> Any:
    return batch


def noop(engine: Any) -> None:
    pass


def mlp_step() -> Callable:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 64), torch.randn(32, 1)

    def step(engine: Any, batch: Any) -> Any:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step


def running_average_raw(data: list, alpha: float = 0.98) -> None:
    """RunningAverage by hand, read every iteration (what a logging line would do)."""
    avg, seen = None, []
    for out in data:
        x = out.item() if hasattr(out, "item") else out
        avg = x if avg is None else avg * alpha + (1 - alpha) * x
        seen.append(avg)


def running_average_engine(lib: Any, data: list) -> Callable[[], Any]:
    engine = lib.Engine(trivial)
    lib.RunningAverage(output_transform=lambda out: out).attach(engine, "loss")
    seen: list = []
    engine.add_event_handler(
        lib.Events.ITERATION_COMPLETED, lambda e: seen.append(e.state.metrics["loss"])
    )
    return lambda: engine.run(data)


def scenarios(libs: dict[str, Any], logdir: str) -> list[tuple[str, int, dict, str]]:
    """(title, iterations per run, {name: run function}, how to report: "us" or "%")."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    data, floats = list(range(N)), [float(i % 7) for i in range(N)]
    tensors = [torch.tensor(x) for x in floats]
    out = []
    for title, handlers, every in [
        ("bare run", [], None),
        ("10 handlers", [noop] * 10, None),
        ("10 handlers every=100", [noop] * 10, 100),
    ]:
        fns = {"raw": lambda h=handlers, e=every: counted_loop(data, trivial, h, e)}
        for name, lib in libs.items():
            fns[name] = partial(engine_with(lib, trivial, handlers, every).run, data)
        out.append((title, N, fns, "us"))

    small = list(range(10))
    fns = {"raw": lambda: [counted_loop(small, trivial, [], None) for _ in range(2000)]}
    for name, lib in libs.items():
        fns[name] = partial(lib.Engine(trivial).run, small, max_epochs=2000)
    out.append(("2000 epochs x 10 iterations", 20_000, fns, "us"))

    step, mlp_data = mlp_step(), [None] * 500
    fns = {"raw": lambda: counted_loop(mlp_data, step, [], None)}
    for name, lib in libs.items():
        fns[name] = partial(lib.Engine(step).run, mlp_data)
    out.append(("tiny MLP step (64-64-1, batch 32)", len(mlp_data), fns, "%"))

    for title, outputs in [("RunningAverage, float outputs", floats),
                           ("RunningAverage, 0-d tensor outputs", tensors)]:  # fmt: skip
        fns = {"raw": lambda o=outputs: running_average_raw(o)}
        for name, lib in libs.items():
            fns[name] = running_average_engine(lib, outputs)
        out.append((title, N, fns, "us"))

    # TensorBoard: RunningAverage + one scalar per iteration. The raw loop calls add_scalar.
    raw_writer = SummaryWriter(f"{logdir}/raw")

    def tb_raw(alpha: float = 0.98) -> None:
        avg = None
        for i, x in enumerate(floats, 1):
            avg = x if avg is None else avg * alpha + (1 - alpha) * x
            raw_writer.add_scalar("train/loss", avg, i)

    fns = {"raw": tb_raw}
    for name, lib in libs.items():
        engine = lib.Engine(trivial)
        lib.RunningAverage(output_transform=lambda out: out).attach(engine, "loss")
        logger = lib.tb.TensorboardLogger(log_dir=f"{logdir}/{name}")
        logger.attach(
            engine,
            lib.tb.OutputHandler(tag="train", metric_names=["loss"]),
            lib.Events.ITERATION_COMPLETED,
        )
        fns[name] = partial(engine.run, floats)
    out.append(("RunningAverage + TensorBoard scalar", N, fns, "us"))
    return out


def best_cpu_time(fn: Callable[[], Any]) -> float:
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


def import_time(module: str) -> float:
    """Seconds `import module` adds over `import torch`, in a fresh interpreter (best of 3)."""
    code = f"import time, torch; t = time.perf_counter(); import {module}; "
    code += "print(time.perf_counter() - t)"
    return min(float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 repeats instead of 15")
    parser.add_argument("--only", default="", help="run the scenarios whose title has this")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15

    libs = {"miniengine": load("miniengine")}
    try:
        libs["ignite"] = load("ignite")
    except ImportError:
        print("(pytorch-ignite is not installed: comparing the raw loop and miniengine only)")
    names = ["raw", *libs]
    print(f"CPU µs per iteration, best of {repeats}; overhead = library - raw")
    header = f"{'scenario':38s}" + "".join(f"{n:>12s}" for n in names)
    print(header + "".join(f"{n + ' overhead':>21s}" for n in names[1:]))
    with tempfile.TemporaryDirectory() as logdir:
        for title, n, fns, unit in scenarios(libs, logdir):
            if args.only not in title:
                continue
            best = dict.fromkeys(fns, float("inf"))
            for _ in range(repeats):
                for k, fn in fns.items():
                    best[k] = min(best[k], best_cpu_time(fn))
            us = {k: v / n * 1e6 for k, v in best.items()}
            row = f"{title:38s}" + "".join(f"{us[k]:12.3f}" for k in names)
            for k in names[1:]:
                if unit == "%":
                    row += f"{(us[k] / us['raw'] - 1) * 100:+20.1f}%"
                else:
                    row += f"{us[k] - us['raw']:+18.3f}µs"
            print(row, flush=True)
    print()
    for mod in ["miniengine", *(["ignite.engine"] if "ignite" in libs else [])]:
        print(f"import {mod}: +{import_time(mod) * 1000:.0f} ms over import torch")


if __name__ == "__main__":
    main()
