"""The Atari GAN trained by miniengine: the loop's jobs become an engine, metrics and handlers.

Run from the repository root: ``python -m examples.atari_gan.engine --iterations 200 --seed 0``.
``raw.py`` is the same program as a plain loop; only ``main`` differs. This one can also save
checkpoints and resume (``--checkpoint-every``, ``--resume``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import torch

import miniengine.distributed as idist
from miniengine.engine import Engine, Events
from miniengine.explain import as_loop, describe
from miniengine.handlers import Checkpoint, DiskSaver, LogProgress, ProgressBar
from miniengine.handlers.tensorboard_logger import OutputHandler, TensorboardLogger
from miniengine.metrics import RunningAverage

from . import common


def main(argv: Sequence[str] | None = None) -> None:
    """Trains until ``--iterations`` or Ctrl-C, then prints the final line.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    args = common.parse_args(argv, resumable=True)
    gan, batches, logdir = common.setup(args)
    ctrl_c = common.CtrlC()
    engine = Engine(lambda engine, batch: gan.step(batch))
    to_save = {"engine": engine, "gan": gan, "batches": batches}
    for name in ("loss_gen", "loss_dis"):
        average = RunningAverage(alpha=common.ALPHA, output_transform=lambda out, n=name: out[n])
        average.attach(engine, f"avg_{name}")
        to_save[f"avg_{name}"] = average
    checkpoint = Checkpoint(to_save, DiskSaver(logdir / "checkpoints", require_empty=False))
    if args.resume:
        path = checkpoint.find_latest()  # the newest checkpoint file that loads
        if path is None:
            sys.exit(f"--resume: {logdir} has no checkpoint to continue from")
        saved = torch.load(path, weights_only=True)
        total = common.check_resume(path, saved, args.iterations)
        Checkpoint.load_objects({k: v for k, v in to_save.items() if k != "engine"}, saved)
        # The engine goes on from the saved iteration, in one epoch up to the end (the progress
        # total), with no batches to skip: the data stream replays them itself.
        start = {"iteration": saved["engine"]["iteration"], "data_position": 0}
        engine.load_state_dict({**start, "epoch_length": total, "max_iters": total})
    # purge_step: TensorBoard forgets what a stopped run wrote after the checkpoint.
    tb = TensorboardLogger(log_dir=logdir, purge_step=engine.state.iteration + 1)
    handler = OutputHandler(tag="train", metric_names=["avg_loss_gen", "avg_loss_dis"])
    tb.attach(engine, handler, Events.ITERATION_COMPLETED)
    if sys.stderr.isatty():  # a bar redrawn in place, the report lines printed above it
        bar = ProgressBar(persist=True, initial=engine.state.iteration, **common.BAR)
        say = bar.log_message
    else:  # in a log, where each redraw would stay: a progress line with each report line
        bar, say = LogProgress(every=args.report_every, desc="Training"), print
    bar.attach(engine)

    @engine.on(Events.ITERATION_COMPLETED(every=args.report_every))
    @idist.one_rank_only()  # under torchrun: printed once, by rank 0
    def report(engine: Engine) -> None:
        say(common.report_line(engine.state.iteration, engine.state.metrics))

    @engine.on(Events.ITERATION_COMPLETED(every=args.image_every))
    @idist.one_rank_only()
    def images(engine: Engine) -> None:
        common.log_images(tb.writer, engine.state.output, engine.state.iteration)

    @engine.on(Events.COMPLETED)
    def last_images(engine: Engine) -> None:
        if engine.state.iteration % args.image_every:  # not logged already
            images(engine)

    @engine.on(Events.ITERATION_COMPLETED)
    def stop_on_ctrl_c(engine: Engine) -> None:
        if ctrl_c.pressed:
            engine.terminate()

    # Attached last, to save what the handlers above did in the same iteration; and when the
    # run ends, Ctrl-C included, so that --resume goes on from exactly there.
    saves = Events.ITERATION_COMPLETED(every=args.checkpoint_every) | Events.COMPLETED

    @engine.on(saves)
    @idist.one_rank_only()
    def flush(engine: Engine) -> None:
        tb.writer.flush()  # what TensorBoard has up to the checkpoint survives a kill

    engine.add_event_handler(saves, checkpoint)
    if args.describe:
        print(describe(engine))
    if args.show_loop:
        print(as_loop(engine).source)
    with tb:  # closes the writer however run() ends
        # One epoch of --iterations batches (the progress total); a resumed run has its own.
        epoch = engine.state.epoch_length or args.iterations
        engine.run(batches, max_iters=args.iterations, epoch_length=epoch)
    if idist.get_rank() == 0:
        common.finish(logdir, engine.state.iteration, engine.state.output, engine.state.metrics)


if __name__ == "__main__":
    main()
