"""Tests for examples/atari_gan: real ALE games, real networks, real TensorBoard files, on CPU.

The scripts run as subprocesses, the way a user runs them: for the same seed they must print
the same lines and write the same TensorBoard data, run after run and side by side; and a run
stopped at any iteration and resumed must end as one that never stopped.
"""

from __future__ import annotations

import importlib.util
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

pytest.importorskip("gymnasium")
pytest.importorskip("ale_py")

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from examples.atari_gan import common, compare  # noqa: E402

FINAL = re.compile(r"^final iteration=(\d+) loss_gen=(\S+) loss_dis=(\S+)$")
SCALARS = ["train/avg_loss_gen", "train/avg_loss_dis"]
IMAGES = ["fake", "real"]
# One thread per script (--threads 1): the tests run several scripts at once on small machines.
BASE = ["--seed", "1", "--device", "cpu", "--batch-size", "4", "--threads", "1"]

# engine.py run on PyTorch-Ignite itself: its imports are pointed at Ignite's modules. Ignite has
# no LogProgress (the plain-log progress display); its ProgressBar stands in for it.
ON_IGNITE = """
import runpy, sys, types
import miniengine.explain  # imported before the switch: it describes miniengine's engines only
import ignite.engine, ignite.handlers, ignite.metrics, ignite.handlers.tensorboard_logger
handlers = types.ModuleType("handlers")
handlers.__dict__.update(vars(ignite.handlers))
handlers.LogProgress = lambda every, desc: ignite.handlers.ProgressBar(desc=desc)
sys.modules["miniengine.engine"] = ignite.engine
sys.modules["miniengine.metrics"] = ignite.metrics
sys.modules["miniengine.handlers"] = handlers
sys.modules["miniengine.handlers.tensorboard_logger"] = ignite.handlers.tensorboard_logger
runpy.run_module("examples.atari_gan.engine", run_name="__main__")
"""


def _script(name: str, logdir: Path, *args: str) -> subprocess.Popen[bytes]:
    """Starts raw.py, engine.py, or engine.py on Ignite (name "ignite")."""
    program = ["-c", ON_IGNITE] if name == "ignite" else ["-m", f"examples.atari_gan.{name}"]
    return subprocess.Popen(
        [sys.executable, *program, "--logdir", str(logdir), *args],
        cwd=REPO,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # Unbuffered, so that a readline() takes no more than its line and communicate()
        # still sees everything after it.
        bufsize=0,
    )


def _finish(process: subprocess.Popen[bytes], check: bool = True) -> tuple[list[str], str]:
    try:
        outputs = process.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        process.kill()  # e.g. a script that ignores Ctrl-C would run forever
        raise
    stdout, stderr = (out.decode() for out in outputs)
    if check:
        assert process.returncode == 0, stderr
        assert "Traceback" not in stderr and "Warning" not in stderr, stderr
    return stdout.splitlines(), stderr


def _run(name: str, logdir: Path, *args: str) -> list[str]:
    return _finish(_script(name, logdir, *args))[0]


def _read_tensorboard(run_dir: Path) -> EventAccumulator:
    events = EventAccumulator(str(run_dir), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    return events


def _scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    events = _read_tensorboard(run_dir)
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in SCALARS}


def _tensorboard_data(events: EventAccumulator) -> tuple[dict, dict]:
    scalars = {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in SCALARS}
    images = {tag: [(e.step, e.encoded_image_string) for e in events.Images(tag)] for tag in IMAGES}
    return scalars, images


def _run_dir(logdir: Path) -> Path:
    run = common.newest_run_dir(logdir)
    assert run is not None, f"no run-<n> in {logdir}"
    return run


def _without_paths(lines: list[str], logdir: Path) -> list[str]:
    return [line.replace(str(logdir), "<logdir>") for line in lines]


