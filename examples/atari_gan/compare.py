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

It also draws a picture (``--picture``, with matplotlib): both runs' loss curves, one over the
other, and the distribution of their seconds per iteration.
"""

from __future__ import annotations

import argparse
import ast
import resource
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

from tensorboard.backend.event_processing.event_accumulator import (  # type: ignore[import-untyped]
    EventAccumulator,
)

from . import common

HERE = Path(__file__).resolve().parent
SCRIPTS = ("raw", "engine")
TAGS = ("train/avg_loss_gen", "train/avg_loss_dis")
Process = subprocess.Popen[str]
Curves = dict[str, tuple[list[int], list[float]]]  # tag -> (steps, values)


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


def _scalars(logdir: Path) -> EventAccumulator:
    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0})
    events.Reload()
    return events


def iteration_seconds(logdir: Path) -> list[float]:
    """Returns the time between consecutive iterations, from the wall times of one scalar.

    Args:
        logdir: a run directory written by raw.py or engine.py.

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
    walls = [event.wall_time for event in _scalars(logdir).Scalars(TAGS[0])]
    return [later - earlier for earlier, later in pairwise(walls)]


def loss_curves(logdir: Path) -> Curves:
    """Reads both smoothed losses of a run: for each tag, the steps and the values.

    Args:
        logdir: a run directory written by raw.py or engine.py.

    Example:
        >>> import tempfile
        >>> from torch.utils.tensorboard import SummaryWriter
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with SummaryWriter(tmp) as writer:
        ...         for tag in TAGS:
        ...             writer.add_scalar(tag, 0.5, 1)
        ...     loss_curves(Path(tmp))["train/avg_loss_dis"]
        ([1], [0.5])
    """
    events = _scalars(logdir)
    return {
        tag: ([e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)])
        for tag in TAGS
    }


def draw(path: Path, curves: Mapping[str, Curves], seconds: Mapping[str, list[float]]) -> None:
    """Draws each script's loss curves, one over the other, and its seconds per iteration.

    matplotlib is imported here, so that the comparison itself runs without it.

    Args:
        path: the PNG file to write.
        curves: for each script, what ``loss_curves`` read.
        seconds: for each script, the seconds each iteration took.

    Example:
        >>> import tempfile
        >>> curves = {"raw": {tag: ([1, 2], [1.0, 0.5]) for tag in TAGS}}
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     draw(Path(tmp) / "c.png", curves, {"raw": [0.5, 0.6]})
        ...     (Path(tmp) / "c.png").read_bytes()[:4]
        b'\\x89PNG'
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display needed
        import matplotlib.pyplot as plt
    except ImportError as e:
        raise ModuleNotFoundError(
            "compare.py draws its picture with matplotlib: `pip install matplotlib` "
            '(or `pip install -e ".[examples]"`)'
        ) from e
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    # raw.py wide and pale, engine.py dashed over it: where the curves coincide, both show.
    styles: dict[str, dict[str, Any]] = {
        "raw": {"linewidth": 4, "alpha": 0.4},
        "engine": {"linewidth": 1.5, "linestyle": "--"},
    }
    for axis, tag in zip(axes, TAGS, strict=False):
        for name, runs in curves.items():
            axis.plot(*runs[tag], label=f"{name}.py", **styles.get(name, {}))
        axis.set(title=tag, xlabel="iteration", ylabel="running average")
        axis.legend()
    for name, values in seconds.items():
        axes[2].hist(
            values,
            bins=30,
            alpha=0.5,
            label=f"{name}.py (median {statistics.median(values):.3f} s)",
        )
    axes[2].set(title="time per iteration", xlabel="seconds", ylabel="iterations")
    axes[2].legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _start(name: str, args: argparse.Namespace, iterations: int, logdir: Path) -> Process:
    command = [sys.executable, "-m", f"examples.atari_gan.{name}", "--logdir", str(logdir)]
    command += ["--iterations", str(iterations), "--seed", str(args.seed)]
    command += ["--device", args.device, "--batch-size", str(args.batch_size)]
    command += ["--threads", str(args.threads)]
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


def _run_dir(logdir: Path) -> Path:
    run = common.newest_run_dir(logdir)
    assert run is not None, f"no run directory in {logdir}"
    return run


def main(argv: Sequence[str] | None = None) -> int:
    """Runs both scripts, prints the comparison and returns 0 when their results are identical.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=300, help="iterations per run")
    parser.add_argument("--repeats", type=int, default=1, help="runs of each script")
    parser.add_argument("--seed", type=int, default=0, help="the seed of every run")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--batch-size", type=int, default=16, help="frames per batch")
    parser.add_argument(
        "--threads", type=int, default=common.default_threads(), help="CPU threads per script"
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="run the two scripts at the same time, so that both see the same machine load "
        "(on 2 cores, with --threads 1)",
    )
    parser.add_argument(
        "--picture", type=Path, default=Path("runs/compare.png"), help="the PNG to draw"
    )
    args = parser.parse_args(argv)
    for name, low in (("iterations", 2), ("repeats", 1), ("batch_size", 1), ("threads", 1)):
        if getattr(args, name) < low:
            flag = "--" + name.replace("_", "-")
            parser.error(f"argument {flag}: must be at least {low}, got {getattr(args, name)}")

    finals: dict[str, set[str]] = {name: set() for name in SCRIPTS}
    seconds: dict[str, list[float]] = {name: [] for name in SCRIPTS}
    curves: dict[str, Curves] = {}
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
                seconds[name] += iteration_seconds(_run_dir(logdirs[name]))
                curves.setdefault(name, loss_curves(_run_dir(logdirs[name])))

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
    try:
        draw(args.picture, curves, seconds)
        print(f"picture: {args.picture}")
    except ModuleNotFoundError as e:
        print(f"no picture: {e}", file=sys.stderr)
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
