"""Collection rules for `python -m pytest` (tests and the examples in docstrings)."""

import importlib.util

# Some metrics are computed by a package that the user installs (as with Ignite): their
# docstring examples run only where it is installed. Their tests skip by themselves.
NEEDS = {
    "sklearn": [
        "miniengine/metrics/roc_auc.py",
        "miniengine/metrics/average_precision.py",
        "miniengine/metrics/precision_recall_curve.py",
        "miniengine/metrics/matthews_corrcoef.py",
        "miniengine/metrics/clustering/__init__.py",
        "miniengine/metrics/clustering/silhouette_score.py",
        "miniengine/metrics/clustering/davies_bouldin_score.py",
        "miniengine/metrics/clustering/calinski_harabasz_score.py",
    ],
    "scipy": [
        "miniengine/metrics/regression/spearman_correlation.py",
        "miniengine/metrics/regression/kendall_correlation.py",
    ],
}

collect_ignore = [
    path
    for package, paths in NEEDS.items()
    if importlib.util.find_spec(package) is None
    for path in paths
]