@pytest.fixture(scope="module")
def two_iterations(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], Path]]:
    """Runs raw.py, engine.py and (when installed) engine.py on Ignite, all at once."""
    names = ["raw", "engine"]
    if importlib.util.find_spec("ignite") is not None:
        names.append("ignite")
    tmp = tmp_path_factory.mktemp("two_iterations")
    extra = (*BASE, "--iterations", "2", "--report-every", "1", "--image-every", "1")
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
        envs = common.make_envs(seed)
        batches = common.iterate_batches(envs, batch_size=4, rng=random.Random(seed))
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
    random.seed(123)  # the global generator plays no part
    again = first_batches(seed=5)
    assert all(torch.equal(a, b) for a, b in zip(batches, again, strict=True))
    assert not torch.equal(first_batches(seed=6)[0], batches[0])


def test_stream_continues_across_iterators_and_after_loading_its_state() -> None:
    stream = common.AtariStream(seed=2, batch_size=2)
    batches = iter(stream)
    straight = [next(batches) for _ in range(40)]  # long enough for the games to differ
    del batches
    assert stream.position == 40

    part = common.AtariStream(seed=2, batch_size=2)
    assert [torch.equal(next(iter(part)), straight[i]) for i in range(3)] == [True] * 3
    saved = part.state_dict()
    assert saved == {"seed": 2, "batch_size": 2, "position": 3}
    resumed = common.AtariStream(seed=99, batch_size=8)
    resumed.load_state_dict(saved)
    rest = iter(resumed)
    assert all(torch.equal(next(rest), straight[i]) for i in range(3, 40))
    assert resumed.position == 40


def test_gan_state_dict_restores_networks_optimizers_and_noise() -> None:
    batches = [torch.rand(2, 3, 64, 64) * 2 - 1 for _ in range(4)]
    torch.manual_seed(0)
    straight = common.GAN(torch.device("cpu"), seed=3)
    outputs = [straight.step(b) for b in batches]

    torch.manual_seed(0)
    first = common.GAN(torch.device("cpu"), seed=3)
    for b in batches[:2]:
        first.step(b)
    torch.manual_seed(42)  # other initial weights, other noise: all replaced by the state
    second = common.GAN(torch.device("cpu"), seed=4)
    second.load_state_dict(first.state_dict())
    for b, expected in zip(batches[2:], outputs[2:], strict=True):
        out = second.step(b)
        assert (out["loss_gen"], out["loss_dis"]) == (expected["loss_gen"], expected["loss_dis"])
        assert torch.equal(out["fake"], expected["fake"])


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


