"""SSIM: against a numpy sliding-window reference written from the definition, by hand on flat
images, against Ignite (2-d, 3-d, windows, dtypes, state_dict both ways), errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import SSIM

G = torch.Generator().manual_seed(0)


def reference_window(size, sigma, gaussian):
    """One dimension's weights: a normalised gaussian, or Ignite's box of five 1/5 taps."""
    x = np.arange(size) - (size - 1) / 2
    if gaussian:
        w = np.exp(-(x**2) / (2 * sigma**2))
        return w / w.sum()
    return np.where(np.abs(x) <= 2, 0.2, 0.0)


def reference(y_pred, y, data_range, kernel_size=11, sigma=1.5, k1=0.01, k2=0.03, gaussian=True):
    """Mean over images of the SSIM map; local statistics read from numpy sliding windows."""
    p, t = y_pred.double().numpy(), y.double().numpy()
    dims = p.ndim - 2
    sizes = [kernel_size] * dims if isinstance(kernel_size, int) else list(kernel_size)
    sigmas = [sigma] * dims if isinstance(sigma, float) else list(sigma)
    window = np.ones(())
    for size, s in zip(sizes, sigmas, strict=True):
        window = np.multiply.outer(window, reference_window(size, s, gaussian))
    pad = [(0, 0), (0, 0)] + [(k // 2, k // 2) for k in sizes]
    axes = tuple(range(-dims, 0))

    def local_mean(a):
        views = np.lib.stride_tricks.sliding_window_view(
            np.pad(a, pad, mode="reflect"), sizes, axes
        )
        return np.tensordot(views, window, axes=dims)

    mu_p, mu_t = local_mean(p), local_mean(t)
    var_p, var_t = local_mean(p * p) - mu_p**2, local_mean(t * t) - mu_t**2
    cov = local_mean(p * t) - mu_p * mu_t
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    ssim = ((2 * mu_p * mu_t + c1) * (2 * cov + c2)) / (
        (mu_p**2 + mu_t**2 + c1) * (var_p + var_t + c2)
    )
    return ssim.reshape(len(ssim), -1).mean(axis=1).mean()


def noisy_pair(shape, dtype=torch.float32):
    y = torch.rand(shape, generator=G, dtype=torch.float64)
    y_pred = (0.7 * y + 0.3 * torch.rand(shape, generator=G, dtype=torch.float64)).clamp(0, 1)
    return y_pred.to(dtype), y.to(dtype)


CASES = {
    "gaussian 11, RGB": ((4, 3, 24, 24), {}),
    "uniform 7": ((3, 2, 20, 20), {"gaussian": False, "kernel_size": 7}),
    "uniform 3 (weights sum to 0.6)": ((3, 1, 10, 10), {"gaussian": False, "kernel_size": 3}),
    "gaussian (5, 9), sigma (1.0, 2.5)": (
        (3, 1, 21, 15),
        {"kernel_size": (5, 9), "sigma": (1.0, 2.5)},
    ),
    "k1, k2, data_range": ((2, 2, 16, 16), {"k1": 0.05, "k2": 0.1, "data_range": 2.0}),
    "3-d gaussian 5": ((2, 2, 9, 9, 9), {"ndims": 3, "kernel_size": 5}),
    "3-d uniform 7": ((3, 1, 8, 8, 8), {"ndims": 3, "gaussian": False, "kernel_size": 7}),
}


def split_run(metric, y_pred, y, cut=1):
    engine = Engine(lambda e, b: b)
    metric.attach(engine, "ssim")
    return engine.run([(y_pred[:cut], y[:cut]), (y_pred[cut:], y[cut:])]).metrics["ssim"]


@pytest.mark.parametrize("name", list(CASES))
def test_reference_and_oracle(name):
    shape, kwargs = CASES[name]
    kwargs = {"data_range": 1.0, **kwargs}
    y_pred, y = noisy_pair(shape, torch.float64)
    got = split_run(SSIM(**kwargs), y_pred, y)
    ref_kwargs = {k: v for k, v in kwargs.items() if k != "ndims"}
    assert got == pytest.approx(reference(y_pred, y, **ref_kwargs), abs=1e-7)  # float32 window
    assert 0.3 < got < 0.99  # far from the trivial values
    im = pytest.importorskip("ignite.metrics")
    for dtype in (torch.float32, torch.float64):
        theirs, ours = im.SSIM(**kwargs), SSIM(**kwargs)
        for m in (theirs, ours):
            m.update((y_pred[:1].to(dtype), y[:1].to(dtype)))
            m.update((y_pred[1:].to(dtype), y[1:].to(dtype)))
        assert ours.compute() == theirs.compute()


def test_identical_images_give_one_and_the_index_is_symmetric():
    y_pred, y = noisy_pair((3, 3, 16, 16))
    ssim = SSIM(1.0)
    ssim.update((y, y))
    assert ssim.compute() == 1.0
    forward, backward = SSIM(1.0), SSIM(1.0)
    forward.update((y_pred, y))
    backward.update((y, y_pred))
    assert forward.compute() == pytest.approx(backward.compute(), abs=1e-12)


@pytest.mark.parametrize("gaussian", [True, False])
def test_flat_images_by_hand(gaussian):
    """Constant images a and b: no variance, so SSIM = (2ab + C1) / (a^2 + b^2 + C1)."""
    a, b, data_range = 0.6, 0.2, 1.0
    y_pred, y = torch.full((2, 1, 12, 12), a, dtype=torch.float64), torch.full((2, 1, 12, 12), b)
    ssim = SSIM(data_range, kernel_size=7, gaussian=gaussian)
    ssim.update((y_pred, y.double()))
    c1 = (0.01 * data_range) ** 2
    # the window is float32 (as Ignite's): its rounding leaves variances of ~1e-8 against C2 1e-3
    assert ssim.compute() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1), rel=1e-4)


def test_uint8_images_variable_batches_and_channels():
    y = torch.randint(0, 256, (5, 3, 16, 16), dtype=torch.uint8, generator=G)
    y_pred = (y * 0.8).to(torch.uint8)
    got = split_run(SSIM(255), y_pred, y, cut=2)
    assert got == pytest.approx(reference(y_pred, y, 255), abs=1e-6)
    ssim = SSIM(1.0)  # a new channel count builds a new per-channel window
    for c in (1, 4, 2):
        ssim.update(noisy_pair((2, c, 12, 12)))
    assert ssim._num_examples == 6
    im = pytest.importorskip("ignite.metrics")
    theirs = im.SSIM(255)
    theirs.update((y_pred[:2], y[:2]))
    theirs.update((y_pred[2:], y[2:]))
    assert got == theirs.compute()


def test_empty_batches_count_nothing():
    y_pred, y = noisy_pair((2, 1, 12, 12))
    ssim = SSIM(1.0)
    ssim.update((y_pred[:0], y[:0]))
    ssim.update((y_pred, y))
    assert ssim._num_examples == 2
    assert ssim.compute() == pytest.approx(reference(y_pred, y, 1.0), abs=1e-6)


def test_state_dict_round_trips_with_ignite():
    y_pred, y = noisy_pair((3, 2, 12, 12))
    ours = SSIM(1.0)
    ours.update((y_pred, y))
    copy = SSIM(1.0)
    copy.load_state_dict(ours.state_dict())
    assert copy.compute() == ours.compute()
    im = pytest.importorskip("ignite.metrics")
    theirs = im.SSIM(1.0)
    theirs.load_state_dict(ours.state_dict())
    assert theirs.compute() == ours.compute()
    theirs.update((y, y_pred))
    ours.load_state_dict(theirs.state_dict())
    assert ours.compute() == theirs.compute()


def test_a_cpu_batch_goes_to_the_metrics_device_with_a_warning():
    ssim = SSIM(1.0, device="meta")  # any device but the CPU; meta needs no accelerator
    with pytest.warns(UserWarning, match="y_pred tensor is on cpu device but previous computation"):
        ssim.update(noisy_pair((1, 1, 12, 12)))
    assert ssim._kernel is not None and ssim._kernel.device.type == "meta"


def test_errors():
    with pytest.raises(NotComputableError, match="SSIM must have at least one example"):
        SSIM(1.0).compute()
    bad_args = [
        ({"ndims": 4}, "Expected ndims to be 2 or 3. Got 4."),
        ({"kernel_size": 2}, r"Expected kernel_size to have odd positive number. Got 2."),
        ({"kernel_size": -1}, "Expected kernel_size to have odd positive number"),
        ({"kernel_size": (3, 4.0)}, "Expected kernel_size to have odd positive number"),
        ({"kernel_size": 1.0}, "Argument kernel_size should be either int or a sequence of int"),
        ({"kernel_size": (3, 3, 3)}, "Expected kernel_size to have length of 2. Got 3."),
        ({"sigma": 1}, "Argument sigma should be either float or a sequence of float of length 2"),
        ({"sigma": (1.0,)}, "Expected sigma to have length of 2. Got 1."),
        ({"sigma": (-1, -1)}, "Expected sigma to have positive number"),
        ({"sigma": [1.5, 0.0], "ndims": 2}, "Expected sigma to have positive number"),
        ({"data_range": 0}, "Argument data_range should be a positive number, got 0"),
        ({"data_range": "1"}, "Argument data_range should be a positive number"),
    ]
    for kwargs, message in bad_args:
        with pytest.raises(ValueError, match=message):
            SSIM(**{"data_range": 1.0, **kwargs})
    ssim = SSIM(1.0)
    y = torch.rand(2, 1, 12, 12, generator=G)
    with pytest.raises(TypeError, match="Expected y_pred and y to have the same data type"):
        ssim.update((y, y.double()))
    with pytest.raises(ValueError, match="Expected y_pred and y to have the same shape"):
        ssim.update((y, y[0]))
    with pytest.raises(ValueError, match="Expected y_pred and y to have BxCxHxW or BxCxDxHxW"):
        ssim.update((y[0], y[0]))
    with pytest.raises(ValueError, match="Expected y_pred and y to have BxCxHxW or BxCxDxHxW"):
        SSIM(1.0, ndims=3).update((y, y))


def test_3d_windows_of_unequal_sizes_pad_each_dimension_by_its_own_half():
    """Ignite pads D, H, W by the halves of kernel_size[2], [0], [1]; here by [0], [1], [2]."""
    y_pred, y = noisy_pair((2, 1, 9, 10, 11), torch.float64)
    ssim = SSIM(1.0, kernel_size=(3, 5, 7), sigma=(1.0, 1.5, 2.0), ndims=3)
    ssim.update((y_pred, y))
    want = reference(y_pred, y, 1.0, kernel_size=(3, 5, 7), sigma=(1.0, 1.5, 2.0))
    assert ssim.compute() == pytest.approx(want, abs=1e-7)
    assert not math.isnan(want)
