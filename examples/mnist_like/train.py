"""Train a small classifier on synthetic 8x8 "digits": trainer, evaluator, metrics, best-model
checkpoint, LR schedule, progress bar and TensorBoard, each one line of wiring.

Run from the repository root: ``python -m examples.mnist_like.train --epochs 5``
(``--small`` uses a tiny dataset, for CI). TensorBoard: ``tensorboard --logdir runs``.

The same program trains data-parallel, one process per CPU core or GPU:
``torchrun --nproc_per_node=2 -m examples.mnist_like.train --epochs 5``. Each process sees its
own half of every batch of 64; rank 0 alone prints, draws the bar and writes files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

import miniengine.distributed as idist
from miniengine.engine import Events, create_supervised_evaluator, create_supervised_trainer
from miniengine.handlers import (
    Checkpoint,
    CosineAnnealingScheduler,
    DiskSaver,
    ProgressBar,
    TensorboardLogger,
    global_step_from_engine,
)
from miniengine.metrics import Accuracy, Loss


def make_digits(n: int, seed: int) -> TensorDataset:
    """``n`` noisy samples of 10 fixed random 8x8 patterns, one per class: no download needed.

    Args:
        n: number of samples.
        seed: seed of the labels and the noise (the patterns are the same for every seed).
    """
    patterns = torch.rand(10, 64, generator=torch.Generator().manual_seed(1234))
    generator = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 10, (n,), generator=generator)
    return TensorDataset(patterns[y] + 0.75 * torch.randn(n, 64, generator=generator), y)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line, checked: each mistake is named with the value given and what is allowed.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument("--epochs", type=_positive_int, default=5, help="passes over the data")
    parser.add_argument(
        "--eval-every", type=_positive_int, default=1, help="epochs between evaluations"
    )
    parser.add_argument("--small", action="store_true", help="a tiny dataset, for smoke tests")
    parser.add_argument(
        "--logdir", default="runs/mnist_like", help="each run writes to a new subdirectory run-<n>"
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the data and the weights")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], default="auto", help="auto: CUDA if available"
    )
    args = parser.parse_args(argv)
    if args.eval_every > args.epochs:
        parser.error(f"argument --eval-every: got {args.eval_every}, more than --epochs "
                     f"{args.epochs}: the model would never be evaluated nor saved")  # fmt: skip
    if args.device == "cuda" and not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no GPU found"
        parser.error(f"argument --device: got 'cuda', but CUDA is not available ({why}); "
                     "use --device cpu, or auto (CUDA when available)")  # fmt: skip
    return args


def new_run_dir(logdir: str | Path) -> Path:
    """Makes ``logdir/run-<n>``, ``n`` one more than the highest there, so runs never mix.

    Args:
        logdir: the directory that holds the runs.
    """
    root = Path(logdir)
    names = [p.name[4:] for p in root.glob("run-*")]
    n = max((int(name) for name in names if name.isdigit()), default=0) + 1
    while True:
        try:
            (root / f"run-{n}").mkdir(parents=True)
            return root / f"run-{n}"
        except FileExistsError:  # another run started at the same moment took it
            n += 1


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train, evaluating every ``--eval-every`` epochs; return the last validation metrics.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    args = parse_args(argv)
    idist.initialize()  # joins torchrun's processes; nothing to do in a plain `python` run
    if idist.get_world_size() > 1:
        device = idist.device()  # each process its own GPU, or the CPU
    elif args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    torch.manual_seed(args.seed)
    # rank 0 makes the run directory; the others write nothing
    logdir = new_run_dir(args.logdir) if idist.get_rank() == 0 else Path(args.logdir)
    if idist.get_rank() == 0:
        print(f"run directory: {logdir}")
    n = 512 if args.small else 8192
    # with several processes: a DistributedSampler, and batch_size 64 split among them
    train = idist.auto_dataloader(make_digits(n, args.seed), batch_size=64, shuffle=True)
    val = idist.auto_dataloader(make_digits(n // 4, args.seed + 1), batch_size=256, shuffle=False)

    model: nn.Module = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    # with several processes: on each process's device, wrapped in DDP
    model = idist.auto_model(model) if idist.get_world_size() > 1 else model.to(device)
    optimizer = idist.auto_optim(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss(), device=device)
    metrics = {"accuracy": Accuracy(), "loss": Loss(nn.CrossEntropyLoss())}
    evaluator = create_supervised_evaluator(model, metrics=metrics, device=device)

    # cosine decay of the learning rate from 0.1 to 0.001 over the whole run
    lr = CosineAnnealingScheduler(optimizer, "lr", 0.1, 0.001, args.epochs * len(train) + 1)
    trainer.add_event_handler(Events.ITERATION_STARTED, lr)
    ProgressBar().attach(trainer, output_transform=lambda loss: {"loss": loss})

    @trainer.on(Events.EPOCH_COMPLETED(every=args.eval_every))
    def evaluate(trainer):
        m = evaluator.run(val).metrics  # every rank evaluates its shard; metrics sum over ranks
        if idist.get_rank() == 0:
            acc, loss = m["accuracy"], m["loss"]
            print(f"epoch {trainer.state.epoch}: val accuracy={acc:.4f} loss={loss:.4f}")

    # keep the model with the best validation accuracy, named after the trainer's epoch
    best = Checkpoint(
        {"model": model},
        DiskSaver(logdir / "checkpoints"),  # a new run directory: empty
        filename_prefix="best",
        score_name="accuracy",
        global_step_transform=global_step_from_engine(trainer),
    )
    evaluator.add_event_handler(Events.COMPLETED, best)

    with TensorboardLogger(log_dir=logdir) as tb:
        tb.attach_output_handler(
            trainer,
            Events.ITERATION_COMPLETED,
            tag="train",
            output_transform=lambda loss: {"loss": loss},
        )
        tb.attach_opt_params_handler(trainer, Events.ITERATION_STARTED, optimizer)
        tb.attach_output_handler(
            evaluator, Events.COMPLETED, tag="val", metric_names="all",
            global_step_transform=global_step_from_engine(trainer),
        )  # fmt: skip
        trainer.run(train, max_epochs=args.epochs)
    if idist.get_rank() == 0:
        print(f"best model: {best.last_checkpoint}")
    return evaluator.state.metrics


if __name__ == "__main__":
    main()
