"""What every stage of the guide shares: the data, the model and one training step.

The stages differ only in the loop around ``train_step``, so the diff between two stages is
exactly the piece of the engine that stage adds.
"""

from __future__ import annotations

import torch


def make_data(batches: int = 4, batch_size: int = 8) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Batches of ``(x, y)`` with ``y = 3x - 1`` plus a little noise."""
    g = torch.Generator().manual_seed(0)
    data = []
    for _ in range(batches):
        x = torch.randn(batch_size, 1, generator=g)
        data.append((x, 3 * x - 1 + 0.1 * torch.randn(batch_size, 1, generator=g)))
    return data


def make_model() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, batch) -> float:
    """One optimisation step; returns the batch loss as a float."""
    x, y = batch
    optimizer.zero_grad()
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    return loss.item()