def test_compare_draws_both_runs(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    steps = list(range(1, 51))
    curves = {
        name: {tag: (steps, [1 / s for s in steps]) for tag in compare.TAGS}
        for name in compare.SCRIPTS
    }
    picture = tmp_path / "sub" / "compare.png"
    compare.draw(picture, curves, {"raw": [0.5, 0.6, 0.55], "engine": [0.52, 0.58]})
    image = cv2.imread(str(picture))
    assert image is not None and image.shape == (450, 1500, 3)
    assert image.std() > 10  # something was drawn, not a blank canvas


def test_parse_args_defaults_and_errors(capsys: pytest.CaptureFixture[str]) -> None:
    args = common.parse_args([])
    assert (args.iterations, args.batch_size, args.seed) == (common.ITERATIONS, 16, None)
    assert args.threads == common.default_threads() and not args.resume
    resumed = common.parse_args(["--resume"], resumable=True)
    assert (resumed.iterations, resumed.batch_size) == (None, None)  # the run's own

    def error(argv: list[str], resumable: bool = True) -> str:
        with pytest.raises(SystemExit):
            common.parse_args(argv, resumable)
        return capsys.readouterr().err

    assert "--iterations: expected a positive integer, got '0'" in error(["--iterations", "0"])
    assert "--threads: expected a positive integer, got '-1'" in error(["--threads", "-1"])
    assert "--checkpoint-every: expected a positive" in error(["--checkpoint-every", "0"])
    assert "unrecognized arguments: --resume" in error(["--resume"], resumable=False)
    assert "keeps its own seed and batch size" in error(["--resume", "--seed", "3"])
    assert "keeps its own seed and batch size" in error(["--resume", "--batch-size", "8"])


def test_help_shows_the_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        common.parse_args(["--help"], resumable=True)
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines anywhere
    for shown in [
        f"(default: {common.ITERATIONS}, or the resumed run's own)",
        "(default: drawn at random, and printed)",
        "(default: auto)",
        f"(default: {common.default_threads()})",
        "(default: runs/atari_gan)",
        "(default: 100)",
        "(default: 500)",
    ]:
        assert shown in text
    assert "None" not in text


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_unavailable_device_is_a_clear_error() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "examples.atari_gan.raw", "--device", "cuda"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert "argument --device: got 'cuda', but CUDA is not available" in run.stderr
    assert "use --device cpu, or auto" in run.stderr


def test_raw_and_engine_scripts_print_and_log_the_same(
    two_iterations: dict[str, tuple[list[str], Path]],
) -> None:
    lines = {
        name: _without_paths(two_iterations[name][0], two_iterations[name][1])
        for name in ("raw", "engine")
    }
    assert lines["raw"] == lines["engine"]
    raw = lines["raw"]
    assert raw[0] == "run directory: <logdir>/run-1 (tensorboard --logdir <logdir>)"
    assert raw[1] == "seed 1, 1 CPU threads, device cpu"
    match = FINAL.match(raw[-1])
    assert match, raw
    assert match[1] == "2"
    loss = {"avg_loss_gen": float(match[2]), "avg_loss_dis": float(match[3])}
    assert raw[2:4] == [line for line in raw if line.startswith("iteration ")]
    assert raw[-3] == "last fakes: <logdir>/run-1/fake.png"

    run_dirs = {name: _run_dir(two_iterations[name][1]) for name in ("raw", "engine")}
    logged = {name: _read_tensorboard(run_dir) for name, run_dir in run_dirs.items()}
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
            # TensorBoard stores float32: the printed float64 may differ in its last digit
            for line in (raw[3], raw[-2]):  # the report and the smoothed line
                printed = float(re.search(rf"\b{name}=([-\d.]+)", line)[1])  # type: ignore[index]
                assert printed == pytest.approx(second.value, rel=1e-6, abs=1e-6)
        for tag in IMAGES:
            shots = events.Images(tag)
            assert [shot.step for shot in shots] == [1, 2]
            # four 64x64 images in a row with 2-pixel borders
            assert all((shot.width, shot.height) == (4 * 66 + 2, 66 + 2) for shot in shots)
    assert _tensorboard_data(logged["raw"]) == _tensorboard_data(logged["engine"])
    for name, run_dir in run_dirs.items():
        # The PNG of the last fakes holds the very pixels of the last "fake" image logged.
        shot = logged[name].Images("fake")[-1].encoded_image_string
        logged_pixels = cv2.imdecode(np.frombuffer(shot, np.uint8), cv2.IMREAD_COLOR)
        assert np.array_equal(cv2.imread(str(run_dir / "fake.png")), logged_pixels)
        # compare.py times iterations from these files: one interval between the two iterations.
        walls = [e.wall_time for e in logged[name].Scalars("train/avg_loss_gen")]
        assert compare.iteration_seconds(run_dir) == [walls[1] - walls[0]]


def test_engine_script_on_ignite_prints_and_logs_the_same(
    two_iterations: dict[str, tuple[list[str], Path]],
) -> None:
    pytest.importorskip("ignite")
    on_ignite, on_miniengine = (
        _without_paths(*two_iterations[name]) for name in ("ignite", "engine")
    )
    assert on_ignite == on_miniengine
    on_ignite, on_miniengine = (
        _tensorboard_data(_read_tensorboard(_run_dir(two_iterations[name][1])))
        for name in ("ignite", "engine")
    )
    assert on_ignite == on_miniengine


def test_same_seed_same_numbers_in_a_row_and_side_by_side(
    two_iterations: dict[str, tuple[list[str], Path]], tmp_path: Path
) -> None:
    # Two more runs of raw.py, at the same time and into the same --logdir, after the first.
    extra = (*BASE, "--iterations", "2", "--report-every", "1", "--image-every", "1")
    processes = [_script("raw", tmp_path, *extra) for _ in range(2)]
    outputs = [_finish(process)[0] for process in processes]
    # Each went to a run directory of its own, though they started together.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-1", "run-2"]
    first, first_logdir = two_iterations["raw"]
    expected = _without_paths(first, first_logdir)[1:]  # all but the run directory
    for lines in outputs:
        assert [line for line in _without_paths(lines, tmp_path) if "run-" not in line] == [
            line for line in expected if "run-" not in line
        ]
    expected_data = _tensorboard_data(_read_tensorboard(_run_dir(first_logdir)))
    for run in ("run-1", "run-2"):
        assert _tensorboard_data(_read_tensorboard(tmp_path / run)) == expected_data


def test_ctrl_c_finishes_the_iteration_and_loses_nothing(tmp_path: Path) -> None:
    names = ("raw", "engine")
    # --iterations far away: both would run for hours without the Ctrl-C.
    extra = (*BASE, "--report-every", "1", "--iterations", "100000")
    processes = {name: _script(name, tmp_path / name, *extra) for name in names}
    for process in processes.values():
        assert process.stdout is not None
        first = ""
        while not first.startswith("iteration "):
            first = process.stdout.readline().decode()
            assert first, "the script ended before its first report"
        assert first.startswith("iteration 1: "), first
        process.send_signal(signal.SIGINT)
    for name, process in processes.items():
        lines, stderr = _finish(process)
        assert "Ctrl-C: stopping after this iteration" in stderr
        match = FINAL.match(lines[-1])
        assert match, lines
        last = int(match[1])
        # Every completed iteration was reported and logged, including the last one.
        reports = [line.split(":")[0] for line in lines if line.startswith("iteration ")]
        assert reports == [f"iteration {i}" for i in range(2, last + 1)]
        events = _read_tensorboard(_run_dir(tmp_path / name))
        for tag in SCALARS:
            assert [e.step for e in events.Scalars(tag)] == list(range(1, last + 1))
        for tag in IMAGES:  # --image-every is 500: only the last iteration's images
            assert [e.step for e in events.Images(tag)] == [last]


# ---------------------------------------------------------------- checkpoints and resume
RESUMABLE = (*BASE, "--report-every", "1", "--checkpoint-every", "2")


def _stop_after(process: subprocess.Popen[bytes], iteration: int, sig: int) -> None:
    assert process.stdout is not None
    while not process.stdout.readline().decode().startswith(f"iteration {iteration}:"):
        assert process.poll() is None, "the script ended early"
    process.send_signal(sig)


@pytest.fixture(scope="module")
def resumed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[list[str], Path]]:
    """Runs that never stopped, and runs stopped and resumed (each with its --logdir)."""
    tmp = tmp_path_factory.mktemp("resume")
    first = {
        "straight": _script("engine", tmp / "straight", *RESUMABLE, "--iterations", "8"),
        "extended": _script("engine", tmp / "extended", *RESUMABLE, "--iterations", "3"),
    }
    # One at a time: a run left going while we wait for the other could finish before its
    # signal (what is read from its pipe can be far behind what it did).
    first["killed"] = _script("engine", tmp / "killed", *RESUMABLE, "--iterations", "8")
    _stop_after(first["killed"], 5, signal.SIGKILL)  # between checkpoints 4 and 6
    first["ctrl_c"] = _script("engine", tmp / "ctrl_c", *RESUMABLE, "--iterations", "8")
    _stop_after(first["ctrl_c"], 3, signal.SIGINT)  # checkpoint 2, then one when it stops
    first["killed"].wait(timeout=60)
    assert first["killed"].returncode == -signal.SIGKILL
    for name in ("ctrl_c", "extended"):
        _finish(first[name])
    again = {
        name: _script("engine", tmp / name, "--resume", "--threads", "1", "--report-every", "1")
        for name in ("killed", "ctrl_c")
    }
    again["extended"] = _script("engine", tmp / "extended", "--resume", "--threads", "1",
                                "--report-every", "1", "--iterations", "8")  # fmt: skip
    runs = {name: (_finish(process)[0], tmp / name) for name, process in again.items()}
    runs["straight"] = (_finish(first["straight"])[0], tmp / "straight")
    return runs


