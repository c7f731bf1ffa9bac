"""miniengine.contrib.metrics: Ignite's old path exists; its names, none of which miniengine has
yet, fail with a hint to the coverage table instead of "No module named"."""

from __future__ import annotations

import pytest

import miniengine.contrib.metrics as contrib_metrics
from miniengine.contrib.metrics import regression

HINT = "docs/differences.md#coverage-of-ignite-055s-public-names"


@pytest.mark.parametrize("name", ["ROC_AUC", "AveragePrecision", "CohenKappa"])
def test_contrib_metric_names_fail_with_the_hint(name):
    with pytest.raises(ImportError, match=f"cannot import name '{name}'") as info:
        exec(f"from miniengine.contrib.metrics import {name}", {})
    assert HINT in str(info.value)
    assert not hasattr(contrib_metrics, name)


def test_regression_names_fail_with_the_hint():
    with pytest.raises(ImportError, match=HINT):
        from miniengine.contrib.metrics.regression import R2Score  # noqa: F401
    with pytest.raises(AttributeError, match=HINT):
        regression.MaximumAbsoluteError  # noqa: B018


def test_gpu_info_is_served_at_the_old_path_too():
    import miniengine.contrib.metrics as contrib_metrics
    from miniengine.metrics import GpuInfo

    assert contrib_metrics.GpuInfo is GpuInfo
