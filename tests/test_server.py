"""`langgraph dev` serves the graph offline with no API key (a real HTTP round trip)."""

from __future__ import annotations

import time

import httpx
import pytest
from langgraph_dev import langgraph_dev
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def image_root(tmp_path_factory):
    """The server's image folder (one image) next to a file a client must not reach."""
    base = tmp_path_factory.mktemp("served")
    root = base / "images"
    root.mkdir()
    Image.new("RGB", (8, 8), "red").save(root / "inside.png")
    Image.new("RGB", (8, 8), "blue").save(base / "secret.png")
    return root


@pytest.fixture(scope="module")
def server(image_root):
    with langgraph_dev(I2CR_IMAGE_ROOT=str(image_root)) as base:
        yield base


def test_ok_endpoint(server):
    assert httpx.get(f"{server}/ok", timeout=5).json()["ok"] is True


CANDIDATES = [
    {"name": "Ed Rendell", "desc": "American politician, governor of Pennsylvania.", "qid": "Q2"},
    {"name": "Ruth Rendell", "desc": "English author of crime novels.", "qid": "Q1"},
]
TEXT_ONLY = {"use_iav": False, "use_vif": False}


def run(server, input_fields, context, timeout=300):
    """POST one run and wait; the reply's JSON (a result, or LangGraph's `__error__`)."""
    body = {
        "assistant_id": "i2cr",
        "input": {"mention": "Ed Rendell", "candidates": CANDIDATES, **input_fields},
        "context": context,
    }
    reply = httpx.post(f"{server}/runs/wait", json=body, timeout=timeout)
    assert reply.status_code == 200, reply.text
    return reply.json()


def test_run_through_http_api_links_an_entity(server):
    body = {
        "assistant_id": "i2cr",
        "input": {
            "mention": "Ed Rendell",
            "context": "Governor Ed Rendell announced the state budget.",
            "candidates": [
                {
                    "name": "Ed Rendell",
                    "desc": "American politician, governor of Pennsylvania.",
                    "qid": "Q2",
                },
                {"name": "Ruth Rendell", "desc": "English author of crime novels.", "qid": "Q1"},
            ],
        },
        # The selector on every mention: the whole path, not the first stage alone.
        "context": {"use_iav": False, "use_vif": False, "selector_below": 1},
    }
    reply = httpx.post(f"{server}/runs/wait", json=body, timeout=300)
    assert reply.status_code == 200, reply.text
    result = reply.json()["result"]
    assert result["entity"] in {"Ed Rendell", "Ruth Rendell"}
    assert result["qid"] in {"Q1", "Q2"}
    assert result["selector_calls"] >= 1


@pytest.mark.parametrize(
    "attack",
    [
        {"kg": "/etc/passwd"},
        {"allow_image_urls": True},
        {"clue_cache_dir": "/tmp/written-by-a-client"},
        {"image_root": "/"},
        {"selector_base_url": "http://127.0.0.1:9"},
        {"selector": "local:/etc"},
    ],
)
def test_client_cannot_change_server_settings(server, attack):
    body = {
        "assistant_id": "i2cr",
        "input": {"mention": "Ed Rendell", "candidates": CANDIDATES},
        "context": {**TEXT_ONLY, **attack},
    }
    reply = httpx.post(f"{server}/runs/wait", json=body, timeout=60)
    [name] = attack
    assert reply.status_code == 403
    assert f"a run's context cannot set {name}" in reply.json()["detail"]
    assert f"I2CR_{name.upper()}" in reply.json()["detail"]


def test_run_settings_given_as_text_are_converted(server):
    out = run(server, {}, {**TEXT_ONLY, "use_icr": "false"})
    assert out["result"]["entity"] in {"Ed Rendell", "Ruth Rendell"}
    assert all(a["icr_score"] is None for a in out["attempts"])


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"ranker": "foo"},
            "ranker='foo' must be one of ['none', 'embedder', 'dim', 'cross_encoder', 'combined']",
        ),
        ({"alpha": "abc"}, "alpha='abc' is not a number"),
        ({"use_icr": "perhaps"}, "use_icr='perhaps' is not a boolean (true or false)"),
    ],
)
def test_bad_run_settings_are_refused(server, context, message):
    error = run(server, {}, context)["__error__"]
    assert error == {"error": "SettingError", "message": message}


