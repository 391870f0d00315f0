"""Dense candidates inside PostgreSQL: pgvector, against the SQLite store + usearch.

The server is pgserver's PostgreSQL 16 (pgvector, no contrib modules), started for the session
(conftest's `pgvector_url`); each test has a database of its own. The embedder is the shipped
MiniLM.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="the postgres extra is not installed")
pytest.importorskip("usearch", reason="the retrieval extra is not installed")
import psycopg  # noqa: E402
from helpers import HYBRID_ENTITIES, TRAINING, write_jsonl  # noqa: E402
from postgres_cluster import fresh_database  # noqa: E402

from i2cr import graph  # noqa: E402
from i2cr.cli import main  # noqa: E402
from i2cr.errors import InputError  # noqa: E402
from i2cr.kg import open_hybrid  # noqa: E402
from i2cr.kg.dense import DenseIndex  # noqa: E402
from i2cr.kg.hybrid import HybridKG  # noqa: E402
from i2cr.kg.postgres import PostgresHybridKG, PostgresKG, embed_postgres_store  # noqa: E402
from i2cr.kg.postgres import embedding as pg_embedding  # noqa: E402
from i2cr.kg.postgres import vectors as pg_vectors  # noqa: E402

# Mentions no name matches, found by their context; and plain names.
QUERIES = [
    ("POTUS", "the president of the United States spoke in Chicago"),
    ("the capital", "the capital city of the United States"),
    ("the writer", "a science fiction novel by an English author"),
    ("Washington", "the first president of the United States"),
    ("Washington", "a state in the north-west of the United States"),
    ("Barak", "the Israeli prime minister"),
    ("Obama", ""),
    ("?!", ""),
]


@pytest.fixture
def url(pgvector_url: str) -> str:
    """A fresh, empty database of the server."""
    return fresh_database(pgvector_url)


_opened: list[PostgresKG] = []


@pytest.fixture(autouse=True)
def close_stores():
    yield
    while _opened:
        _opened.pop().close()


def hybrid_store(url: str, **options) -> PostgresHybridKG:
    _opened.append(PostgresHybridKG(url, **options))
    return _opened[-1]


def build(tmp_path: Path, target: str) -> None:
    """`i2cr kg build TARGET` of the hybrid tests' entities, with alias priors."""
    entities = write_jsonl(tmp_path / "entities.jsonl", HYBRID_ENTITIES)
    mentions = write_jsonl(tmp_path / "train.jsonl", TRAINING)
    args = ["kg", "build", target, "--entities", str(entities), "--priors", str(mentions)]
    assert main(args) == 0


def both_embedded(tmp_path: Path, url: str) -> tuple[HybridKG, PostgresHybridKG]:
    sqlite = str(tmp_path / "kg.sqlite")
    for target in (sqlite, url):
        build(tmp_path, target)
        assert main(["kg", "embed", target, "--threads", "1"]) == 0
    return HybridKG(sqlite, DenseIndex(sqlite, "minilm")), hybrid_store(url, embedder="minilm")


def test_hybrid_search_fuses_the_dense_half_as_sqlite_and_usearch_do(tmp_path, url, capsys):
    sqlite, postgres = both_embedded(tmp_path, url)
    assert f"embedded {len(HYBRID_ENTITIES)} of {len(HYBRID_ENTITIES)} entities" in (
        capsys.readouterr().out
    )
    assert postgres.sources == sqlite.sources == ("alias", "fuzzy", "dense")
    assert len(postgres.dense) == len(HYBRID_ENTITIES)
    for mention, context in QUERIES:
        dense = sqlite.ranked_ids("dense", mention, context, 20)
        assert postgres.ranked_ids("dense", mention, context, 20) == dense, mention
        assert postgres.search(mention, 5, context) == sqlite.search(mention, 5, context)
    found = postgres.search("POTUS", 1, "the 44th president, in office from 2009 to 2017")
    assert found[0]["qid"] == "Q76"
    assert "Q76" not in {c["qid"] for c in hybrid_store(url).search("POTUS", 1)}


def test_the_cli_and_the_graph_take_dense_candidates_from_postgres(
    scripted, scores, tmp_path, url, capsys
):
    build(tmp_path, url)
    assert main(["kg", "embed", url]) == 0
    capsys.readouterr()
    said = "the 44th president, in office from 2009 to 2017"
    search = ["kg", "search", url, "POTUS", "--set", "k=1", "--set", "kg_retrieval=hybrid"]
    assert main([*search, "--context", said]) == 0
    assert capsys.readouterr().out.startswith(" 1. Barack Obama (Q76)")
    scores(icr={"": 0.9}, iav={"": 0.9})
    model, context = scripted("<|ANSWER|>: Barack Obama", kg=url, kg_retrieval="hybrid", k=3)
    out = graph.invoke({"mention": "POTUS", "context": said}, context=context)
    assert "1. Barack Obama" in model.prompts[0]
    assert out["result"]["qid"] == "Q76"


