"""Placeholder conversion: the stores' queries are written once with ``?`` (SQLite's ``qmark``
style); psycopg wants ``%s`` (``format`` style) and reads every other ``%`` as the start of a
placeholder. A plain text replace would also rewrite a ``?`` inside a string literal, a quoted
name or a comment, so the query is scanned the way PostgreSQL reads it (pure text, no I/O).
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$")


def qmark_to_format(sql: str) -> str:
    """``sql`` with each ``?`` placeholder turned into ``%s`` and each literal ``%`` into ``%%``.

    A ``?`` inside ``'...'`` (also ``E'...'`` with backslash escapes), ``"..."``, ``$tag$...$tag$``,
    ``-- ...`` or ``/* ... */`` is text, not a placeholder, and stays. A ``%`` is doubled
    everywhere, literals included, because psycopg's own scan does not know SQL quoting.
    """
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        ch = sql[i]
        if ch == "?":
            out.append("%s")
            i += 1
            continue
        end = _quoted_end(sql, i)
        if end == i:
            out.append("%%" if ch == "%" else ch)
            i += 1
            continue
        out.append(sql[i:end].replace("%", "%%"))
        i = end
    return "".join(out)


def _quoted_end(sql: str, i: int) -> int:
    """The index just past the literal, quoted name or comment starting at ``i`` (``i`` if none starts there)."""
    ch = sql[i]
    if ch == "'":
        escapes = i > 0 and sql[i - 1] in "eE" and (i == 1 or not (sql[i - 2].isalnum() or sql[i - 2] == "_"))
        return _closing(sql, i + 1, "'", backslash=escapes)
    if ch == '"':
        return _closing(sql, i + 1, '"', backslash=False)
    if sql.startswith("--", i):
        j = sql.find("\n", i)
        return len(sql) if j < 0 else j + 1
    if sql.startswith("/*", i):
        j = sql.find("*/", i + 2)
        return len(sql) if j < 0 else j + 2
    if ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
        tag = _DOLLAR_TAG.match(sql, i)
        if tag:
            j = sql.find(tag.group(), tag.end())
            return len(sql) if j < 0 else j + len(tag.group())
    return i


def _closing(sql: str, j: int, quote: str, *, backslash: bool) -> int:
    """Past the quote that closes a run opened just before ``j``; a doubled quote is part of the text."""
    n = len(sql)
    while j < n:
        c = sql[j]
        if backslash and c == "\\":
            j += 2
            continue
        if c == quote:
            if j + 1 < n and sql[j + 1] == quote:
                j += 2
                continue
            return j + 1
        j += 1
    return n  # unterminated: the server reports the syntax error, we only must not invent placeholders
