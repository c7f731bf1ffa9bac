"""LogProgress: real log records, captured with a logging handler and read back."""

from __future__ import annotations

import logging
from argparse import Namespace

import pytest

from miniengine.engine import Engine, Events
from miniengine.handlers import LogProgress


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@pytest.fixture
def log():
    logger = logging.getLogger(f"test.log_progress.{id(object())}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    records = Records()
    logger.addHandler(records)
    logger.messages = records.messages
    return logger


def trainer_with_metric() -> Engine:
    trainer = Engine(lambda engine, batch: batch)

    @trainer.on(Events.ITERATION_COMPLETED)
    def accuracy(engine):
        engine.state.metrics["acc"] = engine.state.iteration / 1000

    return trainer


def test_about_ten_records_per_epoch(log):
    trainer = trainer_with_metric()
    calls = []

    def output(x):
        calls.append(x)
        return {"loss": x}

    LogProgress(logger=log).attach(trainer, metric_names=["acc"], output_transform=output)
    trainer.run([0.5] * 100, max_epochs=3)
    assert len(log.messages) == 30
    assert len(calls) == 30  # values are gathered only for the records written
    for epoch in range(1, 4):
        for k in range(1, 11):
            message = log.messages[(epoch - 1) * 10 + k - 1]
            n = 10 * k
            iteration = (epoch - 1) * 100 + n
            assert message.startswith(f"Epoch [{epoch}/3]: [{n}/100] {n}% ")
            assert f" acc={iteration / 1000:.4g} loss=0.5 [" in message
            assert message.endswith("it/s]")


def test_every(log):
    trainer = Engine(lambda engine, batch: None)
    LogProgress(every=3, logger=log).attach(trainer)
    trainer.run(range(10))
    assert [m.split(" [0")[0] for m in log.messages] == [
        "Iteration: [3/10] 30%",
        "Iteration: [6/10] 60%",
        "Iteration: [9/10] 90%",
        "Iteration: [10/10] 100%",
    ]


def test_unknown_length(log):
    trainer = Engine(lambda engine, batch: None)
    LogProgress(every=4, logger=log).attach(trainer)
    trainer.run(x for x in range(10))
    assert [m.split(" [0")[0] for m in log.messages] == [
        "Iteration: [4]",
        "Iteration: [8]",
        "Iteration: [10]",
    ]


def test_evaluator_and_epoch_records(log):
    trainer = Engine(lambda engine, batch: None)
    evaluator = Engine(lambda engine, batch: None)
    LogProgress(logger=log).attach(
        trainer, event_name=Events.EPOCH_COMPLETED, closing_event_name=Events.COMPLETED
    )
    LogProgress(every=5, logger=log, desc="Validation").attach(evaluator)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: evaluator.run(range(5)))
    trainer.run(range(4), max_epochs=2)
    assert [m.split(" [0")[0] for m in log.messages] == [
        "Epoch: [1/2] 50%",  # written before the evaluation: attached first
        "Validation: [5/5] 100%",
        "Validation: [5/5] 100%",
        "Epoch: [2/2] 100%",  # the last epoch is written when the run completes
    ]


def test_a_terminated_run_writes_where_it_stopped(log):
    trainer = Engine(lambda engine, batch: None)
    LogProgress(every=100, logger=log).attach(trainer)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=7), lambda e: e.terminate())
    trainer.run(range(10), max_epochs=2)
    assert len(log.messages) == 1
    assert log.messages[0].startswith("Epoch [1/2]: [7/10] 70%")


def test_nothing_is_built_when_the_level_is_off(log):
    log.setLevel(logging.WARNING)
    calls = []
    trainer = Engine(lambda engine, batch: None)
    LogProgress(every=1, logger=log).attach(trainer, output_transform=lambda x: calls.append(x))
    trainer.run(range(10))
    assert log.messages == [] and calls == []


def test_log_message(log):
    LogProgress(logger=log, level=logging.WARNING).log_message("hello")
    assert log.messages == ["hello"]


def test_prints_to_stderr_when_logging_is_not_configured(monkeypatch, capsys):
    import miniengine.handlers.log_progress as module

    # A program that configured no logging: no handlers anywhere, the module logger untouched.
    monkeypatch.setattr(logging.root, "handlers", [])
    own = logging.getLogger(module.__name__)
    monkeypatch.setattr(own, "handlers", [])
    monkeypatch.setattr(own, "level", logging.NOTSET)
    monkeypatch.setattr(own, "propagate", True)
    monkeypatch.setattr(module, "_default_logger_ready", False)

    trainer = Engine(lambda engine, batch: batch)
    LogProgress().attach(trainer, output_transform=lambda x: x)
    trainer.run([0.5] * 20, max_epochs=2)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 20 and captured.out == ""
    assert lines[-1].startswith("Epoch [2/2]: [20/20] 100% output=0.5 [")


def test_argument_errors(log):
    trainer = Engine(lambda engine, batch: None)
    with pytest.raises(ValueError, match="every should be a positive integer or None, got 0"):
        LogProgress(every=0)
    with pytest.raises(TypeError, match="logger should be a logging.Logger"):
        LogProgress(logger="progress")
    with pytest.raises(ValueError, match="Closing Event should not be a filtered event"):
        LogProgress(logger=log).attach(trainer, closing_event_name=Events.COMPLETED(once=1))
    with pytest.raises(ValueError, match="should be called before closing event"):
        LogProgress(logger=log).attach(
            trainer, event_name=Events.COMPLETED, closing_event_name=Events.STARTED
        )
    # not an event at all (Ignite's own test passes an argparse.Namespace)
    for event in (Namespace(name="abc"), "abc"):
        with pytest.raises(ValueError, match="Logging event abc is not in allowed events"):
            LogProgress(logger=log).attach(trainer, event_name=event)
