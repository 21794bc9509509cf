"""The official `openai` SDK's legacy completions and Responses calls against auditgate's
`POST /v1/completions` and `POST /v1/responses`, with the `demo/echo` model."""

import json
import sqlite3

import openai
import pytest


@pytest.fixture()
def client(gateway):
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key=gateway.key, max_retries=0)


def test_completion(client):
    raw = client.completions.with_raw_response.create(model="demo/echo", prompt="Grüezi mitenand", max_tokens=50)
    completion = raw.parse()
    assert completion.object == "text_completion"
    assert completion.choices[0].text == "echo: Grüezi mitenand"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.id.startswith("gen-")
    assert completion.usage.total_tokens > 0
    assert completion.usage.model_extra["cost"] > 0
    assert completion.model_extra["provider"] in ("demo-ch", "demo-us")
    assert int(raw.headers["x-auditgate-entry"]) > 0
    assert raw.headers["x-generation-id"] == completion.id


def test_completion_stream(client):
    stream = client.completions.create(model="demo/echo", prompt=["one two three"], stream=True)
    text, usage, finish = "", None, None
    for chunk in stream:
        assert chunk.object == "text_completion"
        if chunk.choices:
            text += chunk.choices[0].text
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "echo: one two three"
    assert finish == "stop"
    assert usage is not None and usage.model_extra["cost"] > 0


def test_completion_with_several_prompts_is_refused_naming_prompt(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="demo/echo", prompt=["a", "b"])
    assert err.value.param == "prompt"
    with pytest.raises(openai.BadRequestError) as err:
        client.completions.create(model="demo/echo", prompt=[101, 2023])
    assert "token ids" in err.value.message


def test_response(client):
    raw = client.responses.with_raw_response.create(
        model="demo/echo", input="Bitte fasse zusammen", instructions="Antworte kurz", max_output_tokens=40
    )
    response = raw.parse()
    assert response.object == "response"
    assert response.status == "completed"
    assert response.output_text == "echo: Bitte fasse zusammen"
    assert response.instructions == "Antworte kurz"
    assert response.max_output_tokens == 40
    assert response.usage.input_tokens > 0 and response.usage.output_tokens > 0
    assert response.usage.model_extra["cost"] > 0
    assert response.id == raw.headers["x-generation-id"]
    assert int(raw.headers["x-auditgate-entry"]) > 0


def test_response_stream(client):
    stream = client.responses.create(
        model="demo/echo",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "eins zwei drei"}]}],
        stream=True,
    )
    events = list(stream)
    types = [e.type for e in events]
    assert types[0] == "response.created" and types[-1] == "response.completed"
    for wanted in ("response.output_item.added", "response.content_part.added", "response.output_text.done",
                   "response.content_part.done", "response.output_item.done"):
        assert wanted in types
    assert [e.sequence_number for e in events] == list(range(len(events)))
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "echo: eins zwei drei"
    assert events[-1].response.output_text == text
    assert events[-1].response.usage.model_extra["cost"] > 0


def test_response_stream_helper_accumulates_the_final_response(client):
    with client.responses.stream(model="demo/echo", input="Zürich") as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()
    assert final.output_text == "echo: Zürich"


def test_response_function_tool_round_trip(client):
    tools = [{
        "type": "function",
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    }]
    first = client.responses.create(model="demo/echo", input="Bern", tools=tools, tool_choice="auto")
    call = next(item for item in first.output if item.type == "function_call")
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "Bern"}
    # The agent loop: the earlier output items go back as they came, then the tool's result.
    follow_up = [{"role": "user", "content": "Bern"}, *first.output,
                 {"type": "function_call_output", "call_id": call.call_id, "output": "12 degrees, sunny"}]
    second = client.responses.create(model="demo/echo", input=follow_up, tools=tools)
    assert "12 degrees, sunny" in second.output_text
    # And once more with the whole conversation, the assistant's answer included.
    third = client.responses.create(model="demo/echo", input=follow_up + [*second.output, {"role": "user", "content": "Danke"}])
    assert third.output_text == "echo: Danke"


def test_response_stream_with_a_function_tool(client):
    tools = [{"type": "function", "name": "lookup", "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}]
    events = list(client.responses.create(model="demo/echo", input="Zug", tools=tools, stream=True))
    done = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert len(done) == 1 and json.loads(done[0].arguments) == {"q": "Zug"}
    assert events[-1].response.output[0].type == "function_call"


def test_previous_response_id_and_store_are_refused_naming_them(client):
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="demo/echo", input="x", previous_response_id="resp_123")
    assert err.value.param == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="demo/echo", input="x", store=True)
    assert err.value.param == "store"
    with pytest.raises(openai.BadRequestError) as err:
        client.responses.create(model="demo/echo", input="x", tools=[{"type": "web_search"}])
    assert err.value.param == "tools[0]"


def _request_entry(gateway, seq):
    db = sqlite3.connect(f"file:{gateway.data_dir}/log.db?mode=ro", uri=True)
    try:
        (entry,) = db.execute("SELECT bytes FROM entries WHERE seq = ?", (seq,)).fetchone()
    finally:
        db.close()
    return json.loads(entry)["payload"]


def _tool_result_call(client, tool_output):
    return client.responses.with_raw_response.create(
        model="demo/echo",
        input=[
            {"role": "user", "content": [{"type": "input_text", "text": "Zahlung an"}]},
            {"type": "function_call", "call_id": "call_1", "name": "account", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "call_1", "output": tool_output},
        ],
        extra_body={"provider": {"order": ["demo-us", "demo-ch"]}},
    )


def test_an_iban_in_an_input_item_is_classified_and_kept_from_the_us_region(client, gateway):
    # Without personal data the preferred US upstream serves; with an IBAN in a tool result the
    # shipped policy allows Swiss/EU providers only, and the request entry names what was found.
    plain = _tool_result_call(client, "no account on file")
    assert plain.parse().model_extra["provider"] == "demo-us"
    raw = _tool_result_call(client, "IBAN CH93 0076 2011 6238 5295 7")
    assert raw.parse().model_extra["provider"] == "demo-ch"
    record = _request_entry(gateway, int(raw.headers["x-auditgate-entry"]))
    assert record["pii"]["entities"].get("IBAN_CODE") == 1, record["pii"]
    assert record["candidates"] and not any("@us" in c for c in record["candidates"]), record["candidates"]


def test_responses_parse_fills_the_model(client):
    import pydantic

    class Contact(pydantic.BaseModel):
        name: str
        newsletter: bool

    parsed = client.responses.parse(model="demo/echo", input="Frau Keller", text_format=Contact)
    assert parsed.output_parsed == Contact(name="Frau Keller", newsletter=True)