@pytest.mark.parametrize("endpoint", ["/runs/wait", "/runs/stream", "/runs"])
def test_unknown_context_settings_are_refused_by_name(server, endpoint):
    body = {
        "assistant_id": "i2cr",
        "input": {"mention": "Ed Rendell", "candidates": CANDIDATES},
        "context": {**TEXT_ONLY, "alpah": 0.3},
    }
    if endpoint == "/runs":  # a background run lives on a thread
        thread = httpx.post(f"{server}/threads", json={}, timeout=30).json()["thread_id"]
        endpoint = f"/threads/{thread}/runs"
    reply = httpx.post(f"{server}{endpoint}", json=body, timeout=60)
    assert reply.status_code == 422
    assert "unknown context settings ['alpah']; the settings are:" in reply.json()["detail"]


@pytest.mark.parametrize(
    "path", ["/etc/passwd", "../secret.png", "../../../../etc/passwd", "../no-such-file.png"]
)
def test_image_paths_outside_the_server_folder_are_refused_alike(server, path):
    out = run(server, {"image": path}, TEXT_ONLY)
    assert out["result"]["entity"] in {"Ed Rendell", "Ruth Rendell"}
    assert out["warnings"] == [
        f"image path outside the allowed image folder: {path}; visual steps use only the "
        "clues given with the input"
    ]


def test_image_inside_the_server_folder_is_read(server):
    out = run(server, {"image": "inside.png"}, TEXT_ONLY)
    assert out["warnings"] == []


def test_input_without_a_mention_is_an_input_error(server):
    body = {"assistant_id": "i2cr", "input": {"candidates": CANDIDATES}, "context": TEXT_ONLY}
    reply = httpx.post(f"{server}/runs/wait", json=body, timeout=300)
    assert reply.json()["__error__"]["error"] == "InputError"


def test_a_one_megabyte_context_costs_a_normal_run_and_blocks_nothing(server):
    context = "Governor Ed Rendell announced the state budget. "
    started = time.perf_counter()
    normal = run(server, {"context": context}, {})
    normal_s = time.perf_counter() - started
    started = time.perf_counter()
    huge = run(server, {"context": context + "x" * 1_000_000}, {})
    huge_s = time.perf_counter() - started
    assert huge["result"]["entity"] == normal["result"]["entity"]
    assert "context cut from 1000048 to 2000 characters (max_context_chars)" in huge["warnings"]
    assert huge_s < max(3 * normal_s, 10), (normal_s, huge_s)
    started = time.perf_counter()
    run(server, {"context": context}, {})
    assert time.perf_counter() - started < max(3 * normal_s, 10)


BIG_MENTION = "Rendell " * 3000  # 24 kB


def test_run_commands_and_state_writes_are_refused_at_the_door(server):
    command = {"update": {"mention": BIG_MENTION, "candidates": CANDIDATES}, "goto": "select"}
    reply = httpx.post(
        f"{server}/runs/wait", json={"assistant_id": "i2cr", "command": command}, timeout=60
    )
    assert reply.status_code == 403
    assert "I2CR_CLIENT_COMMANDS=false" in reply.json()["detail"]
    thread = httpx.post(f"{server}/threads", json={}, timeout=30).json()["thread_id"]
    write = {"values": {"mention": BIG_MENTION, "image_ok": True}, "as_node": "retrieve"}
    reply = httpx.post(f"{server}/threads/{thread}/state", json=write, timeout=30)
    assert reply.status_code == 403
    assert "I2CR_CLIENT_STATE_WRITES=false" in reply.json()["detail"]
    superstep = {"supersteps": [{"updates": [write]}]}
    assert httpx.post(f"{server}/threads", json=superstep, timeout=30).status_code == 403


def test_unknown_settings_are_refused_on_assistants_and_configurable(server):
    reply = httpx.post(
        f"{server}/assistants", json={"graph_id": "i2cr", "context": {"bogus": 1}}, timeout=30
    )
    assert reply.status_code == 422 and "['bogus']" in reply.json()["detail"]
    assistant = httpx.post(
        f"{server}/assistants", json={"graph_id": "i2cr", "context": {"alpha": 0.4}}, timeout=30
    )
    assert assistant.status_code == 200, assistant.text
    path = f"{server}/assistants/{assistant.json()['assistant_id']}"
    reply = httpx.patch(path, json={"context": {"alpha": 0.4, "bogus": 1}}, timeout=30)
    assert reply.status_code == 422 and "['bogus']" in reply.json()["detail"]
    body = {
        "assistant_id": "i2cr",
        "input": {"mention": "Ed Rendell", "candidates": CANDIDATES},
        "config": {"configurable": {"bogus": 1}},
    }
    reply = httpx.post(f"{server}/runs/wait", json=body, timeout=60)
    assert reply.status_code == 422 and "['bogus']" in reply.json()["detail"]
