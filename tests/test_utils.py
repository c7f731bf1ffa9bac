"""miniengine.utils against ignite.utils: same results, types, messages and logger set-ups."""

from __future__ import annotations

import io
import logging
import random
import re
import uuid
from collections import OrderedDict, namedtuple

import numpy as np
import pytest
import torch

from miniengine import utils
from miniengine.engine import Engine, Events
from miniengine.utils import (
    apply_to_tensor,
    apply_to_type,
    convert_tensor,
    deprecated,
    hash_checkpoint,
    manual_seed,
    setup_logger,
    to_onehot,
)

Point = namedtuple("Point", ["x", "y"])
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"  # logging's default asctime


@pytest.fixture
def iu():
    return pytest.importorskip("ignite.utils")


def nested() -> dict:
    return {
        "a": torch.tensor([1.0, 2.0]),
        "b": [torch.tensor(3), "text", b"raw", (torch.ones(2, 2), "4")],
        "c": Point(torch.zeros(1), torch.tensor([5])),
        "d": OrderedDict(e=torch.tensor([6.0])),
    }


def same_structure(a, b) -> None:
    """Equal values, and the same container and element types all the way down."""
    assert type(a) is type(b)
    if isinstance(a, torch.Tensor):
        assert a.dtype == b.dtype and a.device == b.device and torch.equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            same_structure(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same_structure(x, y)
    else:
        assert a == b


# ---------------------------------------------------------------- tensors and containers


def test_apply_to_tensor_rebuilds_every_container(iu):
    for fn in (lambda t: t * 2, lambda t: t.float().sum()):
        same_structure(apply_to_tensor(nested(), fn), iu.apply_to_tensor(nested(), fn))
    doubled = apply_to_tensor(nested(), lambda t: t * 2)
    assert torch.equal(doubled["c"].y, torch.tensor([10])) and doubled["b"][1:3] == ["text", b"raw"]


def test_apply_to_type_on_other_types(iu):
    data = {"n": 3, "l": [1, "s", (2, 7)], "p": Point(1, 2)}
    for kind in (int, (int, float)):
        same_structure(
            apply_to_type(data, kind, lambda v: v + 1),
            iu.apply_to_type(data, kind, lambda v: v + 1),
        )
    assert apply_to_type(data, int, lambda v: v + 1) == {
        "n": 4,
        "l": [2, "s", (3, 8)],
        "p": (2, 3),
    }


@pytest.mark.parametrize("bad", [{1, 2}, 3.5, None, object()])
def test_apply_to_type_refuses_what_it_cannot_walk_with_ignites_message(iu, bad):
    with pytest.raises(TypeError) as ours:
        apply_to_tensor([torch.ones(1), bad], lambda t: t)
    with pytest.raises(TypeError) as theirs:
        iu.apply_to_tensor([torch.ones(1), bad], lambda t: t)
    assert str(ours.value) == str(theirs.value)
    assert re.match(r"x must contain .*Tensor.*, dicts or lists; found", str(ours.value))


def test_convert_tensor(iu):
    for device in (None, "cpu", torch.device("cpu")):
        for non_blocking in (False, True):
            same_structure(
                convert_tensor(nested(), device, non_blocking),
                iu.convert_tensor(nested(), device, non_blocking),
            )
    t = torch.ones(2)
    assert convert_tensor(t) is t and convert_tensor("just text", "cpu") == "just text"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_convert_tensor_to_gpu():
    moved = convert_tensor({"x": torch.ones(2).pin_memory()}, "cuda", non_blocking=True)
    assert moved["x"].device.type == "cuda"


@pytest.mark.parametrize("shape", [(7,), (3, 4, 5), (2, 3, 2, 2)])
def test_to_onehot_equals_ignites(iu, shape):
    g = torch.Generator().manual_seed(0)
    indices = torch.randint(0, 6, shape, generator=g)
    ours = to_onehot(indices, 6)
    assert ours.dtype == torch.uint8 and ours.shape == (shape[0], 6, *shape[1:])
    assert torch.equal(ours, iu.to_onehot(indices, 6))
    assert torch.equal(ours.argmax(dim=1), indices)  # independent of Ignite


def test_to_onehot_can_be_scripted():
    scripted = torch.jit.script(to_onehot)
    x = torch.tensor([0, 3, 1])
    assert torch.equal(scripted(x, 4), torch.eye(4, dtype=torch.uint8)[x])


# ---------------------------------------------------------------- manual_seed


def draws() -> tuple:
    return random.random(), torch.rand(3).tolist(), np.random.rand(2).tolist()


def test_manual_seed_seeds_random_torch_and_numpy_as_ignite(iu):
    manual_seed(12)
    ours = draws()
    iu.manual_seed(12)
    assert draws() == ours
    manual_seed(12)
    assert draws() == ours
    manual_seed(13)
    assert draws() != ours


# ---------------------------------------------------------------- setup_logger


def fresh_name() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def emit(logger: logging.Logger) -> None:
    logger.debug("hidden at INFO")
    logger.info("first message")
    logger.warning("second message")


def without_stamps(text: str) -> str:
    return re.sub(STAMP, "<time>", text)


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG, logging.WARNING])
@pytest.mark.parametrize("fmt", [None, "%(name)s|%(levelname)s|%(message)s"])
def test_setup_logger_prints_what_ignites_prints(iu, tmp_path, level, fmt):
    outputs = []
    for module in (utils, iu):
        name, stream, path = fresh_name(), io.StringIO(), tmp_path / f"{module.__name__}.log"
        kwargs = {"format": fmt} if fmt else {}
        logger = module.setup_logger(name, level, stream, filepath=path, **kwargs)
        emit(logger)
        logging.shutdown()
        printed = stream.getvalue().replace(name, "<name>")
        assert path.read_text().replace(name, "<name>") == printed
        outputs.append(without_stamps(printed))
        assert logger.propagate is False and logger.level == level
    assert outputs[0] == outputs[1]
    if fmt is None and level == logging.INFO:  # independent of Ignite: the documented format
        assert outputs[0] == (
            "<time> <name> INFO: first message\n<time> <name> WARNING: second message\n"
        )


