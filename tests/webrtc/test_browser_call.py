"""End to end in a real headless Chromium: the demo page, the widget, WebRTC (Opus over
aiortc, loopback ICE) or the WebSocket fallback, the real pipeline with dev whisper-tiny.

The fake microphone plays a real recording; what the page heard is measured in the page
(WebAudio analyser on the bot's track). Screenshots of every state go to docs/screenshots
when VOICEBOT_SCREENSHOTS=docs/screenshots.
"""

from __future__ import annotations

import os
import signal

import pytest

from .conftest import screenshots_dir

pytestmark = [pytest.mark.peers, pytest.mark.slow]

STATE = "window.voicebot && window.voicebot.state"


def wait_state(page, state: str, timeout_ms: int = 30000) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_function(f"{STATE} === {state!r}", timeout=timeout_ms)


def stats(page) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate("JSON.parse(JSON.stringify(window.voicebot.stats))")


def shot(page, tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    page.locator(".vbw").screenshot(path=str(screenshots_dir(tmp_path) / f"widget-{name}.png"))


def test_voice_call_over_webrtc_in_chromium(bot, chromium, tmp_path) -> None:  # type: ignore[no-untyped-def]
    browser = chromium()
    page = browser.new_page(viewport={"width": 820, "height": 700})
    logs: list[str] = []
    page.on("console", lambda m: logs.append(m.text))
    page.goto(f"{bot.url}/?name=Alex&lang=en&transport=webrtc")
    wait_state(page, "idle")
    shot(page, tmp_path, "idle")

    held = []  # hold the offer to see (and photograph) the real "connecting" state
    page.route("**/inapp/offer", lambda route: held.append(route))
    page.click(".vbw-btn")
    page.wait_for_function(f"{STATE} === 'connecting'")
    deadline_ms = 10000
    while not held and deadline_ms > 0:
        page.wait_for_timeout(50)
        deadline_ms -= 50
    assert held, "the widget sent no offer"
    shot(page, tmp_path, "connecting")
    held[0].continue_()
    page.unroute("**/inapp/offer")

    wait_state(page, "bot_speaking")  # the greeting's audio is leaving the server
    shot(page, tmp_path, "bot-speaking")
    call_id = stats(page)["callId"]
    assert call_id and call_id in bot.live.calls
    wait_state(page, "listening", 20000)  # greeting heard to its end
    greeting = stats(page)
    assert 1500 < greeting["botVoicedMs"] < 15000, greeting  # "Hello, this is the customer service assistant..." ~4 s
    assert greeting["botPeakRms"] > 0.02
    bot_caps = [c for c in greeting["captions"] if c["who"] == "bot"]
    assert bot_caps and "customer service" in bot_caps[0]["text"]
    shot(page, tmp_path, "listening")

    # The recording speaks at 6.5 s: its transcript (dev model: words meaningless) and the bot's reply come back.
    page.wait_for_function("window.voicebot.stats.captions.filter(c => c.who === 'caller').length >= 1", timeout=30000)
    page.wait_for_function("window.voicebot.stats.captions.filter(c => c.who === 'bot').length >= 2", timeout=30000)
    wait_state(page, "bot_speaking", 20000)
    wait_state(page, "listening", 20000)
    reply = stats(page)
    assert reply["botVoicedMs"] - greeting["botVoicedMs"] > 800, reply  # "I heard you. Let me look into that." ~2 s
    assert page.locator(".vbw-cap.caller").count() >= 1 and page.locator(".vbw-cap.bot").count() >= 2

    # Typed instead of spoken: the minimal dialogue hands over on "agent"; the caller stays connected.
    page.fill(".vbw-form input", "I want to talk to an agent please")
    page.click(".vbw-form button")
    wait_state(page, "transferred", 30000)
    page.wait_for_timeout(300)
    shot(page, tmp_path, "transferred")
    live = bot.live.calls[call_id]
    assert live.call.waiting_for_agent and live.call.state.outcome == "handed_off"
    assert any(c["who"] == "caller" and "agent" in c["text"] for c in stats(page)["captions"])
    assert page.locator(".vbw-cap.caller", has_text="talk to an agent").count() == 1

    page.click(".vbw-btn")  # end the call
    wait_state(page, "ended")
    shot(page, tmp_path, "ended")
    summary = bot.wait_ended(call_id)
    assert summary["end_reason"] == "caller_hung_up" and summary["outcome"] == "handed_off"
    assert summary["events"][0] == "call_start" and summary["events"][-1] == "call_end"
    texts = [c["text"] for c in summary["captions"]]
    assert "I want to talk to an agent please" in texts
    record = bot.runtime.records.store.get_call(call_id)  # the call record, written as the call went
    assert record is not None and record.channel == "webrtc" and record.outcome == "handed_off" and record.ended_at
    turns = bot.runtime.records.store.turns(call_id)
    assert any("talk to an agent" in (t.caller_text or "") for t in turns)
    browser.close()


def test_voice_call_over_the_websocket_fallback(bot, chromium, tmp_path) -> None:  # type: ignore[no-untyped-def]
    browser = chromium()
    page = browser.new_page()
    page.goto(f"{bot.url}/?name=Alex&lang=en&transport=websocket")
    page.click(".vbw-btn")
    wait_state(page, "bot_speaking")
    call_id = stats(page)["callId"]
    assert bot.live.calls[call_id].call.ctx.channel == "websocket"
    assert bot.live.calls[call_id].call.ctx.customer_name == "Alex"
    wait_state(page, "listening", 20000)
    greeting = stats(page)
    assert 1500 < greeting["botVoicedMs"] < 15000, greeting
    page.wait_for_function("window.voicebot.stats.captions.filter(c => c.who === 'caller').length >= 1", timeout=30000)
    page.wait_for_function("window.voicebot.stats.captions.filter(c => c.who === 'bot').length >= 2", timeout=30000)
    # the reply is heard: the page's analyser measures more than 0.8 s of new bot audio
    page.wait_for_function(f"window.voicebot.stats.botVoicedMs > {greeting['botVoicedMs'] + 800}", timeout=20000)
    assert stats(page)["transport"] == "websocket"
    page.click(".vbw-btn")
    wait_state(page, "ended")
    summary = bot.wait_ended(call_id)
    assert summary["end_reason"] == "caller_hung_up" and summary["events"][-1] == "call_end"
    browser.close()


def test_a_dropped_browser_ends_the_call_cleanly(bot, chromium, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The browser process dies mid-call (no hang-up, no close): the server notices the media
    stopping and ends the call with its events; other calls are not touched."""
    browser = chromium()
    page = browser.new_page()
    page.goto(f"{bot.url}/?transport=webrtc")
    page.click(".vbw-btn")
    wait_state(page, "bot_speaking")
    call_id = stats(page)["callId"]
    cdp = browser.new_browser_cdp_session()
    procs = cdp.send("SystemInfo.getProcessInfo")["processInfo"]
    pids = [p["id"] for p in procs if p["type"] == "browser"]
    assert pids, procs
    os.kill(pids[0], signal.SIGKILL)  # no hang-up message, no peer-connection close: the network just goes away
    summary = bot.wait_ended(call_id, timeout_s=30)
    assert summary["end_reason"] in ("media_timeout", "media_ended", "caller_hung_up"), summary
    print("dropped call ended:", summary["end_reason"])
    assert summary["events"][0] == "call_start" and summary["events"][-1] == "call_end"
    assert summary["outcome"] == "abandoned" or summary["outcome"] == "ended"
    assert call_id not in bot.live.calls


@pytest.mark.parametrize("microphone,expected,name", [(True, "Microphone access was denied", "error"), (False, "No microphone was found", None)])
def test_a_denied_or_missing_microphone_gives_a_clear_message(bot, chromium, tmp_path, microphone, expected, name) -> None:  # type: ignore[no-untyped-def]
    browser = chromium(microphone=microphone, allow=False)
    page = browser.new_context(permissions=[]).new_page()
    page.goto(f"{bot.url}/")
    page.click(".vbw-btn")
    wait_state(page, "error", 15000)
    text = page.locator(".vbw-msg").inner_text()
    assert expected in text, text
    if name:
        shot(page, tmp_path, name)
    assert len(bot.live) == 0 and not bot.live.ended  # no call was started
    browser.close()