def test_a_killed_embedding_run_continues_after_its_last_chunk(tmp_path, url, monkeypatch):
    build(tmp_path, url)
    monkeypatch.setattr(pg_embedding, "EMBED_CHUNK", 3)
    calls = []

    def die_after_two_chunks(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        embed_postgres_store(url, "minilm", progress=die_after_two_chunks)
    with pytest.raises(InputError, match="dense index of .* is unfinished: run `i2cr kg embed"):
        open_hybrid(url, "minilm")
    summary = embed_postgres_store(url, "minilm")
    total = len(HYBRID_ENTITIES)
    assert (summary.resumed_from, summary.embedded, summary.total) == (6, total - 6, total)
    assert len(hybrid_store(url, embedder="minilm").dense) == total
    again = embed_postgres_store(url, "minilm")
    assert (again.embedded, again.resumed_from) == (0, total)


def test_a_query_embedder_other_than_the_vectors_is_refused(tmp_path, url):
    build(tmp_path, url)
    embed_postgres_store(url, "minilm", limit=4)
    assert len(hybrid_store(url, embedder="minilm").dense) == 4
    with pytest.raises(InputError, match="built with embedder 'minilm'.*i2cr kg embed"):
        PostgresHybridKG(url, embedder="sentence-transformers/all-mpnet-base-v2")


def test_a_rebuild_drops_the_vectors_of_the_old_entities(tmp_path, url):
    build(tmp_path, url)
    embed_postgres_store(url, "minilm")
    build(tmp_path, url)
    rebuilt = hybrid_store(url, embedder="minilm")
    assert rebuilt.dense is None and rebuilt.sources == ("alias", "fuzzy")
    assert embed_postgres_store(url, "minilm").resumed_from == 0


def test_above_the_exact_search_size_the_hnsw_index_answers(tmp_path, url, monkeypatch):
    build(tmp_path, url)
    embed_postgres_store(url, "minilm")
    exact = hybrid_store(url, embedder="minilm")
    monkeypatch.setattr(pg_vectors, "EXACT_BELOW", 1)
    approximate = hybrid_store(url, embedder="minilm")
    assert (exact.dense.exact, approximate.dense.exact) == (True, False)
    for mention, context in QUERIES:
        # Eight entities: the graph search reaches every one.
        expected = exact.ranked_ids("dense", mention, context, 20)
        assert approximate.ranked_ids("dense", mention, context, 20) == expected
    with psycopg.connect(url) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT entity FROM i2cr_kg.dense ORDER BY embedding <=> "
            "(SELECT embedding FROM i2cr_kg.dense LIMIT 1) LIMIT 5"
        ).fetchall()
    assert "Index Scan using dense_hnsw" in "\n".join(line for (line,) in plan)


def test_a_server_without_pg_trgm_builds_and_serves_the_postings_index(tmp_path, url, capsys):
    build(tmp_path, url)
    err = capsys.readouterr().err
    assert "cannot create the pg_trgm extension" in err and "built without its pg_trgm index" in err
    assert hybrid_store(url).search("Barak Obma", 1)[0]["qid"] == "Q801"
    with pytest.raises(InputError, match="has no pg_trgm index.*candidates='postings'"):
        PostgresKG(url, candidates="pg_trgm")


def test_a_user_who_may_not_create_pgvector_is_told_what_to_run(tmp_path, url, capsys):
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS kg_owner")
        conn.execute("CREATE ROLE kg_owner LOGIN")
        conn.execute(f"GRANT CREATE ON DATABASE {conn.info.dbname} TO kg_owner")
    owner = url.replace("postgresql://postgres:@", "postgresql://kg_owner:@")
    build(tmp_path, owner)
    capsys.readouterr()
    assert main(["kg", "embed", owner]) == 2
    err = capsys.readouterr().err
    assert "has no pgvector extension and this user may not create it" in err
    assert "run `CREATE EXTENSION vector;` in it as its owner or a superuser" in err
    assert hybrid_store(owner, embedder="minilm").search("Barak Obma", 1)[0]["qid"] == "Q801"
