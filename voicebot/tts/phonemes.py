"""Text -> IPA phonemes with the espeak-ng program, the way Piper voices were trained.

Piper's own phonemizer links libespeak-ng (``piper-phonemize``) and ``piper-tts`` is GPL;
running the espeak-ng binary keeps this project Apache-2.0 and needs nothing beyond the
Debian package the bot already uses as its always-available voice.

espeak-ng prints one line of IPA per clause and drops the punctuation; Piper's models were
trained with the clause punctuation kept (it shapes pauses and intonation), so the
punctuation that ended each clause is put back.
"""

from __future__ import annotations

import re
import shutil
import subprocess

_CLAUSE_END = re.compile(r"[,.;:!?،؟。！？、，]+(?=\s|$)")
_LANG_SWITCH = re.compile(r"\([a-z]{2,3}(?:-[a-z0-9]+)?\)")  # "(en)...(fr)" markers around foreign words
_ASCII_PUNCT = {"،": ",", "؟": "?", "。": ".", "！": "!", "？": "?", "、": ",", "，": ","}


def espeak_ipa(text: str, voice: str, binary: str = "espeak-ng") -> str:
    """IPA for ``text`` read by espeak-ng voice ``voice``, clause punctuation kept."""
    path = shutil.which(binary)
    if path is None:
        raise RuntimeError("espeak-ng is not installed: run `apt-get install -y espeak-ng` (scripts/setup.sh does it)")
    text = text.strip()
    if not text:
        return ""
    res = subprocess.run([path, "-q", "-v", voice, "--ipa", "--", text], capture_output=True, text=True, timeout=30)
    if res.returncode != 0:
        raise RuntimeError(f"espeak-ng could not phonemize for voice {voice}: {res.stderr.strip()[-300:]}")
    lines = [_LANG_SWITCH.sub("", line).strip() for line in res.stdout.splitlines()]
    lines = [line for line in lines if line]
    ends = [_ASCII_PUNCT.get(m.group(0)[-1], m.group(0)[-1]) for m in _CLAUSE_END.finditer(text)]
    out = []
    for i, line in enumerate(lines):
        out.append(line + (ends[i] if i < len(ends) else ""))
    return " ".join(out)
