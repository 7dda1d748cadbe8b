"""Builds the labelled barge-in / end-of-turn scenarios from ../shared/audio (nothing is copied).

Each scenario: the caller's own sound (``_near``, int16, 16 kHz: speech, a backchannel, noise
or nothing), the bot's espeak-ng TTS (``_bot``) and the echo path (``echo``: delay ms,
attenuation dB). The evaluation mixes the echo of what the bot *actually plays* into the
caller channel frame by frame — a bot that pauses or stops stops echoing, as on a real line.
Labels: kind, onset_ms (energy onset of the caller sound, see README), text, last_speech_ms.
"""

from __future__ import annotations

import itertools
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from voicebot.audio.pcm import load_audio

RATE = 16000
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "audio"
BOT_TEXT = ("Your order four five seven was shipped yesterday and should arrive on Monday. "
            "You can track it with the link we sent by email. Is there anything else I can help you with today?")
INTERRUPTS = ["en/sb_timit_spk1_snt1.wav", "en/sb_timit_spk1_snt2.wav", "en/sb_timit_spk1_snt3.wav", "en/sb_timit_spk1_snt4.wav",
              "en/sb_timit_spk1_snt5.wav", "en/sb_timit_spk2_snt1.wav", "en/sb_timit_spk2_snt2.wav", "en/sb_timit_spk2_snt3.wav",
              "en/sb_timit_spk2_snt4.wav", "en/sb_timit_spk2_snt5.wav", "en/deepspeech_LDC93S1_16k.wav", "en/sb_single_mic_example1.wav",
              "en/picovoice_test_en.wav", "de/picovoice_test_de.wav", "es/picovoice_test_es.wav", "pt/picovoice_test_pt.wav",
              "en/deepspeech_new_home_in_the_stars_16k.wav", "en/azure_whatstheweatherlike.wav"]
BACKCHANNELS = [("en", "uh-huh"), ("en", "yeah"), ("en", "okay"), ("en", "mhm"), ("en", "right"), ("es", "sí"), ("de", "ja"),
                ("fr", "oui"), ("zh", "嗯"), ("ja", "はい"), ("ko", "네"), ("it", "sì")]
ESPEAK_VOICE = {"en": "en-us", "es": "es", "de": "de", "fr": "fr", "zh": "cmn", "ja": "ja", "ko": "ko", "it": "it"}
ECHO = [(40, 10), (120, 25), (200, 45), (80, 15), (160, 35), (200, 10)]  # (delay ms, attenuation dB)
PAUSE_TURNS = ["telephony/spokenwoz_turn14_ch1.wav", "telephony/spokenwoz_turn16_ch1.wav", "telephony/spokenwoz_turn18_ch1.wav",
               "telephony/spokenwoz_turn20_ch1.wav", "en/vosk_test.wav", "en/silero_en_num.wav"]
# The caller's id number in the real call, one piece per caller turn (the agent acknowledged in between);
# spliced into one caller turn with the pauses below, as a caller reading the id without being prompted.
ID_PIECES = ["telephony/spokenwoz_turn14_ch1.wav", "telephony/spokenwoz_turn16_ch1.wav", "telephony/spokenwoz_turn18_ch1.wav",
             "telephony/spokenwoz_turn20_ch1.wav"]
ID_GAPS_MS = [(600, 900, 1200), (1000, 700, 800), (1200, 1200, 600)]
# Per-segment transcripts where the source labels them (vosk notebook output, in the manifest annotation).
SEGMENT_TEXTS = {"en/vosk_test.wav": ["one zero zero zero one", "nine oh two one oh", "zero one eight zero three"]}
DST_CSV = SHARED / "meta" / "speechbrain_spokenwoz_MUL1011_dst.csv"


