"""Metrics of generated text: n-gram overlap (``Bleu``, ``Rouge``), ``Perplexity`` and
``CharacterErrorRate``, as Ignite 0.5.5's ``ignite.metrics.nlp``.
"""

from typing import Any

from miniengine._missing import missing_name
from miniengine.metrics.nlp.bleu import Bleu
from miniengine.metrics.nlp.character_error_rate import CharacterErrorRate
from miniengine.metrics.nlp.perplexity import Perplexity
from miniengine.metrics.nlp.rouge import Rouge, RougeL, RougeN

__all__: list[str] = [
    "Bleu",
    "CharacterErrorRate",
    "Perplexity",
    "Rouge",
    "RougeL",
    "RougeN",
]


def __getattr__(name: str) -> Any:
    raise missing_name(__name__, name)
