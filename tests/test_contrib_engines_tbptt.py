"""miniengine.contrib.engines.tbptt: the same model trained by Ignite's and miniengine's
truncated-backprop trainers ends with the same weights, losses and event counts."""

from __future__ import annotations

import importlib

import pytest
import torch

from miniengine.contrib.engines import Tbptt_Events, create_supervised_tbptt_trainer

try:
    import ignite  # noqa: F401
except ImportError:  # the oracle test skips
    HAVE_IGNITE = False
else:
    HAVE_IGNITE = True


class Model(torch.nn.Module):
    """An LSTM: its hidden state is a tuple (h, c), the case that needs nested detaching."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(2, 3, batch_first=True)
        self.out = torch.nn.Linear(3, 1)

    def forward(self, x, hidden=None):
        y, hidden = self.lstm(x, hidden)
        return self.out(y), hidden


def train(lib: str):
    engines = importlib.import_module(f"{lib}.contrib.engines")
    events = importlib.import_module(f"{lib}.engine").Events
    torch.manual_seed(0)
    model = Model()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    trainer = engines.create_supervised_tbptt_trainer(
        model, optimizer, torch.nn.MSELoss(), tbtt_step=3, dim=1
    )
    seen = []
    trainer.add_event_handler(
        engines.Tbptt_Events.TIME_ITERATION_STARTED, lambda e: seen.append("start")
    )
    trainer.add_event_handler(
        engines.Tbptt_Events.TIME_ITERATION_COMPLETED, lambda e: seen.append(e.state.output)
    )
    trainer.add_event_handler(events.ITERATION_COMPLETED, lambda e: seen.append(e.state.output))
    x = torch.randn(2, 4, 8, 2)  # 2 batches of 4 sequences of 8 steps
    data = [(x[i], x[i].sum(-1, keepdim=True).cumsum(1)) for i in range(2)]
    trainer.run(data, max_epochs=2)
    return seen, [p.detach().clone() for p in model.parameters()]


@pytest.mark.skipif(not HAVE_IGNITE, reason="pytorch-ignite not installed")
def test_same_losses_events_and_weights_as_ignite():
    ours, our_weights = train("miniengine")
    theirs, their_weights = train("ignite")
    assert ours == theirs
    for a, b in zip(our_weights, their_weights, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_chunks_and_iteration_output_is_their_mean():
    seen, _ = train("miniengine")
    # per iteration: 3 chunks (3 + 3 + 2 steps), each a start and a loss, then the mean
    iteration = seen[:7]
    assert iteration[0::2][:3] == ["start"] * 3
    losses = iteration[1:6:2]
    assert iteration[6] == pytest.approx(sum(losses) / 3)
    assert len(seen) == 4 * 7


def test_second_chunk_gets_the_first_chunks_hidden_state_detached():
    hiddens = []

    class Recorder(Model):
        def forward(self, x, hidden=None):
            hiddens.append(hidden)
            return super().forward(x, hidden)

    model = Recorder()
    trainer = create_supervised_tbptt_trainer(
        model, torch.optim.SGD(model.parameters(), lr=0.1), torch.nn.MSELoss(), 2, dim=1
    )
    x = torch.randn(1, 4, 2)
    trainer.run([(x, x[..., :1])])
    assert hiddens[0] is None
    h, c = hiddens[1]
    assert not h.requires_grad and not c.requires_grad
    assert trainer.has_registered_events(Tbptt_Events.TIME_ITERATION_STARTED)
