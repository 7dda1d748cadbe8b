"""webrtcvad through pipecat's VADAnalyzer state machine, on the labelled speechbrain VAD clips."""

import pytest
from pipecat.audio.vad.vad_analyzer import VADParams, VADState

from tests.conftest import shared_audio
from voicebot.audio.pcm import load_audio
from voicebot.audio.vad_webrtc import WebRTCVADAnalyzer, WebRTCVADOptions

# Labels from the manifest (speechbrain annotation/VAD_*.json), absolute seconds.
LABELS = {
    "vad/sb_vad_train.wav": [(0.52, 0.85), (1.32, 1.83), (2.35, 3.70)],
    "vad/sb_vad_valid.wav": [(0.38, 2.70), (4.10, 5.88)],
}
START_S, STOP_S = 0.09, 0.30
TOLERANCE_S = 0.15


def segments(path: str, rate: int) -> list[tuple[float, float]]:
    x = load_audio(shared_audio(path), rate)
    vad = WebRTCVADAnalyzer(params=VADParams(confidence=0.5, min_volume=0.0, start_secs=START_S, stop_secs=STOP_S))
    vad.set_sample_rate(rate)
    step = rate // 50
    out, start, speaking = [], None, False
    for i in range(0, len(x) - step + 1, step):
        state = vad.analyze_sync(x[i : i + step].tobytes())
        t = (i + step) / rate
        if state == VADState.SPEAKING and not speaking:
            speaking, start = True, t - START_S
        elif state == VADState.QUIET and speaking:
            speaking = False
            out.append((start, t - STOP_S))
    if speaking:
        out.append((start, len(x) / rate))
    return out


@pytest.mark.parametrize("rate", [16000, 8000])
def test_speech_segments_match_labels(rate):
    found = segments("vad/sb_vad_valid.wav", rate)
    # every labelled segment is found, with onset and end within tolerance
    for lo, hi in LABELS["vad/sb_vad_valid.wav"]:
        match = [s for s in found if s[0] < hi and s[1] > lo]
        assert match, f"labelled speech {lo}-{hi} s not detected at {rate} Hz; found {found}"
        assert abs(match[0][0] - lo) <= TOLERANCE_S, (rate, match, lo)
        assert abs(match[-1][1] - hi) <= TOLERANCE_S + 0.1, (rate, match, hi)
    # no speech reported in the labelled silence 6-8 s
    assert not [s for s in found if s[0] < 7.9 and s[1] > 6.1]


def test_train_clip_segments():
    found = segments("vad/sb_vad_train.wav", 16000)
    for lo, hi in LABELS["vad/sb_vad_train.wav"]:  # each labelled segment is covered
        assert any(s[0] < hi and s[1] > lo for s in found), (lo, hi, found)
    labelled_onsets = [lo for lo, _ in LABELS["vad/sb_vad_train.wav"]]
    for start, _ in found:  # and every detected onset is a real one (the 4-5.8 s part is unlabelled)
        if start < 4.0:
            assert min(abs(start - lo) for lo in labelled_onsets) <= TOLERANCE_S, (start, found)


def test_digital_silence_is_never_speech():
    vad = WebRTCVADAnalyzer(options=WebRTCVADOptions(aggressiveness=0))
    vad.set_sample_rate(8000)
    assert all(vad.analyze_sync(bytes(160)) == VADState.QUIET for _ in range(200))


def test_rejects_unsupported_rates_and_options():
    with pytest.raises(ValueError, match="8000"):
        WebRTCVADAnalyzer(sample_rate=11025).set_sample_rate(11025)
    with pytest.raises(ValueError):
        WebRTCVADOptions(aggressiveness=4)
    with pytest.raises(ValueError):
        WebRTCVADOptions(frame_ms=15)
