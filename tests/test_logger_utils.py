"""miniengine.handlers.logger_utils: the tracker setups miniengine lacks fail when called, as
Ignite's do without the tracker's package; contrib.engines.common gives the same functions.
(setup_tb_logging's tags are checked in test_contrib_engines_common.py.)"""

from __future__ import annotations

import pytest
import torch

import miniengine.contrib.engines.common as common
import miniengine.handlers.logger_utils as logger_utils
from miniengine.engine import Engine

TRACKERS = {
    "setup_visdom_logging": "VisdomLogger",
    "setup_mlflow_logging": "MLflowLogger",
    "setup_neptune_logging": "NeptuneLogger",
    "setup_wandb_logging": "WandBLogger",
    "setup_plx_logging": "PolyaxonLogger",
    "setup_clearml_logging": "ClearMLLogger",
    "setup_trains_logging": "ClearMLLogger",
}


@pytest.mark.parametrize("name", sorted(TRACKERS))
def test_a_tracker_setup_imports_and_fails_when_called(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    trainer = Engine(lambda engine, batch: None)
    setup = getattr(logger_utils, name)
    with pytest.raises(ModuleNotFoundError, match=f"{name} needs Ignite's {TRACKERS[name]}"):
        setup(trainer, log_every_iters=10, project="x")
    with pytest.raises(ImportError, match="docs/differences.md#coverage-of-ignite-055s"):
        setup(trainer)  # an `except ImportError` fallback, as for Ignite's, catches it
    assert trainer.event_handlers["ITERATION_COMPLETED"] == ()  # nothing attached
    assert list(tmp_path.iterdir()) == []  # nothing written
    assert getattr(common, name) is setup


def test_common_gives_the_same_functions():
    for name in ["setup_tb_logging", "_setup_logging", *logger_utils.__all__]:
        assert getattr(common, name) is getattr(logger_utils, name)
    assert set(logger_utils.__all__) <= set(common.__all__)


def test_setup_logging_checks_its_arguments_before_attaching():
    trainer = Engine(lambda engine, batch: None)
    with pytest.raises(TypeError, match="Argument optimizers should be either a single"):
        logger_utils._setup_logging(None, trainer, "abc", None, 1)  # type: ignore[arg-type]
    sgd = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match="Argument evaluators should be either a single engine"):
        logger_utils._setup_logging(None, trainer, sgd, "abc", 1)  # type: ignore[arg-type]
