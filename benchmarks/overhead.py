"""Per-iteration overhead of miniengine and Ignite over a hand-written loop.

Runs every scenario for a raw ``for`` loop, miniengine and (when installed) Ignite in one
process, alternating between them, and prints the best-of-N time per iteration in µs, the
ratios, and import times. Usage: ``python benchmarks/overhead.py [--quick]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

N_ITERS = 20_000


def raw_loop(data: list, step: Callable, handlers: list[Callable], every: int | None) -> None:
    class E:  # what a hand-written loop keeps anyway: counters
        iteration = 0

    e = E()
    for batch in data:
        e.iteration += 1
        step(e, batch)
        for h in handlers:
            if every is None or e.iteration % every == 0:
                h(e)


def engine_run(
    lib: Any, data: list, step: Callable, handlers: list, every: int | None, max_epochs: int = 1
) -> Callable[[], Any]:
    engine = lib.Engine(step)
    event = (
        lib.Events.ITERATION_COMPLETED
        if every is None
        else lib.Events.ITERATION_COMPLETED(every=every)
    )
    for h in handlers:
        engine.add_event_handler(event, h)
    return lambda: engine.run(data, max_epochs=max_epochs)


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def mlp_step() -> tuple[Callable, list]:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(32, 64), torch.randn(32, 1)

    def step(engine: Any, batch: Any) -> float:
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, [None] * 500


def import_time(module: str) -> float:
    """Seconds that `import module` adds over `import torch`, in a fresh interpreter (best of 3)."""
    code = (
        f"import time, torch; t = time.perf_counter(); import {module}; "
        "print(time.perf_counter() - t)"
    )
    runs = [float(subprocess.check_output([sys.executable, "-c", code])) for _ in range(3)]
    return min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats (CI smoke run)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 15

    import miniengine

    libs: dict[str, Any] = {"miniengine": miniengine}
    try:
        import ignite.engine

        libs["ignite"] = ignite.engine
    except ImportError:
        print("(pytorch-ignite not installed: comparing raw loop and miniengine only)")

    def trivial(engine: Any, batch: Any) -> Any:
        return batch

    def handler(engine: Any) -> None:
        pass

    data = list(range(N_ITERS))
    small = list(range(10))
    step, mlp_data = mlp_step()
    scenarios: list[tuple[str, int, dict[str, Callable[[], Any]]]] = []
    for title, hs, every in [
        ("bare run", [], None),
        ("10 handlers", [handler] * 10, None),
        ("10 handlers every=100", [handler] * 10, 100),
    ]:
        fns = {"raw": lambda hs=hs, every=every: raw_loop(data, trivial, hs, every)}
        fns |= {k: engine_run(m, data, trivial, hs, every) for k, m in libs.items()}
        scenarios.append((title, N_ITERS, fns))
    fns = {"raw": lambda: [raw_loop(small, trivial, [], None) for _ in range(2000)]}
    fns |= {k: engine_run(m, small, trivial, [], None, max_epochs=2000) for k, m in libs.items()}
    scenarios.append(("2000 epochs x 10 iterations", 20_000, fns))
    fns = {"raw": lambda: raw_loop(mlp_data, step, [], None)}
    fns |= {k: engine_run(m, mlp_data, step, [], None) for k, m in libs.items()}
    scenarios.append(("tiny MLP step (64-64-1, batch 32)", len(mlp_data), fns))

    names = ["raw", *libs]
    print(
        f"{'scenario':36s}"
        + "".join(f"{n + ' µs/it':>16s}" for n in names)
        + "".join(f"{n + ' over raw':>20s}" for n in names[1:])
    )
    for title, n, fns in scenarios:
        best = {k: float("inf") for k in fns}
        for _ in range(repeats):  # alternate, so drifts in machine speed hit all alike
            for k, fn in fns.items():
                best[k] = min(best[k], best_of(fn, 1))
        us = {k: v / n * 1e6 for k, v in best.items()}
        row = f"{title:36s}" + "".join(f"{us[k]:16.3f}" for k in names)
        if title.startswith("tiny MLP"):
            row += "".join(f"{(us[k] / us['raw'] - 1) * 100:+19.1f}%" for k in names[1:])
        else:
            row += "".join(f"{us[k] - us['raw']:+17.3f}µs" for k in names[1:])
        print(row)
    print()
    for mod in ["miniengine", *(["ignite.engine"] if "ignite" in libs else [])]:
        print(f"import {mod}: +{import_time(mod) * 1000:.0f} ms over import torch")


if __name__ == "__main__":
    main()
