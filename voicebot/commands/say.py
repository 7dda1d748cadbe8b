"""``voicebot say TEXT --language xx --out f.wav``: hear the voice a call in that language gets."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", help="what to say (quote it)")
    p.add_argument("--language", "-l", default="en", help="ISO 639-1 code, e.g. en, es, ja, zh (default en)")
    p.add_argument("--out", "-o", required=True, help="WAV file to write")
    p.add_argument("--espeak", action="store_true", help="force the espeak-ng voice (the fallback every language has)")
    p.add_argument("--phone", action="store_true", help="as a caller hears it on a phone line: 8 kHz G.711 mu-law and back")


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import soundfile as sf

    from voicebot.config import load_settings
    from voicebot.tts.catalog import VoiceCatalog

    settings = load_settings(args.config)
    catalog = VoiceCatalog(settings.voices, settings.models.dir, prefer="espeak" if args.espeak else "best")
    if args.language not in catalog.languages:
        print(f"voicebot say: no voice for language {args.language!r}; the catalog ({settings.voices}) has {', '.join(catalog.languages)}",
              file=sys.stderr)
        return 2
    voice = catalog.voice_for(args.language)
    t0 = time.perf_counter()
    try:
        speech = voice.synthesize(args.text)
    except RuntimeError as exc:
        print(f"voicebot say: {voice.name} failed: {exc}", file=sys.stderr)
        return 1
    compute = time.perf_counter() - t0
    pcm, rate = speech.pcm, speech.sample_rate
    if args.phone:
        from voicebot.audio.g711 import ulaw_decode, ulaw_encode
        from voicebot.audio.pcm import resample

        pcm, rate = np.frombuffer(ulaw_decode(ulaw_encode(resample(pcm, rate, 8000))), dtype=np.int16), 8000
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sf.write(out, np.asarray(pcm, dtype=np.int16), rate, subtype="PCM_16")
    seconds = len(speech.pcm) / speech.sample_rate
    print(f"{out}: {seconds:.2f} s at {rate} Hz, voice {voice.name}, {compute * 1000:.0f} ms to synthesize")
    return 0
