"""The Ollama lane through the official `ollama` package."""

import json
import os

import ollama
import pytest

from conftest import IS_FAKE, PERSON_SCHEMA, WEATHER_TOOL

HI = [{"role": "user", "content": "Say hello."}]


def test_list_show_ps(ollama_client, chat_model):
    names = [m.model for m in ollama_client.list().models]
    assert chat_model in names
    show = ollama_client.show(chat_model)
    assert "completion" in show.capabilities
    info = show.modelinfo
    arch = info["general.architecture"]
    assert info[f"{arch}.context_length"] > 0
    assert info["general.basename"]
    assert show.details.format == "gguf"
    assert isinstance(ollama_client.ps().models, list)


def test_version_is_accepted_by_vscode(http):
    version = http.get("/api/version").json()["version"]
    assert tuple(int(p) for p in version.split(".")[:3]) >= (0, 6, 4)


def test_chat_non_stream(ollama_client, chat_model):
    r = ollama_client.chat(model=chat_model, messages=HI, options={"num_predict": 12})
    assert r.message.role == "assistant"
    assert r.done and r.done_reason in ("stop", "length")
    assert 0 < r.eval_count <= 12
    assert r.prompt_eval_count > 0


def test_chat_stream(ollama_client, chat_model):
    parts = list(
        ollama_client.chat(
            model=chat_model, messages=HI, stream=True, options={"num_predict": 8}
        )
    )
    assert parts[-1].done
    assert all(not p.done for p in parts[:-1])
    assert isinstance("".join(p.message.content for p in parts), str)


def test_chat_format_schema(ollama_client, chat_model):
    r = ollama_client.chat(
        model=chat_model,
        messages=[{"role": "user", "content": "Invent a person."}],
        format=PERSON_SCHEMA,
        options={"num_predict": 64, "temperature": 0},
    )
    person = json.loads(r.message.content)
    assert set(person) == {"name", "age"}


def test_chat_with_tools_is_well_formed(ollama_client, chat_model):
    r = ollama_client.chat(
        model=chat_model,
        messages=[{"role": "user", "content": "What is the weather in Oslo?"}],
        tools=[WEATHER_TOOL],
        options={"num_predict": 64},
    )
    for call in r.message.tool_calls or []:
        assert call.function.name == "get_weather"
        assert isinstance(call.function.arguments, dict)


def test_generate(ollama_client, chat_model):
    r = ollama_client.generate(model=chat_model, prompt="Hello", options={"num_predict": 6})
    assert r.done and isinstance(r.response, str)
    parts = list(
        ollama_client.generate(
            model=chat_model, prompt="Hello", raw=True, stream=True, options={"num_predict": 4}
        )
    )
    assert parts[-1].done
    r = ollama_client.generate(
        model=chat_model, prompt="Invent a person.", format="json",
        options={"num_predict": 48},
    )
    if r.done_reason == "stop":
        assert isinstance(json.loads(r.response), dict)


def test_embed(ollama_client, embed_model):
    r = ollama_client.embed(model=embed_model, input=["hello", "world"])
    assert len(r.embeddings) == 2 and len(r.embeddings[0]) > 0
    legacy = ollama_client.embeddings(model=embed_model, prompt="hello")
    assert len(legacy.embedding) == len(r.embeddings[0])


def test_errors(ollama_client, chat_model):
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.chat(model="no-such-model", messages=HI)
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.chat(model=chat_model, messages=HI, options={"top_p": 7})
    assert err.value.status_code == 400
    assert "top_p" in err.value.error


@pytest.fixture()
def model_url(tmp_path):
    """The test model served over loopback HTTP as `compat-pulled.gguf`."""
    import functools
    import http.server
    import threading

    source = os.environ.get("HEARTH_MODEL_FILE")
    if IS_FAKE or not source:
        pytest.skip("needs the real server and HEARTH_MODEL_FILE")
    (tmp_path / "compat-pulled.gguf").symlink_to(source)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/compat-pulled.gguf"
    server.shutdown()


def test_model_management(ollama_client, model_url):
    progress = list(ollama_client.pull(model_url, stream=True))
    assert progress[0].status == "pulling manifest"
    assert progress[-1].status == "success"
    assert any(p.completed and p.total for p in progress)
    names = [m.model for m in ollama_client.list().models]
    assert "compat-pulled" in names

    ollama_client.copy("compat-pulled", "compat-copy")
    ollama_client.create(
        model="compat-preset",
        from_="compat-copy",
        system="Answer in one word.",
        parameters={"temperature": 0.1, "stop": ["###"]},
    )
    show = ollama_client.show("compat-preset")
    assert "Answer in one word." in show.modelfile
    assert "temperature" in show.parameters
    reply = ollama_client.chat(model="compat-preset", messages=HI, options={"num_predict": 3})
    assert reply.message.role == "assistant"

    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.push("compat-preset")
    assert err.value.status_code == 501
    for name in ["compat-preset", "compat-copy", "compat-pulled"]:
        ollama_client.delete(name)
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.delete("compat-pulled")
    assert err.value.status_code == 404
    with pytest.raises(ollama.ResponseError) as err:
        ollama_client.pull("llama3.2")
    assert err.value.status_code == 400
