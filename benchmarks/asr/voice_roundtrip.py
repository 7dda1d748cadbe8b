"""How well the real Whisper base understands each language's bot voice through a phone line.

    python -m benchmarks.asr.voice_roundtrip [--espeak] [--wideband] [--out FILE]

Each language's voice (the catalog's best installed one, or espeak-ng with --espeak) speaks
three of the bot's reply templates; the audio goes through 8 kHz G.711 mu-law (as on a call;
--wideband skips it) and Whisper base transcribes it with the language given. Prints WER
(CER for zh/ja/th/ko) per language: a proxy for intelligibility, and the regression gate in
tests/tts/test_voice_roundtrip.py.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.asr.score import errors, unit
from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import resample

KEYS = ("how_can_help", "ask_order_id", "anything_else")
PROMPTS = {"zh": "以下是普通话的句子。"}


def phone_line(pcm: np.ndarray, rate: int, wideband: bool = False) -> np.ndarray:
    """What the caller's handset gets (8 kHz mu-law), back at 16 kHz for the recognizer."""
    if wideband:
        return resample(pcm, rate, 16000)
    narrow = np.frombuffer(ulaw_decode(ulaw_encode(resample(pcm, rate, 8000))), dtype=np.int16)
    return resample(narrow, 8000, 16000)


def roundtrip(voice, asr, lang: str, wideband: bool = False) -> tuple[float, list[str]]:
    from voicebot.dialogue.templates import Templates

    templates = Templates.load()
    edits = length = 0
    heard = []
    for key in KEYS:
        text = templates.render(key, lang, shop="Acme Shop", name="Anna")
        speech = voice.synthesize(text)
        res = asr.transcribe(phone_line(speech.pcm, speech.sample_rate, wideband), lang, prompt=PROMPTS.get(lang))
        e, n = errors(text, res.text, lang)
        edits, length = edits + e, length + n
        heard.append(res.text)
    return edits / length, heard


def main(argv: list[str] | None = None) -> int:
    from voicebot.asr.whisper import WhisperASR
    from voicebot.config import ROOT
    from voicebot.tts.catalog import VoiceCatalog

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default=str(ROOT / "var" / "models"))
    p.add_argument("--espeak", action="store_true", help="every language's espeak-ng voice instead of the best one")
    p.add_argument("--wideband", action="store_true", help="16 kHz, no phone line")
    p.add_argument("--languages", default="")
    p.add_argument("--out", default="")
    args = p.parse_args(argv)
    models = Path(args.models)
    catalog = VoiceCatalog(ROOT / "voices" / "catalog.yaml", models, prefer="espeak" if args.espeak else "best")
    asr = WhisperASR(models / "whisper-base", dev=False, num_workers=1)
    rows = {}
    for lang in (args.languages.split(",") if args.languages else catalog.languages):
        voice = catalog.voice_for(lang)
        rate, heard = roundtrip(voice, asr, lang, args.wideband)
        rows[lang] = {"voice": voice.name, unit(lang): round(rate, 3), "heard": heard}
        print(f"{lang} {voice.name:28} {unit(lang)} {rate:.2f}  {heard}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
