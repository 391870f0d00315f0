"""Hybrid candidate generation: fuzzy names, aliases with priors and dense neighbours, fused.

Each source ranks entities on its own:

- `fuzzy`: the store's label ranking (rapidfuzz WRatio over the trigram pool), as `kg` search.
- `alias`: every alias the trigram pool matches, and the mention itself as an alias (training
  mentions that are no label of the entity), scored by WRatio similarity + PRIOR_WEIGHT x
  p(entity | alias) relative to the alias's likeliest entity (so an alias naming several
  entities costs its likeliest one nothing) + POPULARITY_WEIGHT x log-popularity (relative to
  the store's most popular entity); ties by plain edit-distance ratio, as the fuzzy ranking.
- `dense`: the nearest entity texts to mention + context in the store's ANN index.

The lists are fused by reciprocal rank fusion, sum of 1 / (RRF_K + rank); ties go the way of
the source named first. By default the store fuses all three (DEFAULT_SOURCES).

`HybridSearch` ranks and fuses; a store only reads rows for it. `HybridKG` is the SQLite store
(its dense source the usearch index beside it), `i2cr.kg.postgres.PostgresHybridKG` the
PostgreSQL store (its dense source the pgvector column in the database): the same ranking and
fusion on both. `i2cr.kg.opening.open_hybrid` opens the one a location names.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from rapidfuzz import fuzz, process

from i2cr.errors import InputError
from i2cr.kg.dense import Neighbours
from i2cr.kg.entities import Entity
from i2cr.kg.entity_store import EntityStore
from i2cr.kg.fusion import fuse
from i2cr.kg.matching import normalize
from i2cr.kg.priors import has_priors
from i2cr.kg.store import SqliteKG
from i2cr.state import Candidate

Source = Literal["fuzzy", "alias", "dense"]
SOURCES: tuple[Source, ...] = ("alias", "fuzzy", "dense")
# Alias + dense alone recalls more in the top 10, but after the first-stage ranker all three
# keep the gold first more often (WikiMEL dev, README): the string signal counts twice.
DEFAULT_SOURCES: tuple[Source, ...] = SOURCES

# How deep each source's list goes into the fusion.
DEPTH = 50
PRIOR_WEIGHT = 0.1
POPULARITY_WEIGHT = 0.05

# (alias, entity row id, prior relative to the alias's likeliest entity, popularity)
AliasRow = tuple[str, int, float, int]

# The AliasRows of some aliases; `{schema}` is the tables' prefix and `{among}` the store's
# test of `a.alias` against a list of aliases.
ALIAS_ROWS_SQL = """
SELECT a.alias, a.entity, a.prior / max(a.prior) OVER (PARTITION BY a.alias),
    coalesce(p.count, 0)
