"""The Atari GAN trained by miniengine: the loop's jobs become an engine, a metric and handlers.

Run from the repository root: ``python -m examples.atari_gan.engine --iterations 200 --seed 0``.
``raw.py`` is the same program as a plain loop; only ``main`` differs.
"""

from __future__ import annotations

from collections.abc import Sequence

import miniengine.distributed as idist
from miniengine.engine import Engine, Events
from miniengine.handlers.tensorboard_logger import OutputHandler, TensorboardLogger
from miniengine.metrics import RunningAverage

from . import common


def main(argv: Sequence[str] | None = None) -> None:
    """Trains until ``--iterations`` or Ctrl-C, then prints the final line.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    args = common.parse_args(argv)
    gan, batches = common.setup(args)
    ctrl_c = common.CtrlC()
    engine = Engine(lambda engine, batch: gan.step(batch))
    for name in ("loss_gen", "loss_dis"):
        average = RunningAverage(alpha=common.ALPHA, output_transform=lambda out, n=name: out[n])
        average.attach(engine, f"avg_{name}")
    tb = TensorboardLogger(log_dir=args.logdir)
    handler = OutputHandler(tag="train", metric_names=["avg_loss_gen", "avg_loss_dis"])
    tb.attach(engine, handler, Events.ITERATION_COMPLETED)

    @engine.on(Events.ITERATION_COMPLETED(every=args.report_every))
    @idist.one_rank_only()  # under torchrun: printed once, by rank 0
    def report(engine: Engine) -> None:
        print(common.report_line(engine.state.iteration, engine.state.metrics), flush=True)

    @engine.on(Events.ITERATION_COMPLETED(every=args.image_every))
    @idist.one_rank_only()
    def images(engine: Engine) -> None:
        common.log_images(tb.writer, engine.state.output, engine.state.iteration)

    @engine.on(Events.ITERATION_COMPLETED)
    def stop_on_ctrl_c(engine: Engine) -> None:
        if ctrl_c.pressed:
            engine.terminate()

    with tb:  # closes the writer however run() ends
        engine.run(batches, max_iters=args.iterations)
    if idist.get_rank() == 0:
        print(common.final_line(engine.state.iteration, engine.state.output), flush=True)


if __name__ == "__main__":
    main()
