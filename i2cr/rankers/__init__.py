"""First-stage rankers: the embedder's cosine, DIM, the cross-encoder and their combination.

Every ranker scores a query's candidates through one interface (`Ranker.rank`), and the
registry (`RANKERS`, `load_first_stage`) makes one from the run's settings; the graph's seam,
`i2cr.ranking`, reads only that. The combined ranker also gives calibrated confidences.
"""

from i2cr.rankers.registry import RANKERS, Ranker, Scored, load_first_stage

__all__ = ["RANKERS", "Ranker", "Scored", "load_first_stage"]
