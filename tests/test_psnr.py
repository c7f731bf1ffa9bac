"""PSNR: by hand, against Ignite (float, uint8, Y channel of YCbCr, (N, H, W)), errors."""

from __future__ import annotations

import math

import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import PSNR

G = torch.Generator().manual_seed(0)


def by_hand(y_pred, y, data_range):
    """Per image: 10 log10(range^2 / MSE), MSE over every pixel of every channel; then the mean."""
    values = []
    for p, t in zip(y_pred.double(), y.double(), strict=True):
        mse = ((p - t) ** 2).mean().item()
        values.append(10 * math.log10(data_range**2 / (mse + 1e-10)))
    return sum(values) / len(values)


def cases():
    rgb = torch.rand(4, 3, 8, 8, generator=G)
    uint8 = torch.randint(0, 256, (4, 3, 8, 8), dtype=torch.uint8, generator=G)
    ycbcr = torch.randint(16, 236, (3, 3, 6, 6), dtype=torch.uint8, generator=G)
    gray = torch.rand(5, 7, 7, generator=G)
    return {
        "float RGB": (rgb, rgb * 0.8, 1.0, None),
        "uint8 RGB": (uint8, (uint8 * 0.8).to(torch.uint8), 255, None),  # no uint8 wrap-around
        "Y of YCbCr": (ycbcr, ycbcr.flip(0), 219, lambda out: (out[0][:, 0], out[1][:, 0])),
        "(N, H, W)": (gray, gray.flip(1), 1.0, None),
    }


@pytest.mark.parametrize("name", list(cases()))
def test_by_hand_and_oracle(name):
    y_pred, y, data_range, transform = cases()[name]
    engine = Engine(lambda e, b: b)
    PSNR(data_range, **({"output_transform": transform} if transform else {})).attach(engine, "p")
    got = engine.run([(y_pred[:2], y[:2]), (y_pred[2:], y[2:])]).metrics["p"]
    if transform:
        y_pred, y = transform((y_pred, y))
    assert got == pytest.approx(by_hand(y_pred, y, data_range), rel=1e-12)
    im = pytest.importorskip("ignite.metrics")
    theirs = im.PSNR(data_range)
    theirs.update((y_pred[:2], y[:2]))
    theirs.update((y_pred[2:], y[2:]))
    assert got == theirs.compute()


def test_errors():
    psnr = PSNR(1.0)
    with pytest.raises(NotComputableError, match="PSNR must have at least one example"):
        psnr.compute()
    y = torch.rand(1, 3, 4, 4, generator=G)
    with pytest.raises(TypeError, match="Expected y_pred and y to have the same data type"):
        psnr.update((y, y.double()))
    with pytest.raises(ValueError, match="Expected y_pred and y to have the same shape"):
        psnr.update((y, y[0]))
    for bad in (0, -1.0, "255", None):
        with pytest.raises(ValueError, match="Argument data_range should be a positive number"):
            PSNR(bad)


def test_identical_images_give_a_large_finite_value_and_empty_batches_count_nothing():
    psnr = PSNR(1.0)
    y = torch.rand(2, 4, 4, generator=G)
    psnr.update((y[:0], y[:0]))
    psnr.update((y, y))
    assert psnr.compute() == pytest.approx(100.0)  # 10 log10(1 / 1e-10)
