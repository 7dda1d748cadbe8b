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
import re
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
# Added for the wider set (second revision): every other language with a transcript, the real 8 kHz
# telephone versions, two-speaker clips (mixed down: a second voice under the caller's), and the
# clips whose speech onsets are hand labels (speechbrain's VAD test set) rather than energy onsets.
MORE_INTERRUPTS = ["fr/picovoice_test_fr.wav", "it/picovoice_test_it.wav", "ja/picovoice_test_ja.wav", "ko/picovoice_test_ko.wav",
                   "ru/deepspeech_ru.wav", *[f"vi/vivos_VIVOSSPK01_R{i:03d}.wav" for i in range(51, 61)],
                   "zh/klaam_aishell3_SSB00800003_ground-truth.wav", "zh/klaam_aishell3_SSB04700028_ground-truth.wav",
                   "zh/klaam_aishell3_SSB05900363_ground-truth.wav", "zh/klaam_aishell3_SSB06290079_ground-truth.wav",
                   "zh/klaam_aishell3_SSB08630110_ground-truth.wav",
                   "telephony/deepspeech_LDC93S1_8k.wav", "telephony/azure_whatstheweatherlike_mulaw.wav",
                   "multi/fw_stereo_diarization.wav", "multi/sb_stereo_spk1_and_2_snt5.wav", "multi/sb_stereo_spk1_snt1_and_2.wav",
                   "multi/sb_2spk_overlap_mixture_0_16k.wav", "multi/sb_2spk_overlap_mixture_1_16k.wav"]
# Hand-labelled speech onsets (ms into the file) from speechbrain's VAD annotation (manifest): each one
# follows >= 300 ms the labels call non-speech, kept as the lead-in.
LABELLED_ONSETS = {"vad/sb_vad_train.wav": [520.0, 2350.0], "vad/sb_vad_valid.wav": [380.0, 4100.0]}
TEXT_FROM = {"multi/sb_stereo_spk1_snt1_and_2.wav": ["en/sb_timit_spk1_snt1.wav", "en/sb_timit_spk1_snt2.wav"]}  # "spk1_snt1 + spk1_snt2"
UNTRANSCRIBED = "(speech, words not transcribed)"  # the oracle's text where the source has none: words, not a backchannel
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


def frame_db(x: np.ndarray) -> np.ndarray:
    """Level of each 10 ms frame, dBFS."""
    fr = x[: len(x) // 160 * 160].astype(np.float64).reshape(-1, 160)
    return 10 * np.log10(np.mean(fr**2, axis=1) / 32768.0**2 + 1e-12)


def speech_onset(x: np.ndarray, *, upper_db: float = 20.0, lower_db: float = 10.0, run: int = 3, dips: int = 2) -> float:
    """The careful energy onset, a double threshold (Rabiner & Sambur's endpoint detector):
    find the first ``run`` frames within ``upper_db`` of the clip's peak (certainly speech), then
    walk back while frames stay above the lower threshold (``lower_db`` over the clip's noise
    floor = its quietest 100 ms, at least peak - 40 dB and -60 dBFS), across dips of at most
    ``dips`` frames (a stop closure). A click or breath separated from the words by a stretch of
    floor, and a recording's hiss before the words, are not the onset; a soft "s" or "h" that
    leads into the words is. Checked against speechbrain's hand VAD labels: -30..+20 ms."""
    db = frame_db(x)
    peak = float(db.max())
    power = 10 ** (db / 10)
    windows = [10 * np.log10(power[i : i + 10].mean() + 1e-12) for i in range(max(1, len(db) - 9)) if db[i : i + 10].min() > -100]
    floor = min(windows) if windows else -120.0
    lower = max(floor + lower_db, peak - 40.0, -60.0)
    start = next((i for i in range(len(db) - run + 1) if (db[i : i + run] >= peak - upper_db).all()), int(np.argmax(db)))
    onset, below, k = start, 0, start
    while k > 0 and below <= dips:
        k -= 1
        if db[k] >= lower:
            onset, below = k, 0
        else:
            below += 1
    return onset * 10.0


def oracle_text(entry: dict) -> str:
    """The words of a clip: the manifest transcript, else the text its annotation gives (AISHELL-3 hanzi
    after the pinyin, the two speakers' sentences), else :data:`UNTRANSCRIBED`."""
    if entry.get("transcript"):
        return entry["transcript"]
    note = entry.get("annotation") or ""
    if note.startswith("pinyin:") and ";" in note:
        return note.split(";", 1)[1].split("(")[0].strip()
    quoted = re.findall(r"'([^']{6,})'", note)
    return " ".join(quoted) if quoted else UNTRANSCRIBED


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
    more_echo = itertools.cycle(ECHO)  # its own cycle: the scenarios above keep their echo paths
    for rel in MORE_INTERRUPTS:
        if not (SHARED / rel).is_file():
            continue
        x = load_audio(SHARED / rel, RATE).astype(np.float64)
        onset = speech_onset(x)
        entry = manifest.get(rel, {})
        text = " ".join(oracle_text(manifest[r]) for r in TEXT_FROM[rel]) if rel in TEXT_FROM else oracle_text(entry)
        add("interrupt", _mix(n, (int((AT_MS - onset) * RATE / 1000), x)), onset_ms=float(AT_MS), text=text,
            language=entry.get("language", "en").split()[0], source=rel, echo=list(next(more_echo)), onset_origin="energy")
    for rel, onsets in LABELLED_ONSETS.items():
        if not (SHARED / rel).is_file():
            continue
        x = load_audio(SHARED / rel, RATE).astype(np.float64)
        for label in onsets:
            piece = x[int((label - 300) * RATE / 1000):]
            add("interrupt", _mix(n, (int((AT_MS - 300) * RATE / 1000), piece)), onset_ms=float(AT_MS), text=UNTRANSCRIBED,
                language="en", source=f"{rel}@{label / 1000:g}s", echo=list(next(more_echo)), onset_origin="label",
                energy_onset_ms=float(AT_MS - 300 + speech_onset(piece)))
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
