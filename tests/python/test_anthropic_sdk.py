"""The official `anthropic` SDK against auditgate's POST /v1/messages (served by `demo/echo`)."""

import anthropic
import pytest


@pytest.fixture()
def client(gateway):
    return anthropic.Anthropic(base_url=gateway.url, api_key=gateway.key, max_retries=0)


def test_plain_message(client):
    raw = client.messages.with_raw_response.create(
        model="demo/echo", max_tokens=100,
        system="You are terse.",
        messages=[{"role": "user", "content": "Guten Tag"}],
    )
    message = raw.parse()
    assert message.type == "message"
    assert message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "echo: Guten Tag"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert int(raw.headers["x-auditgate-entry"]) > 0


def test_streaming_message(client):
    with client.messages.stream(
        model="demo/echo", max_tokens=100, messages=[{"role": "user", "content": "eins zwei drei"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "echo: eins zwei drei"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_tool_use_round_trip(client):
    tools = [{
        "name": "get_rate",
        "description": "Exchange rate for a currency",
        "input_schema": {"type": "object", "properties": {"currency": {"type": "string"}}, "required": ["currency"]},
    }]
    messages = [{"role": "user", "content": "CHF"}]
    first = client.messages.create(model="demo/echo", max_tokens=100, tools=tools, messages=messages)
    assert first.stop_reason == "tool_use"
    use = next(b for b in first.content if b.type == "tool_use")
    assert use.name == "get_rate"
    assert use.input == {"currency": "CHF"}
    messages.append({"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]})
    messages.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "0.94"}]})
    second = client.messages.create(model="demo/echo", max_tokens=100, tools=tools, messages=messages)
    assert "0.94" in second.content[0].text


def test_streaming_tool_use(client):
    tools = [{"name": "lookup", "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    with client.messages.stream(
        model="demo/echo", max_tokens=100, tools=tools, messages=[{"role": "user", "content": "Basel"}]
    ) as stream:
        final = stream.get_final_message()
    use = next(b for b in final.content if b.type == "tool_use")
    assert use.input == {"q": "Basel"}
    assert final.stop_reason == "tool_use"


def test_bad_key(gateway):
    bad = anthropic.Anthropic(base_url=gateway.url, api_key="sk-ag-nope", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="demo/echo", max_tokens=10, messages=[{"role": "user", "content": "x"}])


def test_unknown_model(client):
    with pytest.raises(anthropic.NotFoundError):
        client.messages.create(model="nobody/nothing", max_tokens=10, messages=[{"role": "user", "content": "x"}])


def test_count_tokens_is_estimated_without_sending_the_text(client):
    short = client.messages.count_tokens(model="demo/echo", messages=[{"role": "user", "content": "Grüezi"}])
    long = client.messages.count_tokens(
        model="demo/echo", system="You are terse.", messages=[{"role": "user", "content": "Grüezi " * 400}]
    )
    assert 0 < short.input_tokens < long.input_tokens
    assert 700 <= long.input_tokens <= 900  # 3,200 bytes of text at about four bytes per token
    with pytest.raises(anthropic.NotFoundError):
        client.messages.count_tokens(model="nobody/nothing", messages=[{"role": "user", "content": "x"}])


def test_answers_name_the_provider(client):
    raw = client.messages.with_raw_response.create(
        model="demo/echo", max_tokens=20, messages=[{"role": "user", "content": "Hallo"}]
    )
    assert raw.http_response.json()["provider"] in ("demo-ch", "demo-us")
    with client.messages.stream(
        model="demo/echo", max_tokens=20, messages=[{"role": "user", "content": "Hallo"}]
    ) as stream:
        events = list(stream)
    start = next(e for e in events if e.type == "message_start")
    assert start.message.model_extra["provider"] in ("demo-ch", "demo-us")
