"""Protocol details checked with raw HTTP: framing, error shapes, limits,
disconnects."""

import json
import time

import httpx
import pytest


def test_openai_sse_framing(http, chat_model):
    body = {
        "model": chat_model,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
        "stream": True,
    }
    with http.stream("POST", "/v1/chat/completions", json=body) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in r.iter_lines() if line]
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"


def test_ollama_streams_ndjson_by_default(http, chat_model):
    body = {
        "model": chat_model,
        "messages": [{"role": "user", "content": "hi"}],
        "options": {"num_predict": 4},
    }
    with http.stream("POST", "/api/chat", json=body) as r:
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line]
    assert lines[-1]["done"] is True


@pytest.mark.parametrize(
    "path,check",
    [
        ("/v1/chat/completions", lambda e: e["error"]["type"] == "invalid_request_error"),
        ("/api/chat", lambda e: isinstance(e["error"], str)),
        ("/v1/messages", lambda e: e["type"] == "error"),
    ],
)
def test_errors_in_each_lane_shape(http, path, check):
    r = http.post(path, content=b'{"model": ', headers={"content-type": "application/json"})
    assert r.status_code == 400 and check(r.json())
    r = http.post(path, json={"model": "no-such-model", "max_tokens": 4,
                              "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404 and check(r.json())
    r = http.post(path, json={"max_tokens": 4, "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 400 and check(r.json()) and "model" in r.text


def test_missing_field_is_named(http):
    r = http.post("/v1/chat/completions", json={"messages": []})
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "model"


def test_huge_body_is_refused_and_server_survives(base_url, http, chat_model):
    payload = b'{"model": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    try:
        with httpx.Client(timeout=60) as c:
            r = c.post(f"{base_url}/v1/chat/completions", content=payload,
                       headers={"content-type": "application/json"})
        assert r.status_code == 413
    except httpx.TransportError:
        pass  # the server may close the connection before reading the body
    assert http.get("/v1/models").status_code == 200


def test_disconnect_mid_stream_frees_the_sequence(http, chat_model):
    body = {
        "model": chat_model,
        "messages": [{"role": "user", "content": "Write a very long story."}],
        "max_tokens": 2000,
        "stream": True,
    }
    for _ in range(3):
        with http.stream("POST", "/v1/chat/completions", json=body) as r:
            next(r.iter_lines())
        # Leaving the block closes the connection mid-stream.
    start = time.monotonic()
    r = http.post("/v1/chat/completions", json={**body, "max_tokens": 2, "stream": False})
    assert r.status_code == 200
    assert time.monotonic() - start < 30, "the next request was admitted at once"