def spokenwoz_id_pieces() -> dict[str, str]:
    """The digits each caller turn adds to ``profile-idnumber`` in SpokenWOZ's dialogue-state labels
    (turn 14: 1734, 16: 1256, ...), written as a recognizer writes spelled digits ("1 7 3 4")."""
    import csv

    pieces, before = {}, ""
    if not DST_CSV.is_file():
        return pieces
    for row in csv.DictReader(DST_CSV.open()):
        ids = [kv.split("=", 1)[1] for kv in row["current_state"].split(";") if kv.strip().startswith("profile-idnumber=")]
        now = ids[0].strip() if ids else ""
        if now != before and now.startswith(before):
            pieces[f"telephony/spokenwoz_turn{int(row['turnID']):02d}_ch1.wav"] = " ".join(now[len(before):])
        before = now
    return pieces


MIN_SPEECH_MS = 100  # shorter energy blips are clicks / bleed from the other channel, not caller speech
NOISES = ["noise/sb_noise1.wav", "noise/sb_noise2.wav", "noise/sb_noise3.wav", "noise/sb_noise4.wav", "noise/sb_noise5.wav"]
AT_MS = 1500


def espeak(text: str, voice: str = "en-us") -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run(["espeak-ng", "-v", voice, "-w", f.name, text], check=True, capture_output=True)
        return load_audio(Path(f.name), RATE)


