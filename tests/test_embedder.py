import json

import numpy as np

from i2cr.models import embedder
from i2cr.models.embedder import cosine, embed, load_embedder, resolve_embedder
from i2cr.models.text_encoders import MeanPoolingEncoder, is_mean_pooling_folder


def test_texts_embedded_before_are_not_encoded_again(monkeypatch):
    model = load_embedder("minilm")
    encoded: list[list[str]] = []
    original = model.encode

    def counting(texts, **kwargs):
        encoded.append(list(texts))
        return original(texts, **kwargs)

    monkeypatch.setattr(model, "encode", counting)
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    first = embed("minilm", ["Ruth Rendell, English author", "Ed Rendell, politician"])
    again = embed(
        "minilm", ["Ed Rendell, politician", "a jazz saxophonist", "Ed Rendell, politician"]
    )
    assert encoded == [
        ["Ruth Rendell, English author", "Ed Rendell, politician"],
        ["a jazz saxophonist"],
    ]
    assert np.allclose(again[0], first[1]) and np.allclose(again[2], first[1])
    assert np.allclose(np.linalg.norm(again, axis=1), 1.0, atol=1e-5)


def test_the_cache_keeps_only_the_most_recent_texts(monkeypatch):
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    monkeypatch.setattr(embedder, "EMBEDDING_CACHE_SIZE", 2)
    scores = cosine("minilm", "the governor", ["a politician", "an author"])
    assert len(embedder._embeddings) == 2
    assert cosine("minilm", "the governor", ["a politician", "an author"]) == scores
    assert scores[0] > scores[1]


def test_minilm_runs_on_transformers_alone_with_sentence_transformers_embeddings():
    from sentence_transformers import SentenceTransformer

    texts = ["Ed Rendell, American politician", "a jazz saxophonist", "the governor"]
    assert isinstance(load_embedder("minilm", "float32"), MeanPoolingEncoder)
    reference = SentenceTransformer(resolve_embedder("minilm"), device="cpu")
    expected = reference.encode(texts, normalize_embeddings=True)
    assert np.allclose(embed("minilm", texts, precision="float32"), expected, atol=1e-5)


def test_other_pooling_goes_through_sentence_transformers(tmp_path):
    modules = [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {
            "idx": 1,
            "name": "1",
            "path": "1_Pooling",
            "type": "sentence_transformers.models.Pooling",
        },
    ]
    (tmp_path / "modules.json").write_text(json.dumps(modules))
    (tmp_path / "1_Pooling").mkdir()
    pooling = {"pooling_mode_mean_tokens": True}
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert is_mean_pooling_folder(tmp_path)
    pooling["pooling_mode_cls_token"] = True
    (tmp_path / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    assert not is_mean_pooling_folder(tmp_path)
    assert not is_mean_pooling_folder(tmp_path / "1_Pooling")


def test_threads_encode_at_the_same_time(monkeypatch):
    """Encoding runs outside the cache's lock, so worker threads' encodings overlap."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    import torch

    running, most = [0], [0]
    lock = threading.Lock()

    class SlowEncoder:
        def encode(self, texts):
            with lock:
                running[0] += 1
                most[0] = max(most[0], running[0])
            time.sleep(0.3)
            with lock:
                running[0] -= 1
            return torch.ones(len(texts), 4)

    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    monkeypatch.setattr(embedder, "_load_embedder", lambda spec, precision: SlowEncoder())
    started = time.perf_counter()
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: embed("slow", [f"text {i}"]), range(4)))
    assert most[0] == 4
    assert time.perf_counter() - started < 4 * 0.3


def test_threads_get_the_vectors_one_thread_gets(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"mention {i}: Rendell announced the budget of year {1990 + i}" for i in range(24)]
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    alone = np.stack([embed("minilm", [text])[0] for text in texts])
    monkeypatch.setattr(embedder, "_embeddings", embedder.OrderedDict())
    with ThreadPoolExecutor(8) as pool:
        together = np.stack(list(pool.map(lambda text: embed("minilm", [text])[0], texts)))
    assert np.array_equal(together, alone)
