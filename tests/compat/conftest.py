"""Fixtures of the black-box compatibility suite.

The server under test is `HEARTH_URL`. The suite works with any chat model that
has a chat template (the reference is SmolLM2-135M-Instruct: small and weak), so
tests assert structure — shapes, counts, finish reasons, JSON validity under
constrained decoding — never the content of free text.
"""

import os

import httpx
import pytest

URL = os.environ.get("HEARTH_URL", "").rstrip("/")
API_KEY = os.environ.get("HEARTH_API_KEY", "hearth-compat")
IS_FAKE = os.environ.get("HEARTH_COMPAT_FAKE") == "1"


def pytest_configure(config):
    if not URL:
        raise pytest.UsageError("set HEARTH_URL to the server under test")


@pytest.fixture(scope="session")
def base_url() -> str:
    return URL


@pytest.fixture(scope="session")
def http() -> httpx.Client:
    with httpx.Client(
        base_url=URL, timeout=120, headers={"authorization": f"Bearer {API_KEY}"}
    ) as client:
        yield client


def _models_with(http: httpx.Client, capability: str) -> list[str]:
    names = [m["name"] for m in http.get("/api/tags").json()["models"]]
    found = []
    for name in names:
        show = http.post("/api/show", json={"model": name}).json()
        if capability in show.get("capabilities", []):
            found.append(name)
    return found


@pytest.fixture(scope="session")
def chat_model(http) -> str:
    if os.environ.get("HEARTH_CHAT_MODEL"):
        return os.environ["HEARTH_CHAT_MODEL"]
    models = _models_with(http, "completion")
    if not models:
        pytest.fail("the server lists no chat model (set HEARTH_CHAT_MODEL)")
    return models[0]


@pytest.fixture(scope="session")
def embed_model(http) -> str:
    if os.environ.get("HEARTH_EMBED_MODEL"):
        return os.environ["HEARTH_EMBED_MODEL"]
    models = _models_with(http, "embedding")
    if not models:
        pytest.skip("the server lists no embedding model (set HEARTH_EMBED_MODEL)")
    return models[0]


@pytest.fixture(scope="session")
def openai_client():
    import openai

    return openai.OpenAI(base_url=f"{URL}/v1", api_key=API_KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def ollama_client():
    import ollama

    return ollama.Client(host=URL, headers={"authorization": f"Bearer {API_KEY}"}, timeout=120)


@pytest.fixture(scope="session")
def anthropic_client():
    import anthropic

    return anthropic.Anthropic(base_url=URL, api_key=API_KEY, max_retries=0, timeout=120)


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            # Bounded like PERSON_SCHEMA below: a forced call is constrained to
            # this schema, and an unbounded string sampled by a 135M model can
            # run past max_tokens, leaving the call cut off.
            "properties": {"city": {"type": "string", "maxLength": 24}},
            "required": ["city"],
        },
    },
}

PERSON_SCHEMA = {
    "type": "object",
    # Bounded, so that the constrained answer always fits the token budget
    # (the grammar enforces the bounds; an unbounded string from a 135M model
    # can run past max_tokens and end cut off).
    "properties": {
        "name": {"type": "string", "maxLength": 32},
        "age": {"type": "integer", "minimum": 0, "maximum": 150},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}