def test_setup_logger_default_stream_is_stderr_at_the_time_of_writing(capsys):
    name = fresh_name()
    logger = setup_logger(name)
    capsys.readouterr()
    logger.info("hello")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert re.fullmatch(rf"{STAMP} {name} INFO: hello\n", captured.err)


def handler_kinds(logger: logging.Logger) -> list[str]:
    kinds = []
    for h in logger.handlers:
        kind = type(h).__name__
        kinds.append("StreamHandler" if kind == "_StderrHandler" else kind)
    return kinds


def test_second_call_keeps_or_resets_like_ignite(iu, tmp_path):
    seen = []
    for module in (utils, iu):
        name, first, second = fresh_name(), io.StringIO(), io.StringIO()
        logger = module.setup_logger(name, stream=first, format="A %(message)s")
        again = module.setup_logger(name, stream=second, format="B %(message)s")
        assert again is logger
        logger.info("one")  # the first configuration stays
        module.setup_logger(name, logging.WARNING, second, format="C %(message)s", reset=True)
        logger.info("two")  # below the new level
        logger.warning("three")
        seen.append((first.getvalue(), second.getvalue(), handler_kinds(logger), logger.level))
    assert seen[0] == seen[1] == ("A one\n", "C three\n", ["StreamHandler"], logging.WARNING)