FROM {schema}alias_priors a LEFT JOIN {schema}popularity p ON p.entity = a.entity
WHERE a.alias {among}
"""
ALIAS_ROWS_QUERY = ALIAS_ROWS_SQL.format(schema="", among="IN ({})")


def missing_priors(store: str) -> InputError:
    """The error for a store built without the alias prior tables."""
    return InputError(
        f"{store} has no alias priors (built before them): rebuild it with `i2cr kg build`"
    )


def rank_aliases(
    query: str, rows: Sequence[AliasRow], popularity_scale: float, n: int
) -> list[int]:
    """Row ids of the n entities the rows' aliases name best for the normalised query.

    Score: WRatio similarity + PRIOR_WEIGHT x relative prior + POPULARITY_WEIGHT x
    log-popularity / `popularity_scale` (0: no popularity term); each entity keeps its best
    alias; ties go by plain edit-distance ratio, then row id.
    """
    if not rows:
        return []
    aliases = sorted({alias for alias, *_ in rows})
    weighted = process.cdist([query], aliases, scorer=fuzz.WRatio, dtype=np.float32)[0]
    plain = process.cdist([query], aliases, scorer=fuzz.ratio, dtype=np.float32)[0]
    similarity = {
        a: (float(w) / 100, float(p)) for a, w, p in zip(aliases, weighted, plain, strict=True)
    }
    best: dict[int, tuple[float, float]] = {}
    for alias, entity, prior, popularity in rows:
        weighted_similarity, plain_similarity = similarity[alias]
        score = weighted_similarity + PRIOR_WEIGHT * prior
        if popularity_scale:
            score += POPULARITY_WEIGHT * math.log1p(popularity) / popularity_scale
        best[entity] = max(best.get(entity, (-1.0, 0.0)), (score, plain_similarity))
    return sorted(best, key=lambda entity: (-best[entity][0], -best[entity][1], entity))[:n]


class HybridSearch(EntityStore):
    """Hybrid search over a KG store: the store reads the rows, this ranks and fuses them.

    A store class lists it before the store as a base, reads the alias prior rows
    (`_alias_rows`) and calls `_use_sources` once the store is open.
    """

    sources: tuple[Source, ...]
    dense: Neighbours | None
    popularity_scale: float

    def _use_sources(
        self, sources: Sequence[Source], dense: Neighbours | None, max_popularity: int
    ) -> None:
        """Check and keep the sources (dense only with an index) and the popularity scale."""
        unknown = sorted(set(sources) - set(SOURCES))
        if unknown:
            raise InputError(f"unknown candidate sources {unknown}; known: {list(SOURCES)}")
        self.sources = tuple(s for s in sources if s != "dense" or dense is not None)
        self.dense = dense
        self.popularity_scale = math.log1p(max_popularity)

    @abstractmethod
    def _alias_rows(self, query: str) -> list[AliasRow]:
        """Prior rows of the normalised query and of every label its trigram pool finds."""

    def ranked_ids(self, source: Source, mention: str, context: str, n: int) -> list[int]:
        """Row ids of one source's n best entities for the mention, best first."""
        if source == "fuzzy":
            return self._fuzzy_ids(normalize(mention), n)
        if source == "alias":
            return self.alias_ids(mention, n)
        if self.dense is None:
            return []
        return self.dense.neighbours(" ".join(p.strip() for p in (mention, context) if p), n)

    def alias_ids(self, mention: str, n: int) -> list[int]:
        """Row ids of the n entities best named by the mention, by similarity, prior, popularity."""
        query = normalize(mention)
        if not query:
            return []
        return rank_aliases(query, self._alias_rows(query), self.popularity_scale, n)

    def search_ids(self, mention: str, k: int, context: str = "") -> list[int]:
        """Row ids of the k best entities: each source's DEPTH best, fused."""
        depth = max(k, DEPTH)
        rankings = [self.ranked_ids(s, mention, context, depth) for s in self.sources]
        return fuse(rankings)[:k]

    def search_entities(self, mention: str, k: int, context: str = "") -> list[tuple[Entity, str]]:
        """Return the k best entities by the fused sources, each with its shown description."""
        ids = self.search_ids(mention, k, context)
        return self._entities(ids) if ids else []

    def search(self, mention: str, k: int, context: str = "") -> list[Candidate]:
        """Return the k best candidates by the fused sources."""
        return [
            entity.as_candidate(description)
            for entity, description in self.search_entities(mention, k, context)
        ]


class HybridKG(HybridSearch, SqliteKG):
    """An SQLite KG store searched by fuzzy names, alias priors and (if built) dense vectors."""

    def __init__(
        self,
        path: str | Path,
        dense: Neighbours | None = None,
        sources: Sequence[Source] = DEFAULT_SOURCES,
        pool: int = 100,
    ) -> None:
        """Open the store; it needs the alias prior table `i2cr kg build` writes."""
        super().__init__(path, pool=pool)
        with self._lock:
            if not has_priors(self._db):
                raise missing_priors(str(self.path))
        most = self._rows("SELECT value FROM meta WHERE key = 'max_popularity'", [])
        self._use_sources(sources, dense, int(most[0][0]) if most else 0)

    def _alias_rows(self, query: str) -> list[AliasRow]:
        """Prior rows of the normalised query and of every label its trigram pool finds."""
        pool = self._label_pool(query)
        texts = {query}
        if len(pool):
            rows = self._rows("SELECT text FROM labels WHERE id IN ({})", pool.tolist())
            texts.update(text for (text,) in rows)
        return self._rows(ALIAS_ROWS_QUERY, sorted(texts))
