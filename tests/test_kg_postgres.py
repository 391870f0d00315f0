"""The KG store on PostgreSQL: same top-k as the SQLite store, rebuilds, errors, CLI, hybrid.

A throwaway cluster starts for this module (tests/postgres_cluster.py). Without PostgreSQL the
tests skip, except in CI (CI=true), where a missing server is a failure.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="the postgres extra is not installed")
import psycopg  # noqa: E402
from helpers import HYBRID_ENTITIES, TRAINING, synthetic_entities, write_jsonl  # noqa: E402
from helpers import KG_ENTITIES as ENTITIES  # noqa: E402
from postgres_cluster import missing_reason, throwaway_cluster  # noqa: E402

from i2cr import graph  # noqa: E402
from i2cr.cli import main  # noqa: E402
from i2cr.errors import InputError  # noqa: E402
from i2cr.kg import SqliteKG, build_store, iter_entities, open_hybrid, open_kg  # noqa: E402
from i2cr.kg.enrich import enrich_store  # noqa: E402
from i2cr.kg.hybrid import HybridKG  # noqa: E402
from i2cr.kg.postgres import PostgresHybridKG, PostgresKG, build_postgres_store  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
_databases = itertools.count()


@pytest.fixture(scope="module")
def server() -> str:
    reason = missing_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}")
        pytest.skip(reason)
    with throwaway_cluster() as url:
        yield url


def database_url(server: str, name: str) -> str:
    return server.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def url(server: str) -> str:
    """A fresh, empty database of the cluster."""
    name = f"kg_{os.getpid()}_{next(_databases)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return database_url(server, name)


_opened: list[PostgresKG] = []


def store(url: str, **options) -> PostgresKG:
    """A store closed after the test (its pool's threads are stopped, not left to the GC)."""
    _opened.append(PostgresKG(url, **options))
    return _opened[-1]


def hybrid_store(url: str) -> PostgresHybridKG:
    """A hybrid store closed after the test."""
    _opened.append(PostgresHybridKG(url))
    return _opened[-1]


@pytest.fixture(autouse=True)
def close_stores():
    yield
    while _opened:
        _opened.pop().close()


def entity_rows(path: Path):
    return ((f"{path}:{n}", e) for n, e in iter_entities(path))


def build_both(tmp_path: Path, url: str, rows) -> tuple[SqliteKG, PostgresKG]:
    source = write_jsonl(tmp_path / "entities.jsonl", rows)
    build_store(entity_rows(source), tmp_path / "kg.sqlite")
    build_postgres_store(entity_rows(source), url)
    return SqliteKG(tmp_path / "kg.sqlite"), store(url)


def test_postgres_and_sqlite_return_the_same_top_k(tmp_path, url):
    rows = ENTITIES + [{**r, "qid": f"S{r['qid']}"} for r in synthetic_entities(3000)]
    sqlite, postgres = build_both(tmp_path, url, rows)
    rng = random.Random(3)
    queries = ["Barak Obma", "Washington", "Barbara Vine", "Ais people", "Rendell", "Obama"]
    for row in rng.sample(rows, 40):
        name = row["name"]
        cut = rng.randrange(len(name))
        queries += [name, name[:cut] + name[cut + 1 :], name.split()[-1][:5]]
    for query in queries:
        assert postgres.search(query, 10) == sqlite.search(query, 10), query
    trigram_index = store(url, candidates="pg_trgm")
    same_top1 = sum(trigram_index.search(q, 1) == sqlite.search(q, 1) for q in queries)
    assert same_top1 >= 0.95 * len(queries)
    assert postgres.search("Barak Obma", 1)[0]["qid"] == "Q76"
    assert postgres.search("?!", 5) == []
    assert len(postgres) == len(rows)


def test_a_build_that_spills_its_index_stores_the_sqlite_posting_lists(tmp_path, url, monkeypatch):
    rows = ENTITIES + [{**r, "qid": f"S{r['qid']}"} for r in synthetic_entities(300)]
    source = write_jsonl(tmp_path / "entities.jsonl", rows)
    build_store(entity_rows(source), tmp_path / "kg.sqlite")
    monkeypatch.setattr("i2cr.kg.trigram_index.SPILL_PAIRS", 100)
    build_postgres_store(entity_rows(source), url)
    with sqlite3.connect(tmp_path / "kg.sqlite") as db:
        in_memory = dict(db.execute("SELECT gram, postings FROM grams"))
    with psycopg.connect(url) as conn:
        spilled = {g: bytes(p) for g, p in conn.execute("SELECT gram, postings FROM i2cr_kg.grams")}
    assert spilled == in_memory
    assert store(url).search("Barak Obma", 1)[0]["qid"] == "Q76"


@pytest.mark.skipif(not (DATA / "wikimel").is_dir(), reason="../shared/data is absent")
def test_on_the_wikimel_dev_kg_the_stores_agree_on_the_top_10(tmp_path, url):
    from i2cr.datasets import load_dataset
    from i2cr.kg.entities import entities_from_samples

    samples = load_dataset(DATA / "wikimel" / "wikimel_dev.json")
    entities = [(e.qid, e) for e in entities_from_samples(samples)]
    build_store(entities, tmp_path / "kg.sqlite")
    build_postgres_store(entities, url)
    sqlite, postgres = SqliteKG(tmp_path / "kg.sqlite"), store(url)
    mentions = [s.mention for s in samples[:150]]
    same = sum(postgres.search(m, 10) == sqlite.search(m, 10) for m in mentions)
    assert same >= 0.98 * len(mentions)


def test_threads_share_the_connection_pool(tmp_path, url):
    _, postgres = build_both(tmp_path, url, synthetic_entities(500))
    queries = [r["name"] for r in synthetic_entities(500)[:64]]
    alone = [postgres.search(q, 5) for q in queries]
    with ThreadPoolExecutor(max_workers=16) as threads:
        together = list(threads.map(lambda q: postgres.search(q, 5), queries))
    assert together == alone


def test_a_rebuild_replaces_the_entities_and_keeps_the_enrichments(scripted, tmp_path, url):
    long = "Ruth Rendell was an English author of thrillers and murder mysteries. " * 5
    rows = [
        {"qid": "Q1", "name": "Ruth Rendell", "description": long},
        {"qid": "Q2", "name": "Ed Rendell", "description": "American politician."},
    ]
    source = write_jsonl(tmp_path / "entities.jsonl", rows)
    build_postgres_store(entity_rows(source), url)
    model, _ = scripted("English crime novelist.")
    assert enrich_store(url, model, max_chars=120).written == 1
    rows.append({"qid": "Q3", "name": "Don Rendell"})
    write_jsonl(source, rows)
    for _ in range(2):
        summary = build_postgres_store(entity_rows(source), url)
    assert (summary.entities, summary.labels) == (3, 3)
    found = {c["qid"]: c["desc"] for c in store(url).search("Rendell", 5)}
    assert found == {"Q1": "English crime novelist.", "Q2": "American politician.", "Q3": ""}
    again = enrich_store(url, model, max_chars=120, briefs=False)
    assert (again.written, again.cached) == (0, 1)


def test_a_failed_rebuild_leaves_the_old_store(tmp_path, url):
    source = write_jsonl(tmp_path / "entities.jsonl", ENTITIES)
    build_postgres_store(entity_rows(source), url)
    bad = write_jsonl(tmp_path / "bad.jsonl", [*ENTITIES, ENTITIES[0]])
    with pytest.raises(InputError, match=r"bad.jsonl:8: duplicate qid 'Q76'"):
        build_postgres_store(entity_rows(bad), url)
    kept = store(url)
    assert kept.search("Barack Obama", 1)[0]["qid"] == "Q76"
    assert len(kept) == len(ENTITIES)


def test_the_cli_builds_and_searches_by_url(tmp_path, url, capsys):
    source = write_jsonl(tmp_path / "entities.jsonl", ENTITIES)
    assert main(["kg", "build", url, "--entities", str(source)]) == 0
    assert f"{len(ENTITIES)} entities" in capsys.readouterr().out
    assert main(["kg", "search", url, "Barak Obma", "--set", "k=2", "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found[0] == {"name": "Barack Obama", "desc": "44th president of the USA", "qid": "Q76"}


def test_the_graph_retrieves_candidates_from_postgres(scripted, tmp_path, url):
    source = write_jsonl(tmp_path / "entities.jsonl", ENTITIES)
    build_postgres_store(entity_rows(source), url)
    _, context = scripted("<|ANSWER|>: Ed Rendell", kg=url, k=2, use_icr=False, use_iav=False)
    out = graph.invoke({"mention": "Ed Rendel"}, context=context)
    assert out["result"]["qid"] == "Q2"
    assert isinstance(open_kg(url), PostgresKG)


def closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def error_line(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    (line,) = [part for part in err.replace("\r", "\n").splitlines() if "error:" in part]
    return line


def test_a_bad_database_url_is_one_clear_line(server, capsys):
    unreachable = f"postgresql://someone:secret@127.0.0.1:{closed_port()}/kg"
    line = error_line(capsys, "kg", "search", unreachable, "Obama")
    assert "cannot connect to the KG database" in line and "Connection refused" in line
    assert "secret" not in line
    line = error_line(capsys, "kg", "search", database_url(server, "nowhere"), "Obama")
    assert 'database "nowhere" does not exist' in line
    line = error_line(capsys, "kg", "search", database_url(server, "postgres"), "Obama")
    assert "no KG store in the database" in line and "i2cr kg build" in line


def test_a_user_who_may_not_create_in_the_database_is_told_to_get_the_grant(
    tmp_path, server, url, capsys
):
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute("DROP ROLE IF EXISTS plain_user")
        conn.execute("CREATE ROLE plain_user LOGIN")
    plain = url.replace("postgresql://postgres@", "postgresql://plain_user@")
    source = write_jsonl(tmp_path / "entities.jsonl", ENTITIES)
    line = error_line(capsys, "kg", "build", plain, "--entities", str(source))
    assert "this user may not create a schema in the KG database" in line
    assert "grant it CREATE on the database" in line
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"GRANT CREATE ON DATABASE {url.rsplit('/', 1)[1]} TO plain_user")
    # pg_trgm is a trusted extension: the grant lets the user create it too.
    assert main(["kg", "build", plain, "--entities", str(source)]) == 0
    assert "pg_trgm" not in capsys.readouterr().err
    trigram_index = store(plain, candidates="pg_trgm")
    assert trigram_index.search("Barack Obama", 1)[0]["qid"] == "Q76"


def test_linking_against_an_unreachable_kg_fails_before_any_row(tmp_path, capsys):
    rows = write_jsonl(tmp_path / "in.jsonl", [{"id": "m1", "mention": "Obama"}])
    out = tmp_path / "out.jsonl"
    unreachable = f"postgresql://postgres@127.0.0.1:{closed_port()}/kg"
    line = error_line(
        capsys, "link", "--input", str(rows), "--output", str(out), "--set", f"kg={unreachable}"
    )
    assert "cannot connect to the KG database" in line
    assert not out.exists()


def test_a_wikidata_dump_builds_into_postgres_staged_in_the_current_folder(
    tmp_path, url, capsys, monkeypatch
):
    from helpers import dump_text, write_dump

    dump = write_dump(tmp_path / "dump.json.gz", dump_text())
    monkeypatch.chdir(tmp_path)
    assert main(["kg", "build", url, "--wikidata", str(dump)]) == 0
    assert "3 items with a label in en staged" in capsys.readouterr().err
    assert store(url).search("Douglas Noel Adams", 1)[0]["qid"] == "Q42"
    assert not list(tmp_path.glob("*.wikidata.import"))


def hybrid_rows(distractors: int = 0, seed: int = 5) -> list[dict]:
    """The hybrid tests' entities, then distractors sharing first names as aliases."""
    rng = random.Random(seed)
    extra = [
        {
            **row,
            "qid": f"S{row['qid']}",
            "aliases": [row["name"].split()[0]],
            "popularity": rng.randint(0, 50),
        }
        for row in synthetic_entities(distractors, seed=seed)
    ]
    return HYBRID_ENTITIES + extra


def build_with_priors(tmp_path: Path, target: str, rows, training=TRAINING) -> None:
    """`i2cr kg build TARGET` with alias priors from the training mentions."""
    entities = write_jsonl(tmp_path / "hybrid.jsonl", rows)
    mentions = write_jsonl(tmp_path / "train.jsonl", training)
    args = ["kg", "build", target, "--entities", str(entities), "--priors", str(mentions)]
    assert main(args) == 0


def prior_tables_of_sqlite(path: Path) -> dict[str, list[tuple]]:
    with sqlite3.connect(path) as db:
        return prior_tables(db.execute)


def prior_tables_of_postgres(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        conn.execute("SET search_path = i2cr_kg")
        return prior_tables(conn.execute)


def prior_tables(execute) -> dict[str, list[tuple]]:
    """Every row of the prior tables, sorted, and the max_popularity meta value."""
    tables = {
        table: sorted(execute(f"SELECT {columns} FROM {table}").fetchall())
        for table, columns in PRIOR_COLUMNS.items()
    }
    (value,) = execute("SELECT value FROM meta WHERE key = 'max_popularity'").fetchone()
    tables["max_popularity"] = [int(bytes(value) if isinstance(value, memoryview) else value)]
    return tables


PRIOR_COLUMNS = {
    "alias_priors": "alias, entity, prior, mentions",
    "mention_counts": "alias, qid, count",
    "popularity": "entity, count",
}


def test_hybrid_search_on_postgres_ranks_as_on_sqlite(tmp_path, url):
    rows = hybrid_rows(distractors=400)
    build_with_priors(tmp_path, str(tmp_path / "kg.sqlite"), rows)
    build_with_priors(tmp_path, url, rows)
    sqlite, postgres = HybridKG(tmp_path / "kg.sqlite"), hybrid_store(url)
    assert prior_tables_of_postgres(url) == prior_tables_of_sqlite(tmp_path / "kg.sqlite")
    assert sqlite.popularity_scale == postgres.popularity_scale > 0
    assert sqlite.sources == postgres.sources == ("alias", "fuzzy")
    rng = random.Random(7)
    mentions = ["Barak Obma", "Obama", "Washington", "the Prez", "Barak", "Anna", "?!"]
    for row in rng.sample(rows, 30):
        cut = rng.randrange(len(row["name"]))
        mentions += [row["name"][:cut] + row["name"][cut + 1 :], row["name"].split()[0]]
    for mention in mentions:
        for source in ("alias", "fuzzy"):
            expected = sqlite.ranked_ids(source, mention, "", 20)
            assert postgres.ranked_ids(source, mention, "", 20) == expected, (source, mention)
        assert postgres.search(mention, 10) == sqlite.search(mention, 10), mention


def test_a_postgres_rebuild_keeps_the_priors_consistent(tmp_path, url):
    build_with_priors(tmp_path, url, hybrid_rows(distractors=50))
    rows = hybrid_rows(distractors=60, seed=6)
    rows[0] = {**rows[0], "popularity": 5000}
    training = [*TRAINING, {"mention": "Washington", "gold_qid": "Q61"}]
    for _ in range(2):
        build_with_priors(tmp_path, url, rows, training)
    build_with_priors(tmp_path, str(tmp_path / "kg.sqlite"), rows, training)
    tables = prior_tables_of_postgres(url)
    assert tables == prior_tables_of_sqlite(tmp_path / "kg.sqlite")
    assert tables["max_popularity"] == [5000]
    sqlite, postgres = HybridKG(tmp_path / "kg.sqlite"), hybrid_store(url)
    assert postgres.search("Washington", 5) == sqlite.search("Washington", 5)


def test_hybrid_search_needs_the_postgres_priors(tmp_path, url):
    source = write_jsonl(tmp_path / "entities.jsonl", HYBRID_ENTITIES)
    build_postgres_store(entity_rows(source), url)
    with pytest.raises(InputError, match="has no alias priors.*rebuild it with `i2cr kg build`"):
        PostgresHybridKG(url)


def test_a_server_without_pgvector_refuses_dense_and_still_serves_hybrid_search(
    tmp_path, url, capsys
):
    build_with_priors(tmp_path, url, [e for e in HYBRID_ENTITIES if e["qid"] != "Q801"])
    capsys.readouterr()
    line = error_line(capsys, "kg", "embed", url)
    assert "has no pgvector (extension 'vector'), which dense retrieval needs" in line
    assert "install pgvector on the server" in line
    search = ["kg", "search", url, "Barak Obma", "--set", "k=3", "--set", "kg_retrieval=hybrid"]
    assert main(search) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith(" 1. Barack Obama (Q76)")
    assert open_hybrid(url, "minilm").sources == ("alias", "fuzzy")


def test_the_graph_takes_hybrid_candidates_from_postgres(scripted, scores, tmp_path, url):
    build_with_priors(tmp_path, url, HYBRID_ENTITIES)
    scores(icr={"": 0.9}, iav={"": 0.9})
    model, context = scripted("<|ANSWER|>: Barack Obama", kg=url, kg_retrieval="hybrid", k=3)
    out = graph.invoke({"mention": "the Prez", "context": ""}, context=context)
    assert "1. Barack Obama" in model.prompts[0]
    assert out["result"]["qid"] == "Q76"
