"""Bounded edit distance for matching keywords against ASR mistakes ("recieved", "adress").

Written here rather than adding rapidfuzz: the words are short, we only need "is the
distance <= k" with an early exit, and it keeps the install light.
"""

from __future__ import annotations


def within(a: str, b: str, k: int) -> bool:
    """True when the Levenshtein distance between ``a`` and ``b`` is at most ``k``."""
    if abs(len(a) - len(b)) > k:
        return False
    if a == b:
        return True
    if k == 0:
        return False
    # optimal string alignment distance: a swap of two letters ("recieved") is one edit
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        best = i
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
            best = min(best, cur[j])
        if best > k:
            return False
        prev2, prev = prev, cur
    return prev[-1] <= k


def tolerance(word: str) -> int:
    """How many edits a keyword of this length may absorb: none for short words."""
    n = len(word)
    return 0 if n < 6 else 1 if n < 11 else 2


def near(keyword: str, token: str) -> bool:
    """``token`` is an ASR slip of ``keyword``, not another word: the first letter agrees, and
    keywords under 8 letters only absorb two swapped letters ("recieve"), because one changed
    letter there is usually a different real word ("leather"/"weather", "parado"/"pasado",
    "leaking"/"leaving"), and an ASR writes real words."""
    k = tolerance(keyword)
    if k == 0 or not token or token[0] != keyword[0]:
        return False
    if len(keyword) < 8:
        return len(token) == len(keyword) and _one_swap(keyword, token)
    return within(keyword, token, k)


def _one_swap(a: str, b: str) -> bool:
    diff = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
