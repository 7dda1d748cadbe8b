"""Is the caller's turn complete? Text rules on the (speculative) transcript.

The acoustic check is pipecat's bundled smart-turn model (:mod:`voicebot.turns.smart_turn`);
this is the part a prosody model cannot know: "my order number is 4 5" ends on a digit in a
number context, "I want to return the" ends on an article. Either means "the caller is
still going", and the turn taker then waits the long timeout instead of answering.
"""

from __future__ import annotations

import re

from voicebot.dialogue.languages import packs
from voicebot.turns.backchannels import normalize_words

# Words that cannot end a complete request (articles, prepositions, conjunctions, fillers, copulas).
DANGLING: dict[str, frozenset[str]] = {
    "en": frozenset("""the a an my our your to for of with and or but because so is are was were it's its
        number id code um uh er like from at in on about than that which if then""".split()),
    "es": frozenset("el la los las un una mi mis de del y o pero porque es son para con en que um eh número".split()),
    "de": frozenset("der die das den dem ein eine einen mein meine und oder aber weil ist sind zu für mit von in äh ähm nummer".split()),
    "fr": frozenset("le la les un une mon ma mes de du et ou mais parce est sont pour avec en que euh numéro".split()),
    "it": frozenset("il lo la i gli le un una mio mia di e o ma perché è sono per con in che ehm numero".split()),
    "pt": frozenset("o a os as um uma meu minha de do da e ou mas porque é são para com em que número".split()),
}
# Two-word endings whose last word is in DANGLING but which end a sentence ("please go on",
# "hold on"): a particle of a phrasal verb, not a preposition waiting for its noun.
COMPLETE_ENDINGS: dict[str, frozenset[str]] = {
    "en": frozenset({"go on", "hold on", "come on", "carry on", "hang on", "move on", "log in", "sign in", "check in",
                     "come in", "turn on", "switch on", "what for", "thank you so", "that's it", "that is it"}),
}
# A number is being given: the turn stays open while digits keep coming.
NUMBER_CONTEXT = re.compile(r"\b(order|number|id|code|phone|account|tracking|reference|postcode|zip|"
                            r"pedido|número|bestellung|nummer|commande|numéro|ordine|numero)\b", re.I)
DIGIT_WORDS = frozenset("""zero oh one two three four five six seven eight nine ten double triple
    cero uno dos tres cuatro cinco seis siete ocho nueve null eins zwei drei vier fünf sechs sieben acht neun
    zéro un deux trois quatre cinq six sept huit neuf""".split())

_TOKEN = re.compile(r"[\w']+", re.UNICODE)


def _is_digitish(tok: str) -> bool:
    return tok.isdigit() or tok in DIGIT_WORDS


def trailing_digits(toks: list[str]) -> int:
    """How many digits the number at the end of the words has ("45,712" -> 5, "four five" -> 2)."""
    n = 0
    for tok in reversed(toks):
        if tok.isdigit():
            n += len(tok)
        elif tok in ("double", "triple"):
            n += 1 if tok == "double" else 2  # "double seven": the seven counted once already
        elif tok in DIGIT_WORDS:
            n += 1
        else:
            break
    return n


def text_incomplete(text: str, language: str | None = None, complete_digits: frozenset[int] | tuple[int, ...] = ()) -> bool:
    """True when the transcript so far reads as unfinished (mid-number, dangling word, trailing comma).

    ``complete_digits``: lengths of the shop's order numbers. A number of such a length ends the
    turn like a sentence (as an IVR collects a known number of digits); shorter or longer ones
    are still being read."""
    t = text.strip()
    if not t:
        return False
    if t.endswith((",", "-", "...", "…")):
        return True
    toks = [w.lower() for w in _TOKEN.findall(t)]
    if not toks:
        return False
    base = (language or "en").split("-")[0].lower()
    if toks[-1] in DANGLING.get(base, DANGLING["en"]) and not t.endswith(("?", "!")):
        return " ".join(toks[-2:]) not in COMPLETE_ENDINGS.get(base, frozenset())
    if _is_digitish(toks[-1]) and NUMBER_CONTEXT.search(t) and not t.endswith(("?", "!")):
        return trailing_digits(toks) not in complete_digits  # "my order number is 4 5" -> more digits are likely coming
    if all(_is_digitish(w) for w in toks) and sum(len(w) if w.isdigit() else 1 for w in toks) >= 3:
        return True  # a bare digit string ("one zero zero zero one"): the caller is dictating, more may come
    return False


def text_preamble(text: str, language: str | None = None) -> bool:
    """True when the transcript holds only the caller's opening words ("Hello.", "Bonjour, euh",
    "もしもし"): a complete sentence to a text rule, but the request usually follows a pause,
    so it is not answered at the short complete-sentence silence. Words from the language
    pack's ``openers``; languages written without spaces are peeled word by word."""
    base = (language or "en").split("-")[0].lower()
    pack = packs().get(base)
    words = pack.openers if pack is not None else frozenset()
    norm = normalize_words(text).split()
    if not words or not norm:
        return False
    longest_first = sorted(words, key=len, reverse=True)
    for chunk in norm:
        while chunk:
            hit = next((w for w in longest_first if chunk.startswith(w)), None) if pack.unspaced else (chunk if chunk in words else None)
            if hit is None:
                return False
            chunk = chunk[len(hit):]
    return True
