"""Tests for examples/atari_gan: real ALE games, real networks, real TensorBoard files, on CPU.

The two scripts run as subprocesses, the way a user runs them; they must print the same lines
and write the same TensorBoard data for the same seed.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

pytest.importorskip("gymnasium")
pytest.importorskip("ale_py")
pytest.importorskip("cv2")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from examples.atari_gan import common, compare  # noqa: E402

FINAL = re.compile(r"^final iteration=(\d+) loss_gen=(\S+) loss_dis=(\S+)$")
SCALARS = ["train/avg_loss_gen", "train/avg_loss_dis"]
IMAGES = ["fake", "real"]
# One thread per script: the tests run both scripts at once on small CI machines.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


# engine.py run on PyTorch-Ignite itself: its three imports are pointed at Ignite's modules.
ON_IGNITE = """
import runpy, sys
import ignite.engine, ignite.metrics, ignite.handlers.tensorboard_logger
sys.modules["miniengine.engine"] = ignite.engine
sys.modules["miniengine.metrics"] = ignite.metrics
sys.modules["miniengine.handlers.tensorboard_logger"] = ignite.handlers.tensorboard_logger
runpy.run_module("examples.atari_gan.engine", run_name="__main__")
"""


def _script(name: str, logdir: Path, *extra: str) -> subprocess.Popen[bytes]:
    """Starts raw.py, engine.py, or engine.py on Ignite (name "ignite")."""
    args = ["--seed", "1", "--device", "cpu", "--batch-size", "4", "--logdir", str(logdir)]
    program = ["-c", ON_IGNITE] if name == "ignite" else ["-m", f"examples.atari_gan.{name}"]
    return subprocess.Popen(
        [sys.executable, *program, *args, *extra],
        cwd=REPO,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Unbuffered, so that a readline() takes no more than its line and communicate()
        # still sees everything after it.
        bufsize=0,
    )


def _finish(process: subprocess.Popen[bytes]) -> tuple[list[str], str]:
    try:
        outputs = process.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        process.kill()  # e.g. a script that ignores Ctrl-C would run forever
        raise
    stdout, stderr = (out.decode() for out in outputs)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    return stdout.splitlines(), stderr


def _read_tensorboard(logdir: Path) -> EventAccumulator:
    events = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _tensorboard_data(events: EventAccumulator) -> tuple[dict, dict]:
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in SCALARS}
    images = {tag: [(e.step, e.encoded_image_string) for e in events.Images(tag)] for tag in IMAGES}
    return scalars, images


@pytest.fixture(scope="module")
def two_iterations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], Path]]:
    """Runs raw.py, engine.py and (when installed) engine.py on Ignite, all at once."""
    names = ["raw", "engine"]
    if importlib.util.find_spec("ignite") is not None:
        names.append("ignite")
    tmp = tmp_path_factory.mktemp("two_iterations")
    extra = ("--iterations", "2", "--report-every", "1", "--image-every", "1")
    processes = {name: _script(name, tmp / name, *extra) for name in names}
    return {name: (_finish(process)[0], tmp / name) for name, process in processes.items()}


def _close(envs: list) -> None:
    for env in envs:
        env.close()


def test_network_parameter_counts() -> None:
    def conv(c_in: int, c_out: int) -> int:  # 4x4 kernel plus bias
        return c_in * c_out * 16 + c_out

    def bn(c: int) -> int:
        return 2 * c

    dis = conv(3, 64) + conv(64, 128) + bn(128) + conv(128, 256) + bn(256)
    dis += conv(256, 512) + bn(512) + conv(512, 1)
    gen = conv(100, 512) + bn(512) + conv(512, 256) + bn(256) + conv(256, 128) + bn(128)
    gen += conv(128, 64) + bn(64) + conv(64, 3)
    # The counts stated in the issue (and the book's networks).
    assert (dis, gen) == (2_766_529, 3_577_667)
    assert sum(p.numel() for p in common.Discriminator().parameters()) == dis
    assert sum(p.numel() for p in common.Generator().parameters()) == gen


def test_network_shapes_and_ranges() -> None:
    torch.manual_seed(0)
    fake = common.Generator()(torch.randn(3, common.LATENT_SIZE, 1, 1))
    assert fake.shape == (3, 3, 64, 64)
    assert fake.abs().max() <= 1
    prob = common.Discriminator()(fake)
    assert prob.shape == (3,)
    assert ((prob > 0) & (prob < 1)).all()


def test_games_behave_like_the_books_v0_ids_without_warnings() -> None:
    import gymnasium

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        envs = common.make_envs(seed=0)
        for env in envs:
            env.step(env.action_space.sample())
        _close(envs)
    assert [str(w.message) for w in caught] == []
    for env in envs:
        assert env.spec is not None
        legacy = env.spec.id.removeprefix("ALE/").replace("-v5", "-v0")
        expected = gymnasium.spec(legacy).kwargs
        assert expected["frameskip"] == (2, 5) and expected["repeat_action_probability"] == 0.25
        assert env.spec.kwargs == expected
    # The control: the book's own id does warn, so the check above can see a warning.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gymnasium.make("Breakout-v0").close()
    assert any("out of date" in str(w.message) for w in caught)


def test_wrapper_resizes_to_channels_first_float32() -> None:
    envs = common.make_envs(seed=0)
    try:
        for env in envs:
            obs, *_ = env.step(env.action_space.sample())
            assert obs.shape == (3, 64, 64) and obs.dtype == np.float32
            assert 0 <= obs.min() and obs.max() <= 255 and obs.max() > 0
            assert env.observation_space.contains(obs)
        # A pure red frame must come out red: channel 0 full, the others empty.
        frame = np.zeros((210, 160, 3), np.uint8)
        frame[..., 0] = 255
        red = envs[0].observation(frame)
        assert (red[0] == 255).all() and (red[1:] == 0).all()
    finally:
        _close(envs)


def test_batches_from_real_envs_are_scaled_and_seeded() -> None:
    def first_batches(seed: int) -> list[torch.Tensor]:
        random.seed(seed)
        envs = common.make_envs(seed)
        batches = common.iterate_batches(envs, batch_size=4)
        try:
            return [next(batches) for _ in range(3)]
        finally:
            _close(envs)

    batches = first_batches(seed=5)
    for batch in batches:
        assert batch.shape == (4, 3, 64, 64) and batch.dtype == torch.float32
        assert batch.min() >= -1 and batch.max() <= 1
        # blank frames (mean <= 0.01 on the 0..255 scale) are skipped
        assert ((batch + 1) * 127.5).mean(dim=(1, 2, 3)).min() > 0.01
    assert batches[0].std() > 0
    again = first_batches(seed=5)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))


def test_image_grid_places_each_image_between_borders() -> None:
    images = torch.stack([torch.full((3, 5, 6), float(v)) for v in range(10)])
    grid = common.image_grid(images, nrow=4, padding=2)
    assert grid.shape == (3, 3 * (5 + 2) + 2, 4 * (6 + 2) + 2)
    for i in range(10):
        top, left = 2 + (i // 4) * 7, 2 + (i % 4) * 8
        cell = grid[:, top : top + 5, left : left + 6]
        assert torch.allclose(cell, torch.full_like(cell, i / 9))
    assert grid[:, :2].eq(0).all() and grid[:, :, :2].eq(0).all()
    assert grid[:, 2 + 2 * 7 :, 2 + 2 * 8 :].eq(0).all()  # the two empty cells


def test_compare_counts_the_code_lines_of_main(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(
        "import os\n\n"
        "def main(argv=None):\n"
        '    """Docstring,\n    two lines."""\n'
        "    # a comment\n"
        "    args = (\n        1,\n    )\n"
        "\n"
        "    return args\n\n"
        "def other():\n    pass\n"
    )
    assert compare.loop_lines(script) == 4  # "args = (", "1,", ")", "return args"


def test_parse_args_rejects_non_positive_counts(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        common.parse_args(["--iterations", "0"])
    assert "--iterations: expected a positive integer, got '0'" in capsys.readouterr().err
    assert common.parse_args([]).iterations is None


def test_raw_and_engine_scripts_print_and_log_the_same(
    two_iterations: dict[str, tuple[list[str], Path]],
) -> None:
    lines = {name: two_iterations[name][0] for name in ("raw", "engine")}
    assert lines["raw"] == lines["engine"]
    match = FINAL.match(lines["raw"][-1])
    assert match, lines["raw"]
    assert match[1] == "2"
    loss = {"avg_loss_gen": float(match[2]), "avg_loss_dis": float(match[3])}
    assert lines["raw"][:2] == [line for line in lines["raw"] if line.startswith("iteration ")]

    logged = {name: _read_tensorboard(two_iterations[name][1]) for name in ("raw", "engine")}
    for events in logged.values():
        assert sorted(events.Tags()["scalars"]) == sorted(SCALARS)
        assert sorted(events.Tags()["images"]) == IMAGES
        for tag in SCALARS:
            first, second = events.Scalars(tag)
            assert (first.step, second.step) == (1, 2)
            # RunningAverage: first value as is, then alpha * old + (1 - alpha) * new
            name = tag.removeprefix("train/")
            expected = first.value * 0.98 + 0.02 * loss[name]
            assert second.value == pytest.approx(expected, rel=1e-6)
            assert f"{name}={second.value:.6f}" in lines["raw"][1]
        for tag in IMAGES:
            shots = events.Images(tag)
            assert [shot.step for shot in shots] == [1, 2]
            # four 64x64 images in a row with 2-pixel borders
            assert all((shot.width, shot.height) == (4 * 66 + 2, 66 + 2) for shot in shots)
    assert _tensorboard_data(logged["raw"]) == _tensorboard_data(logged["engine"])
    # compare.py times iterations from these files: one interval between the two iterations.
    for name, events in logged.items():
        walls = [e.wall_time for e in events.Scalars("train/avg_loss_gen")]
        assert compare.iteration_seconds(two_iterations[name][1]) == [walls[1] - walls[0]]


def test_engine_script_on_ignite_prints_and_logs_the_same(
    two_iterations: dict[str, tuple[list[str], Path]],
) -> None:
    pytest.importorskip("ignite")
    assert two_iterations["ignite"][0] == two_iterations["engine"][0]
    on_ignite, on_miniengine = (
        _tensorboard_data(_read_tensorboard(two_iterations[name][1]))
        for name in ("ignite", "engine")
    )
    assert on_ignite == on_miniengine


def test_ctrl_c_finishes_the_iteration_and_loses_nothing(tmp_path: Path) -> None:
    names = ("raw", "engine")
    # No --iterations: both would run forever without the Ctrl-C.
    processes = {name: _script(name, tmp_path / name, "--report-every", "1") for name in names}
    for process in processes.values():
        assert process.stdout is not None
        first = process.stdout.readline().decode()
        assert first.startswith("iteration 1: "), first
        process.send_signal(signal.SIGINT)
    for name, process in processes.items():
        lines, stderr = _finish(process)
        assert "Ctrl-C: stopping after this iteration" in stderr
        match = FINAL.match(lines[-1])
        assert match, lines
        last = int(match[1])
        # Every completed iteration was reported and logged, including the last one.
        assert [line.split(":")[0] for line in lines[:-1]] == [
            f"iteration {i}" for i in range(2, last + 1)
        ]
        events = _read_tensorboard(tmp_path / name)
        for tag in SCALARS:
            assert [e.step for e in events.Scalars(tag)] == list(range(1, last + 1))
