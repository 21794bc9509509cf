"""The official `openai` SDK against auditgate and its `demo/echo` model."""

import json

import openai
import pytest


@pytest.fixture()
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0)


def test_plain_call(client):
    raw = client.chat.completions.with_raw_response.create(
        model="demo/echo", messages=[{"role": "user", "content": "Grüezi mitenand"}]
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "echo: Grüezi mitenand"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id.startswith("gen-")
    assert completion.model_extra["provider"] in ("demo-ch", "demo-us")
    assert completion.usage.total_tokens > 0
    assert int(raw.headers["x-auditgate-entry"]) > 0
    assert float(raw.headers["x-auditgate-cost"]) > 0


def test_streaming_with_usage(client):
    stream = client.chat.completions.create(
        model="demo/echo",
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, usage, finish = "", None, None
    for chunk in stream:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: one two three four"
    assert finish == "stop"
    assert usage is not None and usage.completion_tokens > 0
    assert usage.model_extra["cost"] > 0


def test_tool_call_round_trip(client):
    tools = [{
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }]
    messages = [{"role": "user", "content": "Bern"}]
    first = client.chat.completions.create(model="demo/echo", messages=messages, tools=tools)
    call = first.choices[0].message.tool_calls[0]
    assert first.choices[0].finish_reason == "tool_calls"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Bern"}
    messages.append(first.choices[0].message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "12 degrees, sunny"})
    second = client.chat.completions.create(model="demo/echo", messages=messages, tools=tools)
    assert "12 degrees, sunny" in second.choices[0].message.content


def test_streaming_tool_call(client):
    tools = [{"type": "function", "function": {"name": "lookup", "parameters": {
        "type": "object", "properties": {"q": {"type": "string"}}}}}]
    stream = client.chat.completions.create(
        model="demo/echo", messages=[{"role": "user", "content": "Zug"}], tools=tools, stream=True
    )
    args, name = "", None
    for chunk in stream:
        for tc in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
            name = tc.function.name or name
            args += tc.function.arguments or ""
    assert name == "lookup"
    assert json.loads(args) == {"q": "Zug"}


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert "demo/echo" in ids


def test_bad_key_is_authentication_error(gateway):
    bad = openai.OpenAI(base_url=gateway.url + "/v1", api_key="sk-ag-not-a-key", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="demo/echo", messages=[{"role": "user", "content": "x"}])


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as err:
        client.chat.completions.create(model="nobody/nothing", messages=[{"role": "user", "content": "x"}])
    assert err.value.code == "model_not_found"


def test_invalid_request_is_bad_request(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="demo/echo", messages=[])


def test_embeddings(client):
    result = client.embeddings.create(model="demo/echo", input=["alpha", "beta"])
    assert len(result.data) == 2
    assert len(result.data[0].embedding) == 8


def test_models_fallback_and_provider_order(client):
    reply = client.chat.completions.create(
        model="nobody/unknown",
        messages=[{"role": "user", "content": "weather in general"}],
        extra_body={"models": ["demo/echo"], "provider": {"order": ["demo-us", "demo-ch"], "allow_fallbacks": False}},
    )
    assert reply.model == "demo/echo"
    assert reply.model_extra["provider"] == "demo-us"


def test_invalid_provider_preferences_are_rejected(client):
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="demo/echo",
            messages=[{"role": "user", "content": "x"}],
            extra_body={"provider": {"sort": "fastest"}},
        )


def test_structured_output_parses_into_the_model(client):
    import pydantic

    class Invoice(pydantic.BaseModel):
        client: str
        amount_chf: float
        paid: bool
        lines: list[str]

    completion = client.chat.completions.parse(
        model="demo/echo", messages=[{"role": "user", "content": "Muster AG"}], response_format=Invoice
    )
    invoice = completion.choices[0].message.parsed
    assert isinstance(invoice, Invoice)
    assert invoice.client == "Muster AG" and invoice.lines == ["Muster AG"]
    plain = client.chat.completions.create(
        model="demo/echo", messages=[{"role": "user", "content": "Muster AG"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(plain.choices[0].message.content) == {"echo": "Muster AG"}


def test_n_stop_and_max_tokens_behave_as_at_a_provider(client):
    ask = [{"role": "user", "content": "eins zwei drei vier"}]
    two = client.chat.completions.create(model="demo/echo", messages=ask, n=2)
    assert [c.index for c in two.choices] == [0, 1]
    stopped = client.chat.completions.create(model="demo/echo", messages=ask, stop=["drei"])
    assert stopped.choices[0].message.content == "echo: eins zwei " and stopped.choices[0].finish_reason == "stop"
    cut = client.chat.completions.create(model="demo/echo", messages=ask, max_tokens=2)
    assert cut.choices[0].message.content == "echo: eins" and cut.choices[0].finish_reason == "length"
    none = client.chat.completions.create(
        model="demo/echo", messages=ask, tool_choice="none",
        tools=[{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
    )
    assert none.choices[0].message.tool_calls is None
