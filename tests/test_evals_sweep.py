from i2cr.evals.sweep import sweep_section


def _record(right: bool) -> dict:
    entity = "A" if right else "B"
    return {
        "id": "1",
        "gold": {"name": "A"},
        "result": {"entity": entity},
        "attempts": [
            {
                "round": 0,
                "try_index": 0,
                "clue_tool": None,
                "selected": 0,
                "entity": entity,
                "icr_score": 0.5,
                "icr_passed": True,
                "iav_score": 0.1,
                "iav_passed": False,
                "decision": "iav_fail",
            }
        ],
    }


def _run(alpha: float, records: list[dict]) -> dict:
    settings = {"alpha": alpha, "beta": 31.0, "beta_text": 0.15}
    meta = {"group": "sweep", "settings": settings, "sessions": [{"command": "i2cr eval sweep"}]}
    return {"meta": meta, "records": records}


def test_sweep_table_scores_each_combination_and_picks_the_best_shuffled():
    runs = {
        "released": {
            "a3": _run(0.3, [_record(True), _record(False)]),
            "a4": _run(0.4, [_record(True), _record(True)]),
        },
        "shuffled-0": {"a3": _run(0.3, [_record(True)]), "a4": _run(0.4, [_record(False)])},
    }
    lines = sweep_section("dev", runs)
    assert "| alpha | beta | beta_text | fallback | top-1 released | top-1 shuffled-0 |" in lines
    assert "| 0.3 | 31 | 0.15 | text_only | 50.0 | 100.0 |" in lines
    assert "| 0.4 | 31 | 0.15 | best_score | 100.0 | 0.0 |" in lines
    assert any("Chosen" in line and "alpha=0.3" in line for line in lines)
    assert "i2cr eval sweep" in lines
