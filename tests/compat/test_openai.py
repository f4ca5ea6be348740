"""The OpenAI lane through the official `openai` package."""

import json

import openai
import pytest

from conftest import PERSON_SCHEMA, WEATHER_TOOL

HI = [{"role": "user", "content": "Say hello."}]


def test_models_list_and_retrieve(openai_client, chat_model):
    ids = [m.id for m in openai_client.models.list()]
    assert chat_model in ids
    assert openai_client.models.retrieve(chat_model).id == chat_model
    with pytest.raises(openai.NotFoundError):
        openai_client.models.retrieve("no-such-model")


def test_chat_non_stream(openai_client, chat_model):
    r = openai_client.chat.completions.create(model=chat_model, messages=HI, max_tokens=16)
    assert r.object == "chat.completion"
    choice = r.choices[0]
    assert choice.message.role == "assistant"
    assert isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert r.usage.completion_tokens <= 16
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens


def test_chat_stream_with_usage(openai_client, chat_model):
    chunks = list(
        openai_client.chat.completions.create(
            model=chat_model,
            messages=HI,
            max_tokens=12,
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    finishes = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finishes) == 1
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens <= 12


def test_n3_returns_three_choices(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model, messages=HI, max_tokens=8, n=3, temperature=0.9
    )
    assert sorted(c.index for c in r.choices) == [0, 1, 2]


def test_max_tokens_stop_and_seed(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "Count from one to one hundred."}],
        max_completion_tokens=3,
    )
    assert r.usage.completion_tokens <= 3
    kwargs = dict(
        model=chat_model,
        messages=HI,
        max_tokens=16,
        temperature=0.9,
        seed=1234,
        stop=["\n\n", "###"],
    )
    a = openai_client.chat.completions.create(**kwargs)
    b = openai_client.chat.completions.create(**kwargs)
    assert a.choices[0].message.content == b.choices[0].message.content, "same seed, same text"


def test_json_schema_output_validates(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "Invent a person."}],
        max_tokens=128,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "person", "schema": PERSON_SCHEMA, "strict": True},
        },
    )
    person = json.loads(r.choices[0].message.content)
    assert set(person) == {"name", "age"}
    assert isinstance(person["name"], str) and isinstance(person["age"], int)
    assert len(person["name"]) <= 32 and 0 <= person["age"] <= 150


def test_json_object_output(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "Reply in JSON."}],
        max_tokens=48,
        response_format={"type": "json_object"},
    )
    if r.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(r.choices[0].message.content), dict)


@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "get_weather"}}]
)
def test_forced_tool_call(openai_client, chat_model, choice):
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        tool_choice=choice,
        max_tokens=64,
    )
    calls = r.choices[0].message.tool_calls
    assert calls and calls[0].type == "function"
    assert calls[0].function.name == "get_weather"
    assert calls[0].id
    assert isinstance(json.loads(calls[0].function.arguments)["city"], str)


def test_forced_tool_call_streamed_and_answered(openai_client, chat_model):
    stream = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=64,
        stream=True,
    )
    calls = {}
    finish = None
    for chunk in stream:
        if not chunk.choices:
            continue
        for d in chunk.choices[0].delta.tool_calls or []:
            call = calls.setdefault(d.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or d.id
            call["name"] += d.function.name or ""
            call["arguments"] += d.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    call = calls[0]
    assert call["name"] == "get_weather"
    args = json.loads(call["arguments"])
    # The answer goes back as a tool message; the model answers in text.
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[
            {"role": "user", "content": "What is the weather in Oslo?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {"name": call["name"], "arguments": json.dumps(args)},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call["id"], "content": "Sunny, 21 C"},
        ],
        tools=[WEATHER_TOOL],
        tool_choice="none",
        max_tokens=24,
    )
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.tool_calls is None


def test_auto_tool_choice_is_well_formed(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        max_tokens=64,
    )
    choice = r.choices[0]
    assert choice.finish_reason in ("stop", "length", "tool_calls")
    for call in choice.message.tool_calls or []:
        assert call.function.name == "get_weather"
        json.loads(call.function.arguments)


def test_logprobs(openai_client, chat_model):
    r = openai_client.chat.completions.create(
        model=chat_model, messages=HI, max_tokens=5, logprobs=True, top_logprobs=2
    )
    content = r.choices[0].logprobs.content
    assert 0 < len(content) <= 5
    for token in content:
        assert token.logprob <= 0.0
        assert len(token.top_logprobs) <= 2


def test_legacy_completions(openai_client, chat_model):
    r = openai_client.completions.create(
        model=chat_model, prompt=["Once upon a time", "The sky is"], max_tokens=5
    )
    assert r.object == "text_completion"
    assert sorted(c.index for c in r.choices) == [0, 1]
    r = openai_client.completions.create(
        model=chat_model, prompt="Hello", max_tokens=3, echo=True, logprobs=1
    )
    assert r.choices[0].text.startswith("Hello")
    texts = [
        c.choices[0].text
        for c in openai_client.completions.create(
            model=chat_model, prompt="Hello", max_tokens=4, stream=True
        )
        if c.choices
    ]
    assert texts


def test_embeddings(openai_client, embed_model):
    r = openai_client.embeddings.create(model=embed_model, input=["hello world", "bye"])
    assert [d.index for d in r.data] == [0, 1]
    width = len(r.data[0].embedding)
    assert width > 0 and len(r.data[1].embedding) == width
    floats = openai_client.embeddings.create(
        model=embed_model, input="hello world", encoding_format="float"
    )
    assert len(floats.data[0].embedding) == width
    if width > 2:
        short = openai_client.embeddings.create(model=embed_model, input="hi", dimensions=2)
        assert len(short.data[0].embedding) == 2


def test_errors_map_to_sdk_exceptions(openai_client, chat_model):
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="no-such-model", messages=HI)
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model=chat_model, messages=HI, temperature=7)
    assert err.value.param == "temperature"
    with pytest.raises(openai.BadRequestError) as err:
        openai_client.chat.completions.create(model=chat_model, messages=HI, n=0)
    assert err.value.param == "n"
    # Still serving.
    openai_client.chat.completions.create(model=chat_model, messages=HI, max_tokens=2)
