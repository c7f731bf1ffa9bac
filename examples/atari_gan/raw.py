"""The Atari GAN trained by a plain PyTorch loop: every job of the loop is written inline.

Run from the repository root: ``python -m examples.atari_gan.raw --iterations 200 --seed 0``.
``engine.py`` is the same program with miniengine; only ``main`` differs.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from contextlib import nullcontext
from itertools import islice

from torch.utils.tensorboard import SummaryWriter

import miniengine.distributed as idist

from . import common


def main(argv: Sequence[str] | None = None) -> None:
    """Trains until ``--iterations`` or Ctrl-C, then prints the final line.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    args = common.parse_args(argv)
    gan, batches, logdir = common.setup(args)
    ctrl_c = common.CtrlC()
    iteration, output, alpha = 0, {}, common.ALPHA
    avg: dict[str, float] = {}  # the running averages, by name
    # Under torchrun every rank runs this loop; rank 0 alone prints and writes.
    rank, world = idist.get_rank(), idist.get_world_size()
    start = shown = time.monotonic()  # for the progress line
    with SummaryWriter(log_dir=logdir) if rank == 0 else nullcontext() as writer:
        for batch in islice(batches, args.iterations):
            output = gan.step(batch)
            iteration += 1
            for name in ("loss_gen", "loss_dis"):
                # A running average: the first value as is, then alpha * old + (1 - alpha) * new.
                new = float(idist.all_reduce(output[name])) / world  # the mean over ranks
                key = f"avg_{name}"
                avg[key] = new if iteration == 1 else avg[key] * alpha + (1.0 - alpha) * new
                if writer is not None:
                    writer.add_scalar(f"train/{key}", avg[key], iteration)
            if rank == 0 and iteration % args.report_every == 0:
                print(common.report_line(iteration, avg))
            if writer is not None and iteration % args.image_every == 0:
                common.log_images(writer, output, iteration)
            now = time.monotonic()
            if rank == 0 and now - shown >= common.PROGRESS_SECONDS:
                shown = now
                line = common.progress_line(iteration, args.iterations, now - start)
                print(line, end=common.PROGRESS_END, file=sys.stderr, flush=True)
            if ctrl_c.pressed:
                break
        if writer is not None and iteration % args.image_every:  # the last iteration's too
            common.log_images(writer, output, iteration)
    if rank == 0:
        seconds = time.monotonic() - start  # the progress line once more, where it ended
        print(common.progress_line(iteration, args.iterations, seconds), file=sys.stderr)
        common.finish(logdir, iteration, output, avg)


if __name__ == "__main__":
    main()
