"""What each try decided, read as its round's outcome.

One reading of the `decision` the nodes record, for the routers, finalize and the evals (which
read the same `attempts` from run records).
"""

from __future__ import annotations

from i2cr.state import Attempt

NO_CLUE = "no_clue"
NIL_DECISIONS = frozenset({"nil", "icr_nil", "ranker_nil"})
# The first stage answered alone: the selector was never asked.
FIRST_STAGE_DECISIONS = frozenset({"ranker_nil", "ranker_confident"})
ROUND_CLOSING = frozenset(
    {
        *NIL_DECISIONS,
        "ranker_confident",
        "selected",
        "icr_pass",
        "icr_best_of_failed",
        "iav_pass",
        "iav_fail",
    }
)


def verified(attempt: Attempt) -> bool:
    """Every check that ran on this try passed."""
    return attempt["icr_passed"] is not False and attempt["iav_passed"] is not False


def round_answers(attempts: list[Attempt]) -> list[Attempt]:
    """The try that closed each round (the one that went on, or ended the run), by round."""
    closing: dict[int, Attempt] = {}
    for attempt in attempts:
        if attempt["decision"] in ROUND_CLOSING:
            closing[attempt["round"]] = attempt
    return [closing[r] for r in sorted(closing)]


def choose(attempts: list[Attempt], fallback: str) -> tuple[Attempt, str]:
    """The answering try and how it was chosen."""
    answers = round_answers(attempts)
    last = answers[-1]
    if last["decision"] == "nil":
        return last, f"round {last['round']}: selector answered NIL"
    if last["decision"] == "icr_nil":
        return last, f"round {last['round']}: every try failed ICR, NIL"
    if last["decision"] == "ranker_nil":
        return last, "first stage: no candidate reaches the ranker's NIL threshold"
    if last["decision"] == "ranker_confident":
        return last, "first stage: confident (selector_below), the selector was not asked"
    # A round's best-of-failed try that then passes IAV is accepted, as in the method.
    if last["decision"] == "iav_pass" or verified(last):
        return last, f"round {last['round']}: {last['decision']}"
    if fallback == "best_score":
        scored = [a for a in answers if a["entity"] is not None]
        best = max(
            scored,
            key=lambda a: (
                a["iav_score"] if a["iav_score"] is not None else float("-inf"),
                a["icr_score"] if a["icr_score"] is not None else float("-inf"),
            ),
        )
        return best, f"fallback best_score: round {best['round']}"
    return answers[0], "fallback text_only: round 0"


def is_nil(attempt: Attempt) -> bool:
    """The try answered NIL (the selector, every try of its round failing ICR, or the ranker)."""
    return attempt["decision"] in NIL_DECISIONS


def reselects(attempt: Attempt) -> bool:
    """The try failed ICR with re-selections left: TES runs again in the same round."""
    return attempt["decision"] == "icr_fail"


def fails_round(attempt: Attempt) -> bool:
    """The try closes its round without passing its checks: a clue round may follow."""
    return attempt["decision"] in ("icr_best_of_failed", "iav_fail")


def awaits_clue(attempt: Attempt) -> bool:
    """IAV could not run for want of a clue text (and no image encoder): VIF is asked for one."""
    return attempt["iav_method"] == NO_CLUE
