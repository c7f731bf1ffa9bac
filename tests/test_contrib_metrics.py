"""miniengine.contrib.metrics: Ignite's old path serves the same classes as miniengine.metrics,
and a name miniengine lacks fails with a hint to the coverage table, not "No module named"."""

from __future__ import annotations

import pytest

import miniengine.contrib.metrics as contrib_metrics
import miniengine.metrics as metrics
from miniengine.metrics import regression

HINT = "docs/differences.md#coverage-of-ignite-055s-public-names"


@pytest.mark.parametrize(
    "name", ["GpuInfo", "ROC_AUC", "RocCurve", "AveragePrecision", "PrecisionRecallCurve"]
)
def test_old_path_serves_the_same_classes(name):
    assert getattr(contrib_metrics, name) is getattr(metrics, name)


def test_old_regression_path_serves_the_same_classes():
    from miniengine.contrib.metrics.regression import MaximumAbsoluteError, R2Score

    assert (R2Score, MaximumAbsoluteError) == (regression.R2Score, regression.MaximumAbsoluteError)


def test_names_miniengine_lacks_fail_with_the_hint():
    with pytest.raises(ImportError, match="cannot import name 'FID'") as info:
        exec("from miniengine.metrics import FID", {})  # "deliberately not" in the table
    assert HINT in str(info.value)
    with pytest.raises(AttributeError, match=HINT):
        contrib_metrics.NoSuchMetric  # noqa: B018
