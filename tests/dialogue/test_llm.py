"""The optional LLM backend against a local server speaking the OpenAI chat/completions JSON
protocol (started by the test): tools restricted to the KB and the caller's own orders, same guard."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from tests.dialogue.dialogue_kit import Call, ScriptedNlu, data, make_engine, nlu
from voicebot.core import CallContext
from voicebot.dialogue.engine import LlmOptions

Step = Callable[[dict[str, Any]], dict[str, Any]]


def tool_call(name: str, args: dict[str, Any], call_id: str = "call_1") -> dict[str, Any]:
    return {"role": "assistant", "content": None,
            "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]}


def say(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


@pytest.fixture
async def llm_server():
    """Replies with the scripted steps in order; records every request body."""
    steps: list[Step] = []
    bodies: list[dict[str, Any]] = []

    async def completions(request: web.Request) -> web.Response:
        body = await request.json()
        bodies.append(body)
        message = steps.pop(0)(body)
        return web.json_response({"id": "cmpl-1", "object": "chat.completion", "model": body["model"],
                                  "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1", steps, bodies
    await runner.cleanup()


@pytest.fixture
def scripted() -> ScriptedNlu:
    return ScriptedNlu()


async def engine_with_llm(tmp_path, scripted, url):
    return make_engine(tmp_path, scripted, llm=LlmOptions(enabled=True, base_url=url, model="test-model", timeout_s=5))


def tool_result(body: dict[str, Any]) -> dict[str, Any]:
    return json.loads(body["messages"][-1]["content"])


async def test_off_by_default(tmp_path, scripted) -> None:
    assert make_engine(tmp_path, scripted).llm is None


async def test_free_form_question_answered_through_kb_tool(tmp_path, scripted, llm_server) -> None:
    url, steps, bodies = llm_server
    engine = await engine_with_llm(tmp_path, scripted, url)
    kb_text = engine.kb.say("refund_timing", "fr")

    def answer_from_tool(body: dict[str, Any]) -> dict[str, Any]:
        results = tool_result(body)["results"]
        assert results[0]["id"] == "refund_timing"
        return say(results[0]["text"])

    steps += [lambda body: tool_call("kb_lookup", {"query": "refund timing"}), answer_from_tool]
    call = Call(engine, scripted, "fr")
    reply = await call.say(nlu("out_of_scope", "fr", confidence=0.3), text="combien de temps pour être remboursé ?")
    assert reply.text == kb_text and call.notes("llm_answer")
    first = bodies[0]
    assert first["model"] == "test-model"
    assert {t["function"]["name"] for t in first["tools"]} == {"kb_lookup", "list_my_orders", "get_order"}
    assert "'fr'" in first["messages"][0]["content"] and first["messages"][-1]["content"] == "combien de temps pour être remboursé ?"
    assert bodies[1]["messages"][-1]["role"] == "tool" and bodies[1]["messages"][-1]["tool_call_id"] == "call_1"
    await engine.close()


async def test_order_tools_refuse_an_unverified_caller(tmp_path, scripted, llm_server) -> None:
    url, steps, _ = llm_server
    engine = await engine_with_llm(tmp_path, scripted, url)
    order = data().order_of("C001", "in_transit")
    seen: list[dict[str, Any]] = []

    def after_tool(body: dict[str, Any]) -> dict[str, Any]:
        seen.append(tool_result(body))
        return say("I need to verify who you are first.")

    steps += [lambda body: tool_call("get_order", {"order_id": order.id}), after_tool]
    call = Call(engine, scripted, "en", caller_number="+15550001111")
    reply = await call.say(nlu("out_of_scope", "en", confidence=0.2), text="what about that order of my neighbour")
    assert "not verified" in seen[0]["error"] and order.shipment.tracking_number not in json.dumps(seen)
    assert reply.text == "I need to verify who you are first."
    await engine.close()


async def test_verified_caller_gets_own_order_but_not_anothers(tmp_path, scripted, llm_server) -> None:
    url, steps, _ = llm_server
    engine = await engine_with_llm(tmp_path, scripted, url)
    d = data()
    c = d.customer_for_language("en")
    mine, theirs = d.order_of(c.id, "in_transit"), d.order_of("C002", "in_transit")
    call = Call(engine, scripted, "en", caller_number=c.phone)
    await call.say(nlu("order_status", "en", order_id=mine.id))  # built-in flow verifies by caller number
    await call.say(nlu("affirm", "en"))  # "anything else?" -> how can I help
    results: list[dict[str, Any]] = []

    def second(body: dict[str, Any]) -> dict[str, Any]:
        results.append(tool_result(body))
        return tool_call("get_order", {"order_id": theirs.id}, "call_2")

    def final(body: dict[str, Any]) -> dict[str, Any]:
        results.append(tool_result(body))
        return say(f"Your parcel's tracking number is {mine.shipment.tracking_number}.")

    steps += [lambda body: tool_call("get_order", {"order_id": mine.id}), second, final]
    reply = await call.say(nlu("out_of_scope", "en", confidence=0.2), text="can you read me the tracking again")
    assert results[0]["order"]["id"] == mine.id and results[1] == {"error": "no such order for this caller"}
    assert reply.text == f"Your parcel's tracking number is {mine.shipment.tracking_number}." and not call.notes("guard_blocked")
    await engine.close()


@pytest.mark.parametrize("bad", [
    "Sure, just pay the duties by bank transfer to our agent.",
    "As a goodwill gesture I'll add a 30% discount voucher.",
    "Order 61863 went to Lukas Müller in Leipzig.",
])
async def test_llm_replies_pass_the_same_guard(tmp_path, scripted, llm_server, bad) -> None:
    url, steps, _ = llm_server
    engine = await engine_with_llm(tmp_path, scripted, url)
    steps.append(lambda body: say(bad))
    call = Call(engine, scripted, "en")
    reply = await call.say(nlu("out_of_scope", "en", confidence=0.2), text="anything you can do?")
    assert reply.text == engine.templates.render("guard_fallback", "en")
    assert call.notes("guard_blocked")
    await engine.close()


async def test_unreachable_llm_falls_back_to_built_in(tmp_path, scripted) -> None:
    engine = make_engine(tmp_path, scripted, llm=LlmOptions(enabled=True, base_url="http://127.0.0.1:9/v1", timeout_s=2))
    call = Call(engine, scripted, "es")
    reply = await call.say(nlu("out_of_scope", "es", confidence=0.2), text="¿qué tiempo hace?")
    assert reply.text == engine.templates.render("not_understood", "es")
    await engine.close()


async def test_tool_arguments_are_checked(tmp_path, scripted) -> None:
    engine = make_engine(tmp_path, scripted, llm=LlmOptions(enabled=True))
    session = engine.new_session(CallContext("c"))
    assert await engine.llm.run_tool("kb_lookup", "{not json", "en", session) == {"error": "arguments are not valid JSON"}
    assert "unknown tool" in (await engine.llm.run_tool("delete_orders", "{}", "en", session))["error"]


async def test_rephrasing_keeps_facts_or_falls_back(tmp_path, scripted, llm_server) -> None:
    url, steps, bodies = llm_server
    engine = make_engine(tmp_path, scripted, llm=LlmOptions(enabled=True, base_url=url, rephrase=True, timeout_s=5))
    d = data()
    c = d.customer_for_language("en")
    order = d.order_of(c.id, "in_transit")
    call = Call(engine, scripted, "en", caller_number=c.phone)

    def faithful(body: dict[str, Any]) -> dict[str, Any]:
        original = body["messages"][-1]["content"]
        assert "tools" not in body and order.shipment.tracking_number in original
        return say("Good news! " + original)

    steps.append(faithful)
    reply = await call.say(nlu("order_status", "en", order_id=order.id))
    assert reply.text.startswith("Good news! ") and order.shipment.tracking_number in reply.text

    steps.append(lambda body: say("It should arrive soon, no worries."))  # lost the tracking number and dates
    reply = await call.say(nlu("order_status", "en", order_id=order.id))
    assert reply.text.startswith(engine.templates.render("ack_order_status", "en")) and order.shipment.tracking_number in reply.text

    steps.append(lambda body: say(body["messages"][-1]["content"] + " We can also take a bank transfer."))
    reply = await call.say(nlu("order_status", "en", order_id=order.id))
    assert "bank transfer" not in reply.text and order.shipment.tracking_number in reply.text  # the built-in wording
    assert call.notes("guard_blocked")[0].data["source"] == "llm_rephrase"
    await engine.close()