def energy_segments(x: np.ndarray, rel_db: float = -30.0, min_gap_ms: int = 150, min_len_ms: int = 30) -> list[tuple[float, float]]:
    """Speech segments by 10 ms energy above max(-50 dBFS, peak + rel_db); gaps < min_gap_ms merged;
    segments shorter than ``min_len_ms`` dropped (clicks)."""
    fr = x[: len(x) // 160 * 160].astype(np.float64).reshape(-1, 160)
    db = 10 * np.log10(np.mean(fr**2, axis=1) / 32768.0**2 + 1e-12)
    on = db > max(-50.0, db.max() + rel_db)
    segs, start = [], None
    for i, v in enumerate(on):
        if v and start is None:
            start = i
        if not v and start is not None:
            segs.append([start * 10, i * 10])
            start = None
    if start is not None:
        segs.append([start * 10, len(on) * 10])
    merged: list[list[int]] = []
    for s in segs:
        if merged and s[0] - merged[-1][1] < min_gap_ms:
            merged[-1][1] = s[1]
        else:
            merged.append(s)
    return [(float(a), float(b)) for a, b in merged if b - a >= min_len_ms]


def speech_onset(x: np.ndarray) -> float:
    """The careful energy onset: the start of the first energy segment that lasts >= MIN_SPEECH_MS and
    peaks within 20 dB of the clip's peak (a breath or click before the words is not the onset)."""
    fr = x[: len(x) // 160 * 160].astype(np.float64).reshape(-1, 160)
    db = 10 * np.log10(np.mean(fr**2, axis=1) / 32768.0**2 + 1e-12)
    for a, b in energy_segments(x, min_len_ms=MIN_SPEECH_MS):
        if db[int(a) // 10 : int(b) // 10].max() >= db.max() - 20:
            return a
    return energy_segments(x)[0][0]


def _mix(n: int, *parts: tuple[int, np.ndarray]) -> np.ndarray:
    out = np.zeros(n)
    for at, x in parts:
        x = x[: max(0, n - at)]
        out[at : at + len(x)] += x
    return out


def build_scenarios() -> list[dict]:
    manifest = {m["path"]: m for m in json.loads((SHARED / "manifest.json").read_text())}
    bot = espeak(BOT_TEXT)
    n = int(5.0 * RATE)
    bot_track = np.zeros(n)
    bot_track[: min(n, len(bot))] = bot[:n]
    bot_until = min(n, len(bot)) / RATE * 1000
    echo_cycle = itertools.cycle(ECHO)
    out: list[dict] = []

    def add(kind, near, **labels):
        near = np.clip(near, -32768, 32767).astype(np.int16)
        out.append({"kind": kind, "bot_until_ms": bot_until, "_near": near, "_bot": bot_track.astype(np.int16), **labels})

    for rel in INTERRUPTS:
        if not (SHARED / rel).is_file():
            continue
        x = load_audio(SHARED / rel, RATE).astype(np.float64)
        onset = speech_onset(x)
        d, a = next(echo_cycle)
        at = int((AT_MS - onset) * RATE / 1000)
        add("interrupt", _mix(n, (at, x)), onset_ms=float(AT_MS), text=manifest.get(rel, {}).get("transcript") or "stop please",
            language=manifest.get(rel, {}).get("language", "en"), source=rel, echo=[d, a], onset_origin="energy")
    for lang, word in BACKCHANNELS:
        x = espeak(word, ESPEAK_VOICE[lang]).astype(np.float64) * 0.5
        for d, a in (next(echo_cycle), next(echo_cycle)):
            add("backchannel", _mix(n, (int(AT_MS * RATE / 1000), x)), text=word, language=lang,
                source=f"espeak-ng:{ESPEAK_VOICE[lang]}:{word}", echo=[d, a])
    for d, a in ECHO + [(60, 12), (100, 20), (140, 30), (180, 40)]:
        add("echo", np.zeros(n), echo=[d, a], source="bot tts echo")
    for rel in NOISES:
        x = load_audio(SHARED / rel, RATE).astype(np.float64)[:n]
        x = x / (np.sqrt(np.mean(x**2)) + 1e-9) * 32768 * 10 ** (-40 / 20)  # -40 dBFS line noise
        d, a = next(echo_cycle)
        add("echo_noise", _mix(n, (0, x)), echo=[d, a], source=rel)
    id_texts = spokenwoz_id_pieces()
    texts_of = {**{k: [v] for k, v in id_texts.items()}, **SEGMENT_TEXTS}

    def add_turn(caller: np.ndarray, segs: list[tuple[float, float]], source: str, texts: list[str] | None = None) -> None:
        caller = np.concatenate([caller, np.zeros(int(2.5 * RATE))])
        out.append({"kind": "pauses", "bot_until_ms": 0, "echo": [0, 99], "_near": caller.astype(np.int16), "_bot": np.zeros(len(caller), np.int16),
                    "last_speech_ms": segs[-1][1], "segments": segs, "source": source, "segment_texts": texts})

    for rel in PAUSE_TURNS:
        if not (SHARED / rel).is_file():
            continue
        x = load_audio(SHARED / rel, RATE).astype(np.float64)
        segs = energy_segments(x, rel_db=-35.0, min_gap_ms=300, min_len_ms=MIN_SPEECH_MS)
        texts = texts_of.get(rel)
        add_turn(x, segs, rel, texts if texts and len(texts) == len(segs) else None)
    if all((SHARED / rel).is_file() for rel in ID_PIECES):
        pieces = []
        for rel in ID_PIECES:
            x = load_audio(SHARED / rel, RATE).astype(np.float64)
            a, b = energy_segments(x, rel_db=-35.0, min_gap_ms=300, min_len_ms=MIN_SPEECH_MS)[0]
            a, b = max(0.0, a - 100), min(len(x) / RATE * 1000, b + 200)  # keep the natural onset and decay
            pieces.append(x[int(a * RATE / 1000) : int(b * RATE / 1000)])
        for gaps in ID_GAPS_MS:
            parts, segs, t = [np.zeros(int(0.3 * RATE))], [], 300.0
            for i, piece in enumerate(pieces):
                segs.append((t, t + len(piece) / RATE * 1000))
                parts.append(piece)
                t += len(piece) / RATE * 1000
                if i < len(gaps):
                    parts.append(np.zeros(int(gaps[i] * RATE / 1000)))
                    t += gaps[i]
            texts = [id_texts[rel] for rel in ID_PIECES] if all(rel in id_texts for rel in ID_PIECES) else None
            add_turn(np.concatenate(parts), segs, "spokenwoz id pieces 14+16+18+20 gaps " + "/".join(map(str, gaps)), texts)
    return out


def main() -> None:
    labels = [{k: v for k, v in s.items() if not k.startswith("_")} for s in build_scenarios()]
    path = Path(__file__).with_name("labels.json")
    path.write_text(json.dumps(labels, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(labels)} scenarios -> {path}")


if __name__ == "__main__":
    main()
