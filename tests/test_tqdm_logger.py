"""ProgressBar: tqdm output captured in a file object and read back."""

from __future__ import annotations

import io
import re
import sys

import pytest
import torch

from miniengine.engine import Engine, Events
from miniengine.handlers import ProgressBar

pytest.importorskip("tqdm")


class Terminal(io.StringIO):
    """A file that says it is a terminal, as sys.stderr does in an interactive shell."""

    def isatty(self) -> bool:
        return True


def segments(text: str) -> list[str]:
    """What a terminal or a CI log viewer shows as separate redraws."""
    return [s for s in re.split(r"[\r\n]", text) if s.strip()]


def trainer_with_metric(n_epochs_seen: list | None = None) -> Engine:
    trainer = Engine(lambda engine, batch: batch * 0.5)

    @trainer.on(Events.ITERATION_COMPLETED)
    def accuracy(engine):
        engine.state.metrics["acc"] = engine.state.iteration / 1000

    return trainer


def test_log_file_gets_one_final_line_per_epoch_and_no_step_spam():
    out = io.StringIO()  # not a terminal, like a CI log
    trainer = trainer_with_metric()
    ProgressBar(file=out).attach(
        trainer, metric_names=["acc"], output_transform=lambda x: {"loss": x}
    )
    trainer.run([1.0, 2.0, 3.0, 4.0] * 25, max_epochs=3)
    text = out.getvalue()
    assert text.count("\n") == 3  # the bars are kept in a log
    assert len(segments(text)) <= 3 * 3  # far from one line per step (300)
    finals = text.strip("\n").split("\n")
    for epoch, line in enumerate(finals, start=1):
        last = line.split("\r")[-1]
        assert last.startswith(f"Epoch [{epoch}/3]: [100/100] 100%")
        assert f"acc={epoch * 100 / 1000:g}" in last  # the metric after the epoch's last step
        assert "loss=2" in last  # output of the last batch, 4.0 * 0.5


def test_terminal_bar_redraws_with_postfix_and_is_cleared():
    out = Terminal()
    trainer = trainer_with_metric()
    ProgressBar(file=out, mininterval=0).attach(trainer, metric_names="all")
    trainer.run([1.0, 2.0, 3.0], max_epochs=2)
    shown = segments(out.getvalue())
    assert "Epoch [1/2]: [2/3]  67%" in "".join(shown)
    assert any("acc=0.005" in s for s in shown)
    assert "\n" not in out.getvalue()  # persist=False: cleared, nothing left behind


def test_persist_keeps_the_bar_on_a_terminal():
    out = Terminal()
    trainer = trainer_with_metric()
    ProgressBar(persist=True, file=out).attach(trainer, output_transform=lambda x: x)
    trainer.run([1.0, 2.0], max_epochs=2)
    assert out.getvalue().count("\n") == 2
    assert out.getvalue().split("\n")[-2].split("\r")[-1].startswith("Epoch [2/2]: [2/2] 100%")


def test_evaluator_bar_inside_the_trainer_bar():
    out = io.StringIO()
    trainer = Engine(lambda engine, batch: None)
    evaluator = Engine(lambda engine, batch: None)
    ProgressBar(file=out).attach(trainer)
    ProgressBar(file=out, desc="Validation").attach(evaluator)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: evaluator.run(range(5)))
    trainer.run(range(4), max_epochs=2)
    finals = [line.split("\r")[-1] for line in out.getvalue().strip("\n").split("\n")]
    assert [f.split(" 100%")[0] for f in finals] == [
        "Epoch [1/2]: [4/4]",  # its bar closes first: attached before the evaluation
        "Validation: [5/5]",  # single epoch: no [1/1]
        "Epoch [2/2]: [4/4]",
        "Validation: [5/5]",
    ]


def test_values_are_flattened():
    out = io.StringIO()
    trainer = Engine(
        lambda engine, batch: {"loss": torch.tensor(0.25), "parts": torch.tensor([1.0, 2.0])}
    )
    trainer.state.alpha = 0.5
    ProgressBar(file=out).attach(trainer, output_transform=lambda x: x, state_attributes=["alpha"])
    trainer.run([0])
    last = segments(out.getvalue())[-1]
    assert "loss=0.25" in last and "parts_0=1" in last and "parts_1=2" in last
    assert "alpha=0.5" in last


def test_missing_metric_warns():
    trainer = Engine(lambda engine, batch: None)
    ProgressBar(file=io.StringIO()).attach(trainer, metric_names=["nope"])
    with pytest.warns(UserWarning, match="Provided metric name 'nope' is missing"):
        trainer.run([0])


