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


def main(argv: Sequence[str] | None = None) -> dict[str, float]:
    """Train, evaluating every ``--eval-every`` epochs; return the last validation metrics.

    Args:
        argv: command-line arguments; None reads ``sys.argv``.
    """
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--eval-every", type=int, default=1)
    parser.add_argument("--small", action="store_true", help="a tiny dataset, for smoke tests")
    parser.add_argument("--logdir", default="runs/mnist_like")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    idist.initialize()  # joins torchrun's processes; nothing to do in a plain `python` run
    torch.manual_seed(args.seed)
    n = 512 if args.small else 8192
    # with several processes: a DistributedSampler, and batch_size 64 split among them
    train = idist.auto_dataloader(make_digits(n, args.seed), batch_size=64, shuffle=True)
    val = idist.auto_dataloader(make_digits(n // 4, args.seed + 1), batch_size=256, shuffle=False)

    model = idist.auto_model(nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10)))
    optimizer = idist.auto_optim(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    trainer = create_supervised_trainer(model, optimizer, nn.CrossEntropyLoss())
    metrics = {"accuracy": Accuracy(), "loss": Loss(nn.CrossEntropyLoss())}
    evaluator = create_supervised_evaluator(model, metrics=metrics)

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
        DiskSaver(f"{args.logdir}/checkpoints", require_empty=False),
        filename_prefix="best",
        score_name="accuracy",
        global_step_transform=global_step_from_engine(trainer),
    )
    evaluator.add_event_handler(Events.COMPLETED, best)

    with TensorboardLogger(log_dir=args.logdir) as tb:
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
