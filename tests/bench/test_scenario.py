"""The scenario format: good files parse to exact values; bad files say where and what to fix."""

import textwrap
from pathlib import Path

import pytest

from benchmarks.harness.scenario import ScenarioError, load_scenario, load_scenarios, resolve_audio, shared_audio_dir

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, name: str, body: str) -> Path:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return p


def test_the_issue_example_parses_with_defaults(tmp_path):
    (tmp_path / "calls" / "es").mkdir(parents=True)
    (tmp_path / "calls" / "es" / "stuck.wav").write_bytes(b"RIFF")
    p = write(tmp_path, "s.yaml", """
        name: parcel-stuck-es
        language: es
        channel: direct
        turns:
          - audio: calls/es/stuck.wav
            text: "mi paquete lleva diez días en aduana"
            when: after_bot
            gap_ms: 400
            expect_intent: shipping_delay
          - text: "sí sí"
            when: during_bot
            offset_ms: 900
            barge_in: not_expected
          - text: "hola"
            when: during_bot
        expect:
          handoff: false
          order_id: "45712"
    """)
    s = load_scenario(p)
    assert (s.name, s.language, s.channel, s.sample_rate) == ("parcel-stuck-es", "es", "direct", 16000)
    t0, t1, t2 = s.turns
    assert t0.audio == (tmp_path / "calls/es/stuck.wav").resolve() and t0.gap_ms == 400 and t0.expect_intent == "shipping_delay"
    assert t0.barge_in is None  # after_bot: the bot is not expected to be speaking
    assert (t1.when, t1.offset_ms, t1.barge_in, t1.audio) == ("during_bot", 900, "not_expected", None)
    assert t2.barge_in == "expected"  # the default for during_bot
    assert s.expect.handoff is False and s.expect.order_id == "45712"


def test_a_broken_file_lists_every_problem_with_its_key(tmp_path):
    p = write(tmp_path, "bad.yaml", """
        name: broken
        language: xx
        colour: blue
        turns:
          - when: sometimes
          - text: hi
            when: at
          - text: hi
            expect_intent: where_is_it
            barge_in: maybe
          - audio: missing.wav
    """)
    with pytest.raises(ScenarioError) as exc:
        load_scenario(p)
    msg = str(exc.value)
    for fragment in ("language: the caller's language is required", "unknown key(s) ['colour']", "turns[0]: give `text`",
                     "turns[0].when: must be one of", "turns[1].at_ms: `when: at` needs at_ms", "turns[2].expect_intent: unknown intent 'where_is_it'",
                     "turns[2].barge_in: must be one of", "turns[3].audio: audio file", "not found"):
        assert fragment in msg, fragment
    assert all(line.startswith(str(p)) for line in msg.splitlines())


@pytest.mark.parametrize("body, fragment", [
    ("name: x\nlanguage: en\nturns: []\n", "turns: a non-empty list"),
    ("name: x\nlanguage: en\nturns:\n  - text: a\n    when: continue\n", "cannot be the first turn"),
    ("name: x\nlanguage: en\nturns: [{text: a}]\nexpect: {handoff: maybe}\n", "expect.handoff: expected true or false"),
    ("name: x\nlanguage: en\nturns: [{text: a, gap_ms: -5}]\n", "gap_ms: must be >= 0"),
    ("name: x\nlanguage: en\nsample_rate: 44100\nturns: [{text: a}]\n", "sample_rate: must be 8000"),
    ("- just\n- a list\n", "expected a mapping"),
    ("name: [unclosed\n", "not valid YAML"),
])
def test_bad_files(tmp_path, body, fragment):
    p = tmp_path / "bad.yaml"
    p.write_text(body)
    with pytest.raises(ScenarioError, match=None) as exc:
        load_scenario(p)
    assert fragment in str(exc.value)


def test_a_folder_is_checked_as_a_whole(tmp_path):
    write(tmp_path, "a.yaml", "name: same\nlanguage: en\nturns: [{text: a}]\n")
    write(tmp_path, "b.yaml", "name: same\nlanguage: en\nturns: [{text: b}]\n")
    write(tmp_path, "c.yaml", "name: c\nlanguage: en\nturns: [{when: at}]\n")
    with pytest.raises(ScenarioError) as exc:
        load_scenarios([tmp_path])
    assert "c.yaml" in str(exc.value) and "duplicate scenario name(s) ['same']" in str(exc.value)
    with pytest.raises(ScenarioError, match="no such file or folder"):
        load_scenarios([tmp_path / "nope"])


def test_shared_prefix_and_relative_paths_reach_the_same_recording(tmp_path):
    rel = resolve_audio("../../../shared/audio/en/sb_timit_spk1_snt1.wav", ROOT / "benchmarks" / "scenarios")
    assert resolve_audio("shared:en/sb_timit_spk1_snt1.wav", tmp_path) == shared_audio_dir() / "en/sb_timit_spk1_snt1.wav"
    assert rel == (shared_audio_dir() / "en/sb_timit_spk1_snt1.wav").resolve()


def test_the_smoke_set_is_valid_and_covers_the_issue():
    if not (shared_audio_dir() / "manifest.json").is_file():
        pytest.skip("../shared/audio is missing")
    scs = load_scenarios([ROOT / "benchmarks" / "scenarios"])
    assert len({s.language for s in scs}) >= 3
    turns = [t for s in scs for t in s.turns]
    assert any(t.barge_in == "expected" for t in turns) and any(t.barge_in == "not_expected" for t in turns)
    assert any(t.when == "continue" for t in turns)  # pauses inside an order number
    assert any(s.sample_rate == 8000 for s in scs)  # real phone audio
    assert any(t.audio is not None for t in turns) and any(t.audio is None for t in turns)
    gaps = load_scenarios([ROOT / "benchmarks" / "gaps"])
    assert any(s.noise is not None for s in gaps)