def test_epoch_bar():
    out = io.StringIO()
    trainer = Engine(lambda engine, batch: None)
    ProgressBar(file=out).attach(
        trainer, event_name=Events.EPOCH_COMPLETED, closing_event_name=Events.COMPLETED
    )
    trainer.run(range(3), max_epochs=4)
    assert segments(out.getvalue())[-1].startswith("Epoch: [4/4] 100%")


def test_log_message_goes_to_the_same_file():
    out = io.StringIO()
    bar = ProgressBar(file=out)
    trainer = Engine(lambda engine, batch: None)
    bar.attach(trainer)
    trainer.add_event_handler(
        Events.ITERATION_COMPLETED(once=2), lambda e: bar.log_message("hello")
    )
    trainer.run(range(3))
    assert "hello\n" in out.getvalue()


def test_a_terminated_run_closes_its_bar():
    out = io.StringIO()
    bar = ProgressBar(file=out)
    trainer = Engine(lambda engine, batch: None)
    bar.attach(trainer)
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=3), lambda e: e.terminate())
    trainer.run(range(10), max_epochs=2)
    assert bar.pbar is None
    assert segments(out.getvalue())[-1].startswith("Epoch [1/2]: [3/10]")  # not filled
    trainer.run(range(10), max_epochs=2)  # continues in epoch 2 with a new bar
    assert segments(out.getvalue())[-1].startswith("Epoch [2/2]: [10/10] 100%")


@pytest.mark.parametrize("persist", [False, True])
def test_terminate_at_an_epochs_last_iteration_shows_the_full_epoch(persist):
    # The bar advances only when tqdm is due to redraw (never, in a log, within 30 s), so it is
    # the end-of-run hook that must move it to where the run stopped: 4 of 4, not 0 or 3.
    out = io.StringIO()
    bar = ProgressBar(file=out, persist=persist)
    trainer = Engine(lambda engine, batch: None)
    bar.attach(trainer)
    fired = []
    trainer.add_event_handler(Events.ITERATION_COMPLETED(once=4), lambda e: e.terminate())
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: fired.append(e.state.epoch))
    trainer.run(range(4), max_epochs=2)
    assert fired == []  # the epoch was cut short: the closing event never came
    assert trainer.state.iteration == 4
    assert bar.pbar is None
    assert segments(out.getvalue())[-1].startswith("Epoch [1/2]: [4/4] 100%")


def test_argument_errors():
    trainer = Engine(lambda engine, batch: None)
    bar = ProgressBar(file=io.StringIO())
    with pytest.raises(ValueError, match="Closing Event should not be a filtered event"):
        bar.attach(trainer, closing_event_name=Events.EPOCH_COMPLETED(every=2))
    with pytest.raises(ValueError, match="should be called before closing event"):
        bar.attach(
            trainer, event_name=Events.EPOCH_COMPLETED, closing_event_name=Events.EPOCH_STARTED
        )
    with pytest.raises(ValueError, match="event_name should be one of"):
        bar.attach(trainer, event_name=Events.GET_BATCH_COMPLETED)
    with pytest.raises(TypeError, match="metric_names should be either a list or equal 'all'"):
        bar.attach(trainer, metric_names="loss")
    with pytest.raises(TypeError, match="output_transform should be a function"):
        bar.attach(trainer, output_transform=3)


def test_missing_tqdm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.autonotebook", None)
    with pytest.raises(ModuleNotFoundError, match=r"`pip install tqdm`.*LogProgress"):
        ProgressBar()


def test_same_lines_as_ignite():
    ignite_engine = pytest.importorskip("ignite.engine")
    ignite_handlers = pytest.importorskip("ignite.handlers")

    def final_lines(engine_cls, events, bar_cls):
        out = io.StringIO()
        trainer = engine_cls(lambda engine, batch: batch * 0.5)

        @trainer.on(events.ITERATION_COMPLETED)
        def accuracy(engine):
            engine.state.metrics["acc"] = engine.state.iteration / 8

        bar_cls(file=out, persist=True).attach(
            trainer, metric_names=["acc"], output_transform=lambda x: {"loss": x}
        )
        trainer.run([1.0, 2.0, 3.0, 5.0], max_epochs=2)
        lines = [line.split("\r")[-1] for line in out.getvalue().strip("\n").split("\n")]
        return [re.sub(r" \[[0-9:<?]+\]$", "", line) for line in lines]  # drop the times

    ours = final_lines(Engine, Events, ProgressBar)
    theirs = final_lines(ignite_engine.Engine, ignite_engine.Events, ignite_handlers.ProgressBar)
    assert ours == theirs
    assert ours[1] == "Epoch [2/2]: [4/4] 100%|##########, acc=1, loss=2.5"