@pytest.mark.parametrize("stopped", ["killed", "ctrl_c", "extended"])
def test_a_stopped_and_resumed_run_ends_as_one_never_stopped(
    resumed: dict[str, tuple[list[str], Path]], stopped: str
) -> None:
    (straight, _), (lines, logdir) = resumed["straight"], resumed[stopped]
    assert FINAL.match(straight[-1])[1] == "8"
    assert lines[-2:] == straight[-2:]  # the smoothed averages and the final line
    start = re.match(r"resuming from .*checkpoint_(\d+)\.pt at iteration (\d+) of 8", lines[1])
    assert start and start[1] == start[2]
    # It went on with the very next iteration, and reported each one as the straight run did.
    reports = [line for line in lines if line.startswith("iteration ")]
    assert reports == straight[-3 - len(reports) : -3]
    assert reports[0].startswith(f"iteration {int(start[2]) + 1}:")
    # One run directory, the same scalars (what the stopped run wrote past its checkpoint is
    # purged), and one checkpoint left: the last.
    assert [p.name for p in logdir.iterdir()] == ["run-1"]
    assert _scalars(logdir / "run-1") == _scalars(resumed["straight"][1] / "run-1")
    assert [p.name for p in (logdir / "run-1" / "checkpoints").iterdir()] == ["checkpoint_8.pt"]


