"""Collection rules for `python -m pytest` (tests and the examples in docstrings)."""

import importlib.util

# These metrics are computed by scikit-learn, which the user installs (as with Ignite): their
# docstring examples run only where it is installed. Their tests skip by themselves.
collect_ignore = (
    []
    if importlib.util.find_spec("sklearn")
    else [
        "miniengine/metrics/roc_auc.py",
        "miniengine/metrics/average_precision.py",
        "miniengine/metrics/precision_recall_curve.py",
    ]
)
