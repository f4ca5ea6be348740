"""The Anthropic lane through the official `anthropic` package."""

import anthropic
import pytest

HI = [{"role": "user", "content": "Say hello."}]
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 24}},  # see WEATHER_TOOL
        "required": ["city"],
    },
}


def test_message(anthropic_client, chat_model):
    m = anthropic_client.messages.create(
        model=chat_model, max_tokens=16, messages=HI, system="Be brief."
    )
    assert m.type == "message" and m.role == "assistant"
    assert m.stop_reason in ("end_turn", "max_tokens", "stop_sequence")
    assert all(b.type == "text" for b in m.content)
    assert 0 < m.usage.output_tokens <= 16


def test_stream(anthropic_client, chat_model):
    with anthropic_client.messages.stream(model=chat_model, max_tokens=12, messages=HI) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert isinstance(text, str)
    assert final.stop_reason in ("end_turn", "max_tokens")
    assert final.usage.output_tokens <= 12


def test_raw_stream_event_order(anthropic_client, chat_model):
    events = [
        e.type
        for e in anthropic_client.messages.create(
            model=chat_model, max_tokens=8, messages=HI, stream=True
        )
    ]
    assert events[0] == "message_start"
    assert events[-2:] == ["message_delta", "message_stop"]


def test_forced_tool_use(anthropic_client, chat_model):
    m = anthropic_client.messages.create(
        model=chat_model,
        max_tokens=64,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER],
        tool_choice={"type": "tool", "name": "get_weather"},
    )
    uses = [b for b in m.content if b.type == "tool_use"]
    assert uses and uses[0].name == "get_weather"
    assert isinstance(uses[0].input["city"], str)
    assert m.stop_reason == "tool_use"
    # The result goes back as a tool_result block.
    m2 = anthropic_client.messages.create(
        model=chat_model,
        max_tokens=16,
        messages=[
            {"role": "user", "content": "What is the weather in Oslo?"},
            {"role": "assistant", "content": [u.model_dump() for u in uses]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": uses[0].id, "content": "Sunny"}
                ],
            },
        ],
        tools=[WEATHER],
        tool_choice={"type": "none"},
    )
    assert m2.role == "assistant"


def test_count_tokens(anthropic_client, chat_model):
    r = anthropic_client.messages.count_tokens(model=chat_model, messages=HI, system="Be brief.")
    assert r.input_tokens > 0


def test_errors(anthropic_client, chat_model):
    with pytest.raises(anthropic.NotFoundError):
        anthropic_client.messages.create(model="no-such-model", max_tokens=4, messages=HI)
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model=chat_model, max_tokens=0, messages=HI)
