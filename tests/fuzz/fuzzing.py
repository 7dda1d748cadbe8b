"""Shared parts of the parser fuzzers: a bounded hypothesis profile, a byte mutator, input counts.

Each fuzzer feeds real-looking messages (captured or built from the protocol), mutated, plus
raw random bytes, to one parser, and checks the one property that matters at the network edge:
any input either parses or raises that module's own documented error - never IndexError,
KeyError, UnicodeError, OverflowError, RecursionError...

CI runs ``FUZZ_EXAMPLES`` inputs per fuzzer (default 300, a few seconds each). A long run:

    FUZZ_EXAMPLES=200000 .venv/bin/python -m pytest -q tests/fuzz -p no:cacheprovider

Counts per fuzzer are printed at the end of the run (``fuzz inputs``).
"""

from __future__ import annotations

import collections
import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "300"))
COUNTS: collections.Counter[str] = collections.Counter()

# Bounded in count (EXAMPLES) and in time per input (deadline); no example database on disk.
FUZZ = settings(max_examples=EXAMPLES, deadline=2000, database=None, derandomize=EXAMPLES <= 1000,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much])

# Tokens that broke parsers before or are classic trouble: empty values, wildcards, other
# versions, out-of-range numbers, non-ASCII digits, separators, control bytes, deep nesting.
TOKENS = [b"", b"*", b" ", b"\r\n", b"\n", b"\r\n\r\n", b":", b";", b",", b"=", b"<", b">", b"@", b"/", b"\"", b"\x00", b"\xff",
          b"SIP/7.0", b"SIP/2.0", b"99999", b"65536", b"-1", b"0", b"4294967296", "²".encode(), "٣".encode(), b"\xc3\x28",
          b"c=", b"c=IN IP4", b"m=audio", b"a=rtpmap:", b"tag=", b"branch=", b"[", b"]", b"[[[[[[[[", b"{", b"}", b"null", b"true",
          b"1e999", b"NaN", b"\\u0000", b"%%"]

_OP = st.tuples(st.integers(0, 7), st.integers(0, 1 << 16), st.binary(max_size=16), st.sampled_from(TOKENS))


def _apply(data: bytes, ops: list[tuple[int, int, bytes, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, pos, blob, token in ops:
        n = len(buf)
        at = pos % (n + 1)
        if kind == 0 and n:  # flip a byte
            buf[at % n] ^= 1 << (pos % 8)
        elif kind == 1:  # delete a stretch
            del buf[at : at + 1 + pos % 17]
        elif kind == 2:  # insert random bytes
            buf[at:at] = blob
        elif kind == 3:  # insert a trouble token
            buf[at:at] = token
        elif kind == 4:  # replace a line's value with a token
            lines = bytes(buf).split(b"\n")
            i = pos % len(lines)
            head, sep, _ = lines[i].partition(b":") if b":" in lines[i] else lines[i].partition(b"=")
            lines[i] = head + (sep or b":") + token
            buf = bytearray(b"\n".join(lines))
        elif kind == 5:  # duplicate a line
            lines = bytes(buf).split(b"\n")
            i = pos % len(lines)
            lines.insert(i, lines[i])
            buf = bytearray(b"\n".join(lines))
        elif kind == 6:  # drop a line
            lines = bytes(buf).split(b"\n")
            if len(lines) > 1:
                del lines[pos % len(lines)]
            buf = bytearray(b"\n".join(lines))
        else:  # truncate
            del buf[at:]
    return bytes(buf)


def mutated(seeds: list[bytes]) -> st.SearchStrategy[bytes]:
    """A seed message with up to 8 mutations, or random bytes."""
    return st.one_of(
        st.builds(_apply, st.sampled_from(seeds), st.lists(_OP, max_size=8)),
        st.binary(max_size=2048),
    )