def test_resume_refuses_what_it_cannot_continue(
    resumed: dict[str, tuple[list[str], Path]], tmp_path: Path
) -> None:
    finished = resumed["straight"][1]
    process = _script("engine", finished, "--resume", "--threads", "1")
    _, stderr = _finish(process, check=False)
    assert process.returncode == 1
    assert "has done 8 of 8 iterations; give --iterations above 8" in stderr
    process = _script("engine", tmp_path, "--resume", "--threads", "1")
    _, stderr = _finish(process, check=False)
    assert process.returncode == 1
    assert f"--resume: no run-<n> directory in {tmp_path} to continue" in stderr


# ---------------------------------------------------------------- the README
README = (REPO / "README.md").read_text()


def test_readme_shows_what_the_engine_calls(tmp_path: Path) -> None:
    match = re.search(
        r"### What happens in one iteration\n.*?```text\n(.*?)```", README, flags=re.S
    )
    assert match, "the README's describe() block"
    shown = match[1].splitlines()
    lines = _run("engine", tmp_path, *BASE, "--iterations", "1", "--describe")
    start = lines.index(shown[0])  # the table's header
    assert lines[start : start + len(shown)] == shown
    assert lines[start + len(shown)].startswith("last fakes:")  # the whole table


def test_readme_shows_the_loop_the_engine_runs(tmp_path: Path) -> None:
    match = re.search(r"### The loop the engine runs\n.*?```python\n(.*?)```", README, flags=re.S)
    assert match, "the README's as_loop block"
    shown = match[1].splitlines()
    lines = _run("engine", tmp_path, *BASE, "--iterations", "1", "--show-loop")
    indent = " " * 8  # the excerpt is the epoch loop of the generated run()
    start = lines.index(indent + shown[0])
    assert lines[start : start + len(shown)] == [indent + line if line else "" for line in shown]


@pytest.mark.parametrize("name", ["raw", "engine"])
def test_readme_shows_the_loops_as_they_are(name: str) -> None:
    block = re.search(rf"```python\n# {name}\.py\n(.*?)```", README, flags=re.S)
    assert block, f"the README's {name}.py block"
    source = (REPO / "examples" / "atari_gan" / f"{name}.py").read_text()
    after_docstring = source.split("def main(", 1)[1].split('"""\n', 1)[1]
    body = re.match(r"(?:    .*\n|\n)*", after_docstring)
    assert body
    assert block[1] in textwrap.dedent(body[0])
