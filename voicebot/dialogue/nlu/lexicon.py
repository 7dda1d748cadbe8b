"""Per-language lexicons: each language pack's ``lexicon.yaml`` (voicebot/dialogue/languages/<code>/), loaded once.

A merchant extends a language by editing its file; ``languages/README.md`` documents the keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..languages import find_pack
from ..nlu_types import INTENTS
from .patterns import Pattern, compile_pattern
from .text import fold_chars, strip_accents

SENTIMENT_KEYS = ("positive", "negative", "angry", "threat", "repeated")


class LexiconError(ValueError):
    """A lexicon file is malformed; the message names the file and the key to fix."""


@dataclass(frozen=True, eq=False)  # hashed by identity: one per loaded lexicon
class NumberWords:
    """How one language says numbers (values are ints; see numbers.py for the grammar)."""

    values: dict[str, int] = field(default_factory=dict)  # "seven": 7, "forty": 40, "doscientos": 200
    multipliers: dict[str, int] = field(default_factory=dict)  # "hundred": 100, "puluh": 10, "十": 10
    teen_suffix: frozenset[str] = frozenset()  # Indonesian "belas", Arabic "عشر": d + 10
    teen_tens: frozenset[int] = frozenset()  # French 60, 80: "soixante-treize" is 60 + 13
    repeat: dict[str, int] = field(default_factory=dict)  # "double": 2
    connectors: frozenset[str] = frozenset()  # "and", "y", "und"
    connector_prefixes: tuple[str, ...] = ()  # Arabic "و" glued to the next number word
    phrases: dict[str, int] = field(default_factory=dict)  # "quatre vingt": 80
    compounds: bool = False  # split "siebenundsiebzig", "duecentoquattro"
    scan: bool = False  # find number words inside unspaced text (zh, ja, th)
    plus: frozenset[str] = frozenset()  # "plus" before a phone number
    weak: frozenset[str] = frozenset()  # also everyday words ("に", "さん", "이"): numbers only beside other number words
    suffixes: tuple[str, ...] = ()  # particles glued to a number word ("칠이에요" -> "칠")


@dataclass(frozen=True, eq=False)
class Lexicon:
    code: str
    chars: bool  # char-mode matching (no spaces between words)
    apostrophe: str
    fold_accents: bool
    function_words: frozenset[str]
    fillers: frozenset[str]
    numbers: NumberWords
    single_letter_words: frozenset[str]
    email_at: frozenset[str]
    email_dot: frozenset[str]
    email_underscore: frozenset[str]
    email_dash: frozenset[str]
    phone_words: tuple[Pattern, ...]
    order_words: tuple[Pattern, ...]
    intents: dict[str, tuple[Pattern, ...]]
    sentiment: dict[str, tuple[Pattern, ...]]
    colors: tuple[str, ...]
    color_first: bool  # the colour comes before the noun ("red coat") rather than after ("abrigo rojo")
    vocabulary: frozenset[str]  # every word in the intent patterns (language detection)
    # words that contain a keyword but mean something else (Thai "ช้าง" elephant holds "ช้า"
    # slow): they take part in matching like a pattern of no intent, hiding weaker overlaps
    decoys: tuple[Pattern, ...] = ()
    negators: frozenset[str] = frozenset()  # "not", "没": deny a problem named right after them
    elisions: tuple[str, ...] = ()  # "l", "dell": glued on when the ASR drops the apostrophe
    letters: dict[str, str] = field(default_factory=dict)  # spoken letter names: "jota": "j", "ジェー": "j"
    weak_letters: frozenset[str] = frozenset()  # letter names that are also words ("de", "ดี"): need a neighbour

    def tokens(self, normalized: str) -> list[str]:
        """Tokens for matching: fillers dropped, accents folded where the lexicon says so."""
        toks = [t for t in normalized.split() if t not in self.fillers]
        toks = [strip_accents(t) for t in toks] if self.fold_accents else toks
        return [part for t in toks for part in self._unelide(t)] if self.elisions else toks

    def _unelide(self, token: str) -> tuple[str, ...]:
        """"ladresse" -> ("l", "adresse") when the transcript lost the apostrophe of "l'adresse":
        only for a known keyword after the elided article, so "livraison" stays whole."""
        if token in self.vocabulary:
            return (token,)
        for e in self.elisions:
            rest = token[len(e):]
            if token.startswith(e) and len(rest) >= 3 and rest[0] in "aeiouhéèêàâîôûy" and self._known(rest):
                return e, rest
        return (token,)

    def _known(self, word: str) -> bool:
        return word in self.vocabulary or any(len(v) >= 4 and word.startswith(v) for v in self.vocabulary)


class _PlainLoader(yaml.SafeLoader):
    """YAML without the 1.1 surprises: ``no``, ``si``, ``null``, ``on`` stay words, not bool/None."""


_PlainLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:null")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _flag(data: dict[str, Any], key: str, default: bool = False) -> bool:
    """YAML flags arrive as text (bool resolution is off, see _PlainLoader)."""
    v = data.get(key, default)
    if isinstance(v, bool):
        return v
    if str(v).lower() in ("true", "yes", "on", "1"):
        return True
    if str(v).lower() in ("false", "no", "off", "0"):
        return False
    raise LexiconError(f"{key}: expected true or false, got {v!r}")


def _words(data: dict[str, Any], key: str) -> frozenset[str]:
    return frozenset(str(w).lower() for w in data.get(key) or ())


def _patterns(lines: Any, *, chars: bool, fold: bool, where: str) -> tuple[Pattern, ...]:
    if lines is None:
        return ()
    if not isinstance(lines, list):
        raise LexiconError(f"{where}: expected a list of patterns")
    try:
        return tuple(compile_pattern(str(s), chars=chars, fold=fold) for s in lines)
    except ValueError as exc:
        raise LexiconError(f"{where}: {exc}") from exc


def _numbers(data: dict[str, Any]) -> NumberWords:
    def ints(key: str) -> dict[str, int]:
        return {str(k).lower(): int(v) for k, v in (data.get(key) or {}).items()}

    return NumberWords(
        values=ints("values"),
        multipliers=ints("multipliers"),
        teen_suffix=_words(data, "teen_suffix"),
        teen_tens=frozenset(int(v) for v in data.get("teen_tens") or ()),
        repeat=ints("repeat"),
        connectors=_words(data, "connectors"),
        connector_prefixes=tuple(data.get("connector_prefixes") or ()),
        phrases=ints("phrases"),
        compounds=_flag(data, "compounds"),
        scan=_flag(data, "scan"),
        plus=_words(data, "plus"),
        weak=_words(data, "weak"),
        suffixes=tuple(sorted(_words(data, "suffixes"), key=len, reverse=True)),
    )


def _fold(data: Any) -> Any:
    """Fold every string the way transcripts are folded, so "أ" or a decomposed "ộ" still match."""
    if isinstance(data, str):
        return fold_chars(data)
    if isinstance(data, list):
        return [_fold(x) for x in data]
    if isinstance(data, dict):
        return {(_fold(k) if isinstance(k, str) else k): _fold(v) for k, v in data.items()}
    return data


def parse_lexicon(code: str, data: dict[str, Any], where: str = "") -> Lexicon:
    """Build a :class:`Lexicon` from the parsed YAML of one language."""
    data = _fold(data)
    where = where or f"languages/{code}/lexicon.yaml"
    chars = data.get("mode", "words") == "chars"
    fold = _flag(data, "fold_accents")
    intents_raw = data.get("intents") or {}
    unknown = set(intents_raw) - set(INTENTS)
    if unknown:
        raise LexiconError(f"{where}: unknown intents {sorted(unknown)}; allowed: {', '.join(INTENTS)}")
    intents = {name: _patterns(intents_raw.get(name), chars=chars, fold=fold, where=f"{where} intents.{name}") for name in INTENTS}
    sent_raw = data.get("sentiment") or {}
    sentiment = {k: _patterns(sent_raw.get(k), chars=chars, fold=fold, where=f"{where} sentiment.{k}") for k in SENTIMENT_KEYS}
    email = data.get("email") or {}
    vocab = {a.text for pats in intents.values() for p in pats for w in p.words for a in w}
    return Lexicon(
        code=code,
        chars=chars,
        apostrophe=str(data.get("apostrophe", "drop")),
        fold_accents=fold,
        function_words=_words(data, "function_words"),
        fillers=_words(data, "fillers"),
        numbers=_numbers(data.get("numbers") or {}),
        single_letter_words=_words(data, "single_letter_words"),
        email_at=frozenset(str(w) for w in email.get("at") or ()),
        email_dot=frozenset(str(w) for w in email.get("dot") or ()),
        email_underscore=frozenset(str(w) for w in email.get("underscore") or ()),
        email_dash=frozenset(str(w) for w in email.get("dash") or ()),
        phone_words=_patterns(data.get("phone_words"), chars=chars, fold=fold, where=f"{where} phone_words"),
        order_words=_patterns(data.get("order_words"), chars=chars, fold=fold, where=f"{where} order_words"),
        intents=intents,
        sentiment=sentiment,
        colors=tuple(str(c) for c in data.get("colors") or ()),
        color_first=data.get("color_position", "before") == "before",
        vocabulary=frozenset(vocab),
        elisions=tuple(sorted(_words(data, "elisions"), key=len, reverse=True)),
        negators=frozenset(strip_accents(w) if fold else w for w in _words(data, "negators")),
        decoys=_patterns(data.get("decoys"), chars=chars, fold=fold, where=f"{where} decoys"),
        letters=_letters(data.get("letters"), where),
        weak_letters=_words(data, "weak_letters"),
    )


def _letters(raw: Any, where: str) -> dict[str, str]:
    """``letters:`` maps a spoken letter name to its Latin letter ("jota: j")."""
    if not raw:
        return {}
    if not isinstance(raw, dict):
        raise LexiconError(f"{where} letters: expected a mapping of letter name -> Latin letter")
    out = {}
    for name, letter in raw.items():
        letter = str(letter).lower()
        if len(letter) != 1 or not ("a" <= letter <= "z"):
            raise LexiconError(f"{where} letters.{name}: {letter!r} is not one Latin letter a-z")
        out[str(name).lower()] = letter
    return out


def load_lexicon(code: str, directory: Path | None = None) -> Lexicon:
    """The lexicon of ``code`` from its language pack, or from ``directory/<code>.yaml`` (a lexicon under test)."""
    pack = find_pack(code) if directory is None else None
    if directory is None and pack is None:
        raise LexiconError(f"no lexicon for language {code!r}: there is no language pack voicebot/dialogue/languages/{code}/")
    path = directory / f"{code}.yaml" if directory is not None else pack.lexicon_path  # type: ignore[union-attr]
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_PlainLoader) or {}  # noqa: S506 (safe subclass)
    except FileNotFoundError as exc:
        raise LexiconError(f"no lexicon for language {code!r}: expected {path}") from exc
    except yaml.YAMLError as exc:
        raise LexiconError(f"{path}: not valid YAML: {exc}") from exc
    return parse_lexicon(code, data, str(path))
