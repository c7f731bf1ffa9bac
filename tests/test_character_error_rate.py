"""CharacterErrorRate: edit distance by a full DP table, empty strings, errors, Ignite as oracle."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from miniengine.engine import Engine
from miniengine.exceptions import NotComputableError
from miniengine.metrics import CharacterErrorRate
from miniengine.metrics.nlp import CharacterErrorRate as NlpCharacterErrorRate
from miniengine.metrics.nlp.character_error_rate import _edit_distance


def levenshtein(a, b):
    """The textbook (len(a)+1) x (len(b)+1) table: d[i][j] = distance of a[:i] and b[:j]."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            substitution = d[i - 1][j - 1] + (0 if a[i - 1] == b[j - 1] else 1)
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, substitution)
    return d[len(a)][len(b)]


def by_hand(batches):
    errors = sum(levenshtein(r, p) for y_pred, y in batches for p, r in zip(y_pred, y, strict=True))
    chars = sum(len(r) for _, y in batches for r in y)
    return errors / chars if chars else float(errors > 0)


def ignite_value(batches):
    nlp = pytest.importorskip("ignite.metrics.nlp")
    theirs = nlp.CharacterErrorRate()
    for b in batches:
        theirs.update(b)
    return theirs.compute()


BATCHES = [
    (["the cat sat on the mat", "hello world"], ["the cat sat on mat", "hello world"]),
    (["kitten", "", "flaw"], ["sitting", "abc", "lawn"]),
    (["café\nau lait", "  "], ["cafe au lait", " "]),
]


def test_engine_run_by_hand_and_oracle():
    engine = Engine(lambda e, b: b)
    CharacterErrorRate().attach(engine, "cer")
    got = engine.run(BATCHES, max_epochs=2).metrics["cer"]
    # 4 + (3 + 3 + 2) + (2 + 1) edits over 29 + 14 + 13 reference characters
    assert got == by_hand(BATCHES) == 15 / 56
    assert got == pytest.approx(ignite_value(BATCHES), rel=1e-6)  # Ignite divides float32 sums
    assert CharacterErrorRate is NlpCharacterErrorRate


@pytest.mark.parametrize(
    ("y_pred", "y", "want"),
    [
        ("helo", "hello", 1 / 5),  # deletion; two strings are one pair
        ("hello", "helo", 1 / 4),  # insertion
        ("bat", "cat", 1 / 3),  # substitution
        ("ab", "a b", 1 / 3),  # a space is a character
        ("", "hello", 1.0),
        ("hello", "", 1.0),  # no reference character: 1.0 if anything was predicted
        ("", "", 0.0),
    ],
)
def test_single_edits_and_empty_strings(y_pred, y, want):
    cer = CharacterErrorRate()
    cer.update((y_pred, y))
    assert cer.compute() == want
    assert cer.compute() == pytest.approx(ignite_value([(y_pred, y)]))


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet="abc ", max_size=8), st.text(alphabet="abc ", max_size=8))
def test_edit_distance_matches_the_full_table(a, b):
    assert _edit_distance(a, b) == levenshtein(a, b) == _edit_distance(b, a)


def test_counts_are_summed_before_dividing_and_reset():
    cer = CharacterErrorRate(output_transform=lambda out: (out["text"], out["ref"]))
    engine = Engine(lambda e, b: b)
    cer.attach(engine, "cer")
    data = [{"text": ["hello"], "ref": ["hello"]}, {"text": ["x"], "ref": ["abcdefghij"]}]
    assert engine.run(data).metrics["cer"] == 10 / 15  # not the mean of 0 and 1
    cer.reset()
    with pytest.raises(NotComputableError):
        cer.compute()


def test_state_dict_resumes_the_counts():
    cer = CharacterErrorRate()
    cer.update(BATCHES[0])
    copy = CharacterErrorRate()
    copy.load_state_dict(cer.state_dict())
    for b in BATCHES[1:]:
        copy.update(b)
    assert copy.compute() == by_hand(BATCHES)


def test_errors():
    cer = CharacterErrorRate()
    with pytest.raises(NotComputableError, match="CharacterErrorRate must have at least one"):
        cer.compute()
    cer.update(([], []))  # no pair: still nothing to compute from
    with pytest.raises(NotComputableError):
        cer.compute()
    with pytest.raises(TypeError, match=r"y_pred and y must be str or list\[str\], got y_pred"):
        cer.update((("a",), ("a",)))
    with pytest.raises(TypeError, match="both the same, got y_pred: <class 'str'> and y: <class"):
        cer.update(("ab", ["a", "b"]))
    with pytest.raises(TypeError, match="All elements of y_pred and y must be strings."):
        cer.update((["a", 1], ["a", "b"]))
    with pytest.raises(ValueError, match="Got y_pred of length 2 and y of length 1."):
        cer.update((["a", "b"], ["a"]))


def _two_ranks(rank, out):
    import torch

    cer = CharacterErrorRate()
    cer.update(BATCHES[rank])
    torch.save({"cer": cer.compute(), "local": cer._num_ref_chars}, out / f"cer{rank}.pt")


def test_two_ranks_sum_the_counts(tmp_path):
    import torch
    from test_distributed import _launch  # the 2-process gloo launcher

    _launch(_two_ranks, tmp_path)
    for rank, chars in enumerate((29, 14)):
        seen = torch.load(tmp_path / f"cer{rank}.pt")
        assert seen["cer"] == by_hand(BATCHES[:2])
        assert seen["local"] == chars  # compute left the local count as it was