def test_other_ranks_get_a_null_handler_like_ignite(iu):
    seen = []
    for module in (utils, iu):
        name, stream = fresh_name(), io.StringIO()
        logger = module.setup_logger(name, logging.CRITICAL, stream, distributed_rank=1)
        logger.critical("not on rank 1")
        # a logger configured on rank 0 loses its handlers when set up again on rank 1
        other = fresh_name()
        module.setup_logger(other, stream=stream)
        module.setup_logger(other, stream=stream, distributed_rank=1)
        logging.getLogger(other).info("silenced")
        seen.append((stream.getvalue(), handler_kinds(logger), logger.level != logging.CRITICAL))
        seen.append(handler_kinds(logging.getLogger(other)))
    assert seen[0] == seen[2] == ("", ["NullHandler"], True)
    assert seen[1] == seen[3] == ["NullHandler"]


def test_setup_logger_file_encoding(tmp_path):
    words = ["say hello", "say 你好", "say привет"]
    logger = setup_logger(fresh_name(), stream=io.StringIO(), filepath=tmp_path / "log.txt")
    for w in words:
        logger.info(w)
    logging.shutdown()
    lines = (tmp_path / "log.txt").read_text(encoding="utf-8").splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == words


def test_engine_loggers_set_up_as_in_ignites_example(capsys):
    trainer = Engine(lambda e, b: None)
    evaluator = Engine(lambda e, b: None)
    trainer.logger = setup_logger("trainer", reset=True)
    evaluator.logger = setup_logger("evaluator", reset=True)
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda: evaluator.run([0, 1]))
    trainer.run([0, 1, 2], max_epochs=2)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == ""
    assert re.fullmatch(rf"{STAMP} trainer INFO: Engine run starting with max_epochs=2.", lines[0])
    assert lines[1].endswith("evaluator INFO: Engine run starting with max_epochs=1.")


# ---------------------------------------------------------------- deprecated, hash_checkpoint


def test_deprecated_matches_ignite(iu):
    cases = [({}, None), ({"reasons": ("r1", "r2")}, "Docs are cool")]
    for kwargs, doc in cases:
        made = []
        for module in (utils, iu):

            def f():
                return 24

            f.__doc__ = doc
            made.append(module.deprecated("0.4.2", "0.6.0", **kwargs)(f))
        assert made[0].__doc__ == made[1].__doc__
        messages = []
        for fn in made:
            with pytest.warns(DeprecationWarning) as record:
                assert fn() == 24
            messages.append(str(record[0].message))
        assert messages[0] == messages[1]
        assert messages[0].startswith("This function has been deprecated since version 0.4.2 and")
    with pytest.raises(DeprecationWarning, match="deprecated since version 1.0.\n"):
        deprecated("1.0", raise_exception=True)(lambda: 1)()


def test_hash_checkpoint_matches_ignite(iu, tmp_path):
    results = []
    for module in (utils, iu):
        src = tmp_path / module.__name__ / "weights.pt"
        src.parent.mkdir()
        torch.save({"w": torch.arange(10)}, src)
        # (Ignite creates output_dir only when given as a str; miniengine for a Path too)
        path, digest = module.hash_checkpoint(str(src), str(tmp_path / module.__name__ / "out"))
        assert not src.exists() and torch.equal(torch.load(path)["w"], torch.arange(10))
        results.append((path.name, digest))
    assert results[0] == results[1]
    assert results[0][0] == f"weights-{results[0][1][:8]}.pt"
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist in"):
        hash_checkpoint(tmp_path / "missing.pt", tmp_path)
    torch.save({}, tmp_path / "x.pt")
    assert hash_checkpoint(tmp_path / "x.pt", tmp_path / "new" / "dir")[0].parent.is_dir()


def test_setup_logger_sets_up_a_parent_that_only_a_childs_name_made(capfd):
    # logging keeps a placeholder for "a.b" once "a.b.c" exists; Ignite's setup_logger takes
    # it for a logger already set up and returns it without handlers: nothing is shown.
    setup_logger("utils_test.parent.child")
    setup_logger("utils_test.parent", format="%(name)s: %(message)s").info("shown")
    assert "utils_test.parent: shown" in capfd.readouterr().err
