"""The transcribed real recordings of ../shared/audio, as (path, language, reference, source) rows.

Every clip with a transcript in manifest.json, plus the five AISHELL-3 Mandarin clips whose
hanzi are inferred from their pinyin annotation (marked ``inferred``). Nothing here was
used to tune the recognizer: the recordings come from public test sets.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

SHARED_AUDIO = Path(__file__).resolve().parents[2].parent / "shared" / "audio"


@dataclass(frozen=True)
class Clip:
    path: Path
    language: str
    reference: str
    note: str = ""


def transcribed_clips(root: Path = SHARED_AUDIO, max_s: float = 30.0) -> list[Clip]:
    manifest = json.loads((root / "manifest.json").read_text())
    out = []
    for m in manifest:
        lang = m["language"].split(" ")[0]
        if m.get("transcript") and m["duration_s"] <= max_s:
            out.append(Clip(root / m["path"], lang, m["transcript"]))
        elif lang == "zh" and (m.get("annotation") or "").startswith("pinyin:"):
            hanzi = re.search(r";\s*(\S+)\s*\(", m["annotation"])
            if hanzi:
                out.append(Clip(root / m["path"], "zh", hanzi.group(1), note="hanzi inferred from the pinyin label"))
    return out
