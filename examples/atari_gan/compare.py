"""Runs raw.py and engine.py with the same seed and compares results, speed and loop size.

Run from the repository root::

    python -m examples.atari_gan.compare --iterations 300 --repeats 2 --device cpu

Each script runs as its own process, alternating (raw, engine, engine, raw, ...) so that a
slow minute on a shared machine hurts both alike; with ``--together`` the two run at the same
time. No timer is added to either script; two clocks are read from outside:

* wall time: both scripts write one scalar per iteration to TensorBoard, and consecutive wall
  times are one whole iteration each (batch, step, metrics, logging). Median per iteration.
* CPU time: the processor seconds each process used (``getrusage``), minus those of a
  one-iteration run of the same script (start-up: imports, envs, networks), per iteration.
  On a machine shared with other work this is much steadier than wall time. Unix only.
"""

from __future__ import annotations

import argparse
import ast
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

HERE = Path(__file__).resolve().parent
SCRIPTS = ("raw", "engine")
Process = subprocess.Popen[str]


def loop_lines(path: Path) -> int:
    """Counts the code lines of a script's ``main``: no docstring, comments or blank lines.

    Args:
        path: a Python file that defines ``main``.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     script = Path(tmp) / "s.py"
        ...     _ = script.write_text('def main():\\n    "Doc."\\n    # why\\n\\n    return 1\\n')
        ...     loop_lines(script)
        1
    """
    source = path.read_text()
    main = next(
        node
        for node in ast.parse(source).body
        if isinstance(node, ast.FunctionDef) and node.name == "main"
    )
    body = main.body
    if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    lines = source.splitlines()[body[0].lineno - 1 : main.end_lineno]
    return sum(1 for line in lines if line.strip() and not line.strip().startswith("#"))


def iteration_seconds(logdir: Path) -> list[float]:
    """Returns the time between consecutive iterations, from the wall times of one scalar.

    Args:
        logdir: a directory written by raw.py or engine.py.

    Example:
        >>> import tempfile
        >>> from torch.utils.tensorboard import SummaryWriter
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with SummaryWriter(tmp) as writer:
        ...         for step, wall in [(1, 10.0), (2, 10.5), (3, 12.0)]:
        ...             writer.add_scalar("train/avg_loss_gen", 0.0, step, walltime=wall)
        ...     iteration_seconds(Path(tmp))
        [0.5, 1.5]
    """
    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    events.Reload()
    walls = [event.wall_time for event in events.Scalars("train/avg_loss_gen")]
    return [later - earlier for earlier, later in pairwise(walls)]


def _start(name: str, args: argparse.Namespace, iterations: int, logdir: Path) -> Process:
    command = [sys.executable, "-m", f"examples.atari_gan.{name}", "--logdir", str(logdir)]
    command += ["--iterations", str(iterations), "--seed", str(args.seed)]
    command += ["--device", args.device, "--batch-size", str(args.batch_size)]
    print(f"running {' '.join(command[1:])}", file=sys.stderr, flush=True)
    return subprocess.Popen(
        command, cwd=HERE.parents[1], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _finish(name: str, process: Process) -> tuple[str, float]:
    """Waits for the script; returns its last line and the CPU seconds it used."""
    # RUSAGE_CHILDREN grows only when a child is waited for, so the difference is this one's.
    before = _children_cpu_seconds()
    stdout, stderr = process.communicate()
    cpu = _children_cpu_seconds() - before
    if process.returncode != 0:
        sys.exit(f"{name}.py failed with exit status {process.returncode}:\n{stderr}")
    return stdout.splitlines()[-1], cpu


def main(argv: Sequence[str] | None = None) -> int:
    """Runs both scripts, prints the comparison and returns 0 when their results are identical.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=1, help="runs of each script")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--together",
        action="store_true",
        help="run the two scripts at the same time, so that both see the same machine load "
        "(on 2 cores, set OMP_NUM_THREADS=1)",
    )
    args = parser.parse_args(argv)
    if args.iterations < 2:
        parser.error(f"--iterations must be at least 2 to time one, got {args.iterations}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")

    finals: dict[str, set[str]] = {name: set() for name in SCRIPTS}
    seconds: dict[str, list[float]] = {name: [] for name in SCRIPTS}
    cpu = dict.fromkeys(SCRIPTS, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        startup = {
            name: _finish(name, _start(name, args, 1, Path(tmp) / f"{name}-startup"))[1]
            for name in SCRIPTS
        }
        for repeat in range(args.repeats):
            order = SCRIPTS if repeat % 2 == 0 else SCRIPTS[::-1]
            logdirs = {name: Path(tmp) / f"{name}-{repeat}" for name in order}
            results: dict[str, tuple[str, float]] = {}
            if args.together:
                started = {
                    name: _start(name, args, args.iterations, logdirs[name]) for name in order
                }
                results = {name: _finish(name, started[name]) for name in order}
            else:
                for name in order:
                    process = _start(name, args, args.iterations, logdirs[name])
                    results[name] = _finish(name, process)
            for name, (line, used) in results.items():
                finals[name].add(line)
                cpu[name] += (used - startup[name]) / (args.iterations - 1) / args.repeats
                seconds[name] += iteration_seconds(logdirs[name])

    identical = len(finals["raw"] | finals["engine"]) == 1
    print(f"final lines identical: {'yes' if identical else 'NO'}")
    for name in SCRIPTS:
        for line in sorted(finals[name]):
            print(f"  {name + '.py:':11}{line}")
    median = {name: statistics.median(seconds[name]) for name in SCRIPTS}
    print(f"{'':10} {'wall s/iteration (median)':>26} {'CPU s/iteration':>16}")
    for name in SCRIPTS:
        print(f"{name + '.py':10} {median[name]:26.4f} {cpu[name]:16.4f}")
    wall_ratio, cpu_ratio = median["raw"] / median["engine"], cpu["raw"] / cpu["engine"]
    print(f"speed ratio miniengine/raw (raw time / engine time): wall {wall_ratio:.4f}, ", end="")
    print(f"CPU {cpu_ratio:.4f}")
    lines = {name: loop_lines(HERE / f"{name}.py") for name in SCRIPTS}
    print(f"training loop (main, code lines): raw.py {lines['raw']}, engine.py {lines['engine']}")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
