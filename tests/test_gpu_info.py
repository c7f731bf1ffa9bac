"""GpuInfo: the errors without pynvml or a GPU (as Ignite's), and the values it writes from
nvidia_smi's report (pynvml stood in for by a module that returns a fixed report)."""

from __future__ import annotations

import sys
import types

import pytest
import torch

from miniengine import Engine, Events
from miniengine.metrics import GpuInfo

try:
    import ignite.metrics as ignite_metrics
except ImportError:
    ignite_metrics = None

REPORT = {
    "gpu": [
        {"fb_memory_usage": {"used": 256.0, "total": 1024.0}, "utilization": {"gpu_util": 37}},
        {"fb_memory_usage": {"used": 1.0, "total": 3.0}, "utilization": {"gpu_util": "N/A"}},
        {"utilization": {}},
    ]
}


@pytest.fixture
def fake_pynvml(monkeypatch):
    class NvidiaSmi:
        @classmethod
        def getInstance(cls):  # noqa: N802 - pynvml's name
            return cls()

        def DeviceQuery(self, query):  # noqa: N802
            return REPORT

    smi = types.ModuleType("pynvml.smi")
    smi.nvidia_smi = NvidiaSmi
    monkeypatch.setitem(sys.modules, "pynvml", types.ModuleType("pynvml"))
    monkeypatch.setitem(sys.modules, "pynvml.smi", smi)


def test_without_pynvml_it_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    with pytest.raises(ModuleNotFoundError, match="pip install 'pynvml<12'"):
        GpuInfo()


def test_without_a_gpu_it_is_a_runtime_error_as_ignites_examples_expect(fake_pynvml, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="This contrib module requires available GPU"):
        GpuInfo()
    if ignite_metrics is not None:
        with pytest.raises(RuntimeError, match="This contrib module requires available GPU"):
            ignite_metrics.GpuInfo()


def test_writes_each_gpus_percentages_and_skips_what_is_not_reported(fake_pynvml, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)

    def metrics_after_one_iteration(engine_class, metric_class):
        engine = engine_class(lambda e, b: None)
        metric_class().attach(engine, name="gpu")
        with pytest.warns(UserWarning, match="No GPU"):
            engine.run([0])
        return engine.state.metrics

    ours = metrics_after_one_iteration(Engine, GpuInfo)
    assert ours == {"gpu:0 mem(%)": 25, "gpu:1 mem(%)": 33, "gpu:0 util(%)": 37}
    if ignite_metrics is not None:
        from ignite.engine import Engine as IgniteEngine

        assert ours == metrics_after_one_iteration(IgniteEngine, ignite_metrics.GpuInfo)


def test_attaches_on_the_event_given(fake_pynvml, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    engine = Engine(lambda e, b: None)
    GpuInfo().attach(engine, event_name=Events.EPOCH_COMPLETED)
    assert len(engine.event_handlers["EPOCH_COMPLETED"]) == 1
    assert not engine.event_handlers["ITERATION_COMPLETED"]
