"""Spoken numbers -> digit strings, per language.

ASR gives order numbers in many shapes: "4 5 7 1 2", "four five seven one two",
"forty five seven twelve", "double seven", "setenta y siete doscientos cuatro",
"siebenundsiebzig", "七七二零四", "tujuh puluh tujuh", Arabic-Indic or Thai digits. The text
is first cut into number tokens (words, multipliers, connectors, fillers) using the language's
lexicon, then each run of adjacent number tokens is read as a sequence of small cardinals
whose decimal strings are concatenated: "forty five | ninety one | double seven" -> "459177".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .lexicon import Lexicon, NumberWords
from .text import script_of

# token kinds
LIT, DIGIT, VALUE, MUL, TEEN, REP, CONN, FILL, ALNUM, OTHER = "lit dig val mul teen rep conn fill alnum other".split()


@dataclass(frozen=True)
class NumTok:
    kind: str
    value: int | str
    src: int  # index of the word (word mode) or character offset (scan mode) it came from
    end: int = -1  # one past the word (word mode) or the last character (scan mode)
    weak: bool = False  # also an everyday word ("に", "이"): a number only beside spoken numbers


@dataclass(frozen=True)
class NumberRun:
    """One stretch of spoken number: its digits and where it sits in the text."""

    digits: str
    first: int  # src of the first token
    last: int  # src of the last token
    end: int = -1  # end of the last token (exclusive): letters spelled after the number start here
    plus: bool = False  # preceded by "plus" / "+" (a phone number)
    alnum: bool = False  # a single letters+digits token such as "ab1234"
    words: int = 1  # number tokens read: a lone "mille" / "thousand" is not an id
    written: bool = False  # contains digits written as digits


def _classify_word(word: str, nw: NumberWords, fillers: frozenset[str]) -> tuple[str, int] | None:
    if word in nw.values:
        v = nw.values[word]
        return (DIGIT if v < 10 else VALUE), v
    if word in nw.multipliers:
        return MUL, nw.multipliers[word]
    if word in nw.teen_suffix:
        return TEEN, 10
    if word in nw.repeat:
        return REP, nw.repeat[word]
    if word in nw.connectors:
        return CONN, 0
    if word in fillers:
        return FILL, 0
    return None


@lru_cache(maxsize=4096)
def _decompose(word: str, nw: NumberWords) -> tuple[str, ...] | None:
    """Split a glued number word ("siebenundsiebzig", "duecentoquattro") into known parts."""
    vocab = [w for w in (*nw.values, *nw.multipliers, *nw.connectors) if w]
    best: dict[int, tuple[str, ...]] = {0: ()}
    for i in range(len(word)):
        if i not in best:
            continue
        for w in vocab:
            if word.startswith(w, i) and (i + len(w)) not in best:
                best[i + len(w)] = best[i] + (w,)
    parts = best.get(len(word))
    return parts if parts and len(parts) >= 2 else None


def _strip_suffix(word: str, nw: NumberWords) -> str:
    """"칠이에요" -> "칠": a particle or copula glued to the last number word."""
    for suf in nw.suffixes:
        rest = word[: -len(suf)]
        if word.endswith(suf) and rest and (rest in nw.values or (nw.compounds and _decompose(rest, nw))):
            return rest
    return word


def _word_tokens(text: str, lex: Lexicon) -> list[NumTok]:
    out = [NumTok(t.kind, t.value, t.src, t.src + 1, t.weak) for t in _word_tokens_raw(text, lex)]
    return out


def _word_tokens_raw(text: str, lex: Lexicon) -> list[NumTok]:
    nw = lex.numbers
    words = text.split()
    out: list[NumTok] = []
    i = 0
    while i < len(words):
        w = words[i]
        if nw.suffixes and w not in nw.values:
            w = _strip_suffix(w, nw)
        phrase = next(
            ((k, n) for n in (3, 2) for k in [" ".join(words[i : i + n])] if k in nw.phrases),
            None,
        )
        if phrase:
            out.append(NumTok(VALUE if nw.phrases[phrase[0]] >= 10 else DIGIT, nw.phrases[phrase[0]], i))
            i += phrase[1]
            continue
        if w.isdigit():
            out.append(NumTok(LIT, w, i))
        elif w.startswith("+") and w[1:].isdigit():
            out.append(NumTok(REP, -1, i))  # marks "plus"
            out.append(NumTok(LIT, w[1:], i))
        elif w in nw.plus:
            out.append(NumTok(REP, -1, i))
        elif any(c.isdigit() for c in w):
            if all(script_of(c) in ("latin", "digit") for c in w):
                out.append(NumTok(ALNUM, w, i))
            else:  # "77204번", "45712は": digits glued to a particle
                for chunk in _chunks(w):
                    out.append(NumTok(LIT, chunk, i) if chunk.isdigit() else NumTok(OTHER, 0, i))
        else:
            kv = _classify_word(w, nw, lex.fillers)
            if kv is None:
                pre = next((p for p in nw.connector_prefixes if w.startswith(p) and w[len(p) :] in nw.values), None)
                if pre:
                    out.append(NumTok(CONN, 0, i))
                    kv = _classify_word(w[len(pre) :], nw, lex.fillers)
            if kv is None and nw.compounds and len(w) >= 2:
                parts = _decompose(w, nw)
                if parts:
                    for p in parts:
                        k, v = _classify_word(p, nw, lex.fillers) or (OTHER, 0)
                        out.append(NumTok(k, v, i, weak=len(parts) == 1 and p in nw.weak))
                    i += 1
                    continue
            out.append(NumTok(kv[0], kv[1], i, weak=w in nw.weak) if kv else NumTok(OTHER, 0, i))
        i += 1
    return out


def _chunks(word: str) -> list[str]:
    out: list[str] = []
    for c in word:
        if out and out[-1][-1].isdigit() == c.isdigit():
            out[-1] += c
        else:
            out.append(c)
    return out


@lru_cache(maxsize=64)
def _scan_vocab(lex: Lexicon) -> tuple[str, ...]:
    """Number words, fillers and letter names, longest first: a letter name is read whole, so
    the "イチ" inside "エイチ" (H) is not a 1."""
    nw = lex.numbers
    return tuple(sorted({*nw.values, *nw.multipliers, *nw.repeat, *nw.connectors, *lex.fillers, *lex.letters}, key=len, reverse=True))


def _scan_tokens(text: str, lex: Lexicon) -> list[NumTok]:
    """Unspaced scripts: longest match of number words at each character."""
    nw = lex.numbers
    vocab = _scan_vocab(lex)
    out: list[NumTok] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == " ":
            i += 1
            continue
        if c.isdigit():
            j = i
            while j < n and text[j].isdigit():
                j += 1
            out.append(NumTok(LIT, text[i:j], i, j))
            i = j
            continue
        w = next((w for w in vocab if text.startswith(w, i)), None)
        if w:
            k, v = _classify_word(w, nw, lex.fillers) or (OTHER, 0)
            out.append(NumTok(k, v, i, i + len(w), weak=w in nw.weak))
            i += len(w)
            continue
        if c.isascii() and c.isalpha():
            j = i
            while j < n and text[j].isascii() and text[j].isalnum():
                j += 1
            word = text[i:j]
            out.append(NumTok(ALNUM if any(x.isdigit() for x in word) else OTHER, word, i, j))
            i = j
            continue
        out.append(NumTok(OTHER, 0, i, i + 1))
        i += 1
    return out


def number_tokens(normalized: str, lex: Lexicon) -> list[NumTok]:
    toks = _scan_tokens(normalized, lex) if lex.numbers.scan else _word_tokens(normalized, lex)
    return _drop_lone_weak(toks)


def _drop_lone_weak(toks: list[NumTok]) -> list[NumTok]:
    """A weak number word ("に", "さん", "이") stays a number only inside a stretch of spoken
    number words that has a word which is not weak, or three weak ones: "よん に なな" is 4 2 7,
    "삼 구 공 육 일 사" is 390614, "田中さん 45193" is not 345193 and "이 청소기" is no number."""
    out = list(toks)
    i, n = 0, len(toks)
    while i < n:
        if toks[i].kind not in _SPOKEN:
            i += 1
            continue
        j = i
        while j < n and (toks[j].kind in _SPOKEN or toks[j].kind == FILL):
            j += 1
        group = [t for t in toks[i:j] if t.kind in _SPOKEN]
        weak = [t for t in group if t.weak]
        if weak and len(weak) == len(group) and len(weak) < 3:
            for k in range(i, j):
                if toks[k].weak:
                    out[k] = NumTok(OTHER, 0, toks[k].src, toks[k].end)
        i = j
    return out


_SPOKEN = (DIGIT, VALUE, MUL, TEEN)


def _is_number(t: NumTok) -> bool:
    return t.kind in (LIT, DIGIT, VALUE, MUL, TEEN) or (t.kind == REP and t.value != -1)


def _place_below(v: int) -> int:
    """The largest value that may still be added after ``v``: "forty" takes a unit (10),
    "doscientos" a tens (100), "mil" a hundreds (1000), "twelve" nothing."""
    if 20 <= v < 100 and v % 10 == 0:
        return 10
    return 1000 if v % 1000 == 0 else 100 if v % 100 == 0 else 0


def _read(toks: list[NumTok], teen_tens: frozenset[int] = frozenset()) -> str:
    """Read one run of number tokens as concatenated small cardinals.

    ``teen_tens``: tens that take a teen (French "soixante-treize" 73, "quatre-vingt-seize" 96).
    A scale word ("mille", "ألف", "thousand") multiplies the cardinal before it and the
    cardinal after it fills its lower places ("quarante-cinq mille deux cent dix-sept" 45217),
    as a caller reads a whole number; everything else is read group by group."""
    groups: list[str] = []
    cur: int | None = None
    slot = 0  # values below this can still be added to cur ("forty" -> 10, "doscientos" -> 100)
    alone = False  # cur is a lone digit that a multiplier may scale ("deux" cent, "tujuh" puluh)
    high: int | None = None  # "quarante-cinq mille": the thousands, waiting for what follows
    high_unit = 0
    rep = 0

    def flush() -> None:
        nonlocal cur, slot, alone, high
        if cur is not None or high is not None:
            groups.append(str((high or 0) + (cur or 0)))
        cur, slot, alone, high = None, 0, False, None

    def begin(v: int, place: int, lone: bool) -> None:
        """Start a new cardinal, below a pending scale word if it fits there."""
        nonlocal cur, slot, alone
        if not (cur is None and high is not None and v < high_unit):
            flush()
        cur, slot, alone = v, place, lone

    for i, t in enumerate(toks):
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        prev = toks[i - 1] if i else None
        v = t.value
        if t.kind == LIT:
            flush()
            groups.append(str(v))
        elif t.kind == REP and isinstance(v, int) and v > 0:
            flush()
            rep = v
        elif t.kind == DIGIT:
            assert isinstance(v, int)
            hundreds_next = nxt is not None and nxt.kind == MUL and isinstance(nxt.value, int) and 100 <= nxt.value < 1000
            if rep:
                flush()
                groups.append(str(v) * rep)
                rep = 0
            elif cur is not None and 0 < v < slot and not (hundreds_next and slot < 1000):
                cur, slot, alone = cur + v, 0, False  # "forty" "five"; not "soixante-dix, huit cent"
            elif cur is not None and v == 0 and slot >= 100 and nxt is not None and nxt.kind == DIGIT and nxt.value:
                slot = 10  # 二百零四: the zero only marks an empty tens place
            else:
                begin(v, 0, True)
        elif t.kind == VALUE:
            assert isinstance(v, int)
            if cur is not None and v < slot:
                cur, slot, alone = cur + v, _place_below(v), False
            elif cur is not None and slot == 10 and 10 <= v < 20 and cur % 100 in teen_tens:
                cur, slot, alone = cur + v, 0, False
            else:
                begin(v, _place_below(v), False)
        elif t.kind == MUL:
            assert isinstance(v, int)
            if v >= 1000 and cur is not None and high is None and cur < v:
                high, high_unit = cur * v, v
                cur, slot, alone = None, 0, False
            elif alone and cur is not None:
                cur, slot, alone = cur * v, v, False
            else:
                begin(v, v, False)
        elif t.kind == TEEN:
            if cur is not None and prev is not None and prev.kind == DIGIT and isinstance(prev.value, int) and 0 < prev.value < 10:
                cur, slot, alone = cur + 10, 0, False  # "tiga belas", "سبعة عشر": the digit before it, plus ten
            elif cur is None or not alone:
                begin(10, 0, False)  # "عشرة" alone is ten
        elif t.kind == CONN:
            units = prev.value if prev is not None and prev.kind == DIGIT and isinstance(prev.value, int) else 0
            if (cur is not None and 0 < units < 10 and cur % 100 == units and nxt is not None and nxt.kind == VALUE
                    and isinstance(nxt.value, int) and 20 <= nxt.value < 100 and nxt.value % 10 == 0):
                # units before tens: "sieben-und-siebzig", "سبعة وسبعون", "تسعمية وخمسة وعشرين" (925)
                cur, slot, alone = cur + nxt.value, 0, False
                toks[i + 1] = NumTok(FILL, 0, nxt.src)
    flush()
    return "".join(groups)


def number_runs(normalized: str, lex: Lexicon) -> list[NumberRun]:
    """Every stretch of spoken or written number in the text, in order."""
    toks = number_tokens(normalized, lex)
    runs: list[NumberRun] = []
    i, n = 0, len(toks)
    while i < n:
        t = toks[i]
        if t.kind == ALNUM:
            runs.append(NumberRun(str(t.value).upper(), t.src, t.src, t.end, alnum=True))
            i += 1
            continue
        plus = False
        if t.kind == REP and t.value == -1:
            plus, i = True, i + 1
            if i >= n:
                break
            t = toks[i]
        if not _is_number(t):
            i += 1
            continue
        j, last = i, i
        while j < n:
            k = toks[j].kind
            if _is_number(toks[j]):
                last = j
            elif k == CONN:
                if not (j + 1 < n and _is_number(toks[j + 1])):
                    break
            elif k != FILL:
                break
            j += 1
        digits = _read(list(toks[i : last + 1]), lex.numbers.teen_tens)
        if digits:
            part = toks[i : last + 1]
            runs.append(
                NumberRun(
                    digits, toks[i].src, toks[last].src, toks[last].end, plus=plus,
                    words=sum(_is_number(t) for t in part), written=any(t.kind == LIT for t in part),
                )
            )
        i = last + 1
    return runs
