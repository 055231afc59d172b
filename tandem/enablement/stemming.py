# ruff: noqa: RUF001, RUF002, SIM905 - Russian endings are Cyrillic on purpose
"""Light stems of English and Russian words, for the library's search and the voice of the
customer's keyword suggestions.

Invariants: the same function builds the stored text and the query, so forms of a word meet
("кейсы" and "кейсов", "dairies" and "dairy"); "ё" is "е"; a stem keeps at least three letters.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+", re.UNICODE)
_RU_ENDINGS = sorted(
    "иями ями ами ого его ому ему ыми ими ией ах ях ов ев ей ий ый ой ая яя ое ее ые ие ам ям ом "
    "ем ую юю а я о е ы и у ю ь".split(),
    key=len,
    reverse=True,
)
_EN_ENDINGS = ["ies", "ing", "ed", "es", "s"]
_CYRILLIC = re.compile("[а-я]")


def stem(word: str) -> str:
    """A light stem of one word (English or Russian): endings removed while three letters stay."""
    word = word.lower().replace("ё", "е")
    endings = _RU_ENDINGS if _CYRILLIC.search(word) else _EN_ENDINGS
    for ending in endings:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            return word[: -len(ending)]
    return word


def stems(text: str) -> list[str]:
    return [stem(w) for w in _WORD.findall(text or "")]
