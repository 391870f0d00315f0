from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from helpers import CANDIDATES
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from i2cr import graph
from i2cr.cli import main
from i2cr.context import Context
from i2cr.datasets import Sample, load_release
from i2cr.evals.baselines import FirstStageRanking
from i2cr.evals.configs import BY_NAME, SUITES, resolve_configs
from i2cr.evals.metrics import cost
from i2cr.evals.runner import (
    RunRequest,
    choose_subset,
    make_linker,
    run_request,
    shuffle_candidates,
)
from i2cr.evals.sweep import run_sweep
from i2cr.jsonl import complete_records
from i2cr.models.chat import register_chat_model

ANSWER = "<|ANSWER|>: Ed Rendell"


def write_dataset(folder: Path, count: int = 6) -> Path:
    rows = {
        f"s{i}": {
            "mention": "Rendell",
            "mention_context": f"Governor Rendell spoke on day {i}.",
            "Candentity": CANDIDATES,
            "mention_imgdesc_Azure": {"Caption": "a man at a podium", "Tags": "person"},
        }
        for i in range(count)
    }
    path = folder / "toy_dev.json"
    path.write_text(json.dumps(rows))
    labels = {f"s{i}": "Ed Rendell" if i % 2 == 0 else "Ruth Rendell" for i in range(count)}
    (folder / "toy_dev_label.json").write_text(json.dumps(labels))
    return path


class InterruptingChat(FakeListChatModel):
    """Answers, then stops the whole run (like Ctrl-C) at the given call."""

    stop_at: int = 0
    calls: int = 0

    def _call(self, *args: Any, **kwargs: Any) -> str:
        self.calls += 1
        if self.calls == self.stop_at:
            raise KeyboardInterrupt
        return super()._call(*args, **kwargs)


def request(tmp_path: Path, dataset: Path, spec: str, names: list[str], **kw: Any) -> RunRequest:
    return RunRequest(
        dataset=dataset,
        configs=resolve_configs(None, names),
        out=tmp_path / "evals",
        # The runner's mechanics behind the cheapest first stage, which asks the selector always.
        settings={"selector": spec, "ranker": "embedder"},
        progress=False,
        command="i2cr eval suite --test",
        **kw,
    )


def forget_setting(tmp_path: Path, key: str) -> None:
    """Drop a setting from the TES-only run's meta, as if the run predated that field."""
    meta_path = tmp_path / "evals/runs/toy_dev/released/tes_only.meta.json"
    meta = json.loads(meta_path.read_text())
    del meta["settings"][key]
    meta_path.write_text(json.dumps(meta))


def ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_text().splitlines()]


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_run_resumes_without_duplicates(tmp_path, workers):
    dataset = write_dataset(tmp_path)
    spec = f"test:interrupt-{workers}"
    register_chat_model(spec, InterruptingChat(responses=[ANSWER] * 50, stop_at=4))
    req = request(tmp_path, dataset, spec, ["tes_only"], seeds=[None], workers=workers)
    with pytest.raises(KeyboardInterrupt):
        run_request(req)
    results = tmp_path / "evals/runs/toy_dev/released/tes_only.jsonl"
    assert 0 < len(ids(results)) < 6
    register_chat_model(spec, FakeListChatModel(responses=[ANSWER] * 50))
    run_request(request(tmp_path, dataset, spec, ["tes_only"], seeds=[None], workers=workers))
    written = ids(results)
    assert sorted(written) == [f"s{i}" for i in range(6)]
    meta = json.loads(results.with_suffix(".meta.json").read_text())
    assert meta["sessions"][-1]["linked"] == 6 - meta["sessions"][-1]["skipped"]


def test_results_made_with_other_settings_are_not_resumed(tmp_path):
    dataset = write_dataset(tmp_path)
    register_chat_model("test:settings", FakeListChatModel(responses=[ANSWER] * 50))
    run_request(request(tmp_path, dataset, "test:settings", ["tes_only"], seeds=[None]))
    # A Context field added since the run (absent from its meta) counts as its default.
    forget_setting(tmp_path, "clue_rounds")
    run_request(request(tmp_path, dataset, "test:settings", ["tes_only"], seeds=[None]))
    changed = request(tmp_path, dataset, "test:settings", ["tes_only"], seeds=[None])
    changed.settings["desc_chars"] = 50
    with pytest.raises(ValueError, match="desc_chars: 120 -> 50"):
        run_request(changed)


def test_only_the_settings_a_run_reads_stop_it_resuming(tmp_path):
    dataset = write_dataset(tmp_path)
    register_chat_model("test:reads", FakeListChatModel(responses=[ANSWER] * 50))
    first = request(tmp_path, dataset, "test:reads", ["first_candidate", "tes_only"], seeds=[None])
    first.settings.update(ranker="none", ranker_keep=5)
    run_request(first)
    # The baseline reads no selector setting; without a ranker, ranker_keep does nothing, and
    # TES alone reads no threshold.
    again = request(tmp_path, dataset, "test:reads", ["first_candidate", "tes_only"], seeds=[None])
    again.settings.update(ranker="none", ranker_keep=3, alpha=0.9, beta_text=0.9)
    run_request(again)
    assert len(ids(tmp_path / "evals/runs/toy_dev/released/tes_only.jsonl")) == 6
    baseline = request(tmp_path, dataset, "test:other", ["first_candidate"], seeds=[None])
    baseline.settings["alpha"] = 0.9
    run_request(baseline)
    assert len(ids(tmp_path / "evals/runs/toy_dev/released/first_candidate.jsonl")) == 6
    ranked = request(tmp_path, dataset, "test:reads", ["tes_only"], seeds=[None])
    with pytest.raises(ValueError, match="ranker: 'none' -> 'embedder'"):
        run_request(ranked)


def test_a_resume_compares_the_resolved_adapter_and_only_the_ranker_in_use(tmp_path):
    dataset = write_dataset(tmp_path)
    register_chat_model("test:adapter", FakeListChatModel(responses=[ANSWER] * 50))
    run_request(request(tmp_path, dataset, "test:adapter", ["tes_only"], seeds=[None]))
    forget_setting(tmp_path, "selector_adapter")
    # No adapter ships for this selector, so 'auto' (the default) is 'none'; the embedder
    # ranker reads no DIM weights.
    again = request(tmp_path, dataset, "test:adapter", ["tes_only"], seeds=[None])
    again.settings.update(selector_adapter="none", ranker_weights="elsewhere.json")
    run_request(again)
    assert len(ids(tmp_path / "evals/runs/toy_dev/released/tes_only.jsonl")) == 6
    other = request(tmp_path, dataset, "test:adapter", ["tes_only"], seeds=[None])
    other.settings["selector_adapter"] = "my/adapter"
    with pytest.raises(ValueError, match="selector_adapter: '' -> 'my/adapter'"):
        run_request(other)


def test_a_run_records_the_precision_that_ran_and_resumes_only_in_it(tmp_path):
    dataset = write_dataset(tmp_path)
    register_chat_model("test:precision", FakeListChatModel(responses=[ANSWER] * 50))
    first = request(tmp_path, dataset, "test:precision", ["tes_only"], seeds=[None])
    first.settings["precision"] = "float32"
    run_request(first)
    meta = tmp_path / "evals/runs/toy_dev/released/tes_only.meta.json"
    assert json.loads(meta.read_text())["settings"]["precision"] == "float32"
    other = request(tmp_path, dataset, "test:precision", ["tes_only"], seeds=[None])
    other.settings["precision"] = "bfloat16"
    with pytest.raises(ValueError, match="precision: 'float32' -> 'bfloat16'"):
        run_request(other)


def test_shuffles_are_seeded_per_sample_and_subsets_keep_dataset_order():
    samples = [
        Sample(id=f"m{i}", mention="x", candidates=[dict(c) for c in CANDIDATES * 3])
        for i in range(30)
    ]
    once, again = shuffle_candidates(samples, 0), shuffle_candidates(samples, 0)
    assert [s.candidates for s in once] == [s.candidates for s in again]
    assert any(s.candidates != samples[0].candidates for s in once)
    assert shuffle_candidates(samples[5:6], 0)[0].candidates == once[5].candidates
    assert [s.candidates for s in shuffle_candidates(samples, 1)] != [s.candidates for s in once]
    subset = choose_subset(samples, 10, seed=3)
    assert subset == choose_subset(samples, 10, seed=3) and len(subset) == 10
    assert [int(s.id[1:]) for s in subset] == sorted(int(s.id[1:]) for s in subset)


def test_repeated_prompts_are_answered_from_the_cache(tmp_path, scripted):
    dataset = write_dataset(tmp_path, count=3)
    model, context = scripted(*([ANSWER] * 3))
    # TES alone, then the same TES with only VIF on (IAV off: VIF never runs): same prompts.
    run_request(request(tmp_path, dataset, context.selector, ["tes_only"], seeds=[None]))
    run_request(request(tmp_path, dataset, context.selector, ["no_icr_iav"], seeds=[None]))
    assert len(model.prompts) == 3
    meta = json.loads((tmp_path / "evals/runs/toy_dev/released/no_icr_iav.meta.json").read_text())
    assert meta["sessions"][0]["cache_hits"] == 3
    runs = tmp_path / "evals/runs/toy_dev/released"
    first, cached = (complete_records(runs / f"{n}.jsonl") for n in ("tes_only", "no_icr_iav"))
    assert [r["result"]["selector_cached"] for r in first] == [0, 0, 0]
    assert all(a["cached"] for r in cached for a in r["attempts"])
    assert (cost(first)["timed"], cost(cached)["timed"]) == (3, 0)
    assert math.isnan(cost(cached)["seconds_mean"])


def test_each_eval_row_is_traced_with_its_dataset_order_and_config(tmp_path, scripted):
    from langchain_core.tracers.context import collect_runs

    dataset = write_dataset(tmp_path, count=2)
    _, context = scripted(*([ANSWER] * 2))
    with collect_runs() as runs:
        run_request(request(tmp_path, dataset, context.selector, ["tes_only"], seeds=[0]))
    roots = [run for run in runs.traced_runs if run.name.startswith("i2cr ")]
    assert sorted(run.name for run in roots) == ["i2cr s0", "i2cr s1"]
    for run in roots:
        metadata = run.extra["metadata"]
        assert (metadata["dataset"], metadata["order"], metadata["config"]) == (
            "toy_dev",
            "shuffled-0",
            "tes_only",
        )


def test_all_clues_in_one_round(scripted, scores, mention):
    scores(icr={"Ed": 0.9, "Ruth": 0.9, "Don": 0.9}, iav={"Ed": 0.1, "Ruth": 0.1, "Don": 0.1})
    model, context = scripted(ANSWER, ANSWER, clue_rounds="all_in_one")
    out = graph.invoke(mention, context=context)
    assert len(model.prompts) == 2 and out["result"]["rounds"] == 2
    assert "caption: a man at a podium; dense caption: a man; a flag; tags:" in model.prompts[1]
    assert out["attempts"][-1]["clue_tool"] == "caption+dense_caption+tags"


def test_embedder_baseline_breaks_ties_by_the_given_order(monkeypatch):
    monkeypatch.setattr(
        "i2cr.rankers.signals.cosine", lambda spec, left, rights, **_: [0.2, 0.7, 0.7]
    )
    out = FirstStageRanking("embedder").invoke(
        {"mention": "Rendell", "candidates": CANDIDATES}, context=Context()
    )
    assert [e["name"] for e in out["result"]["top_k"]] == [
        "Ed Rendell",
        "Don Rendell",
        "Ruth Rendell",
    ]


def test_dim_baseline_ranks_every_candidate_once_in_the_shipped_rankers_order():
    shuffled = [CANDIDATES[2], CANDIDATES[0], CANDIDATES[1]]
    mention = {"mention": "Rendell", "context": "the jazz saxophonist Rendell", "clues": {}}
    ranked = [
        [
            e["name"]
            for e in make_linker(BY_NAME["dim"]).invoke(
                {**mention, "candidates": candidates}, context=Context()
            )["result"]["top_k"]
        ]
        for candidates in (CANDIDATES, shuffled)
    ]
    assert sorted(ranked[0]) == sorted(c["name"] for c in CANDIDATES)
    assert ranked[0] == ranked[1]


def test_every_suite_names_known_configs_and_ablations_are_context_switches():
    assert len(resolve_configs("paper", [])) == len(BY_NAME)
    assert {c.name for c in resolve_configs("core", [])} >= {
        "full",
        "tes_only",
        "no_icr",
        "all_in_one",
    }
    assert all(c.linker == "graph" for c in resolve_configs("paper", []) if c.group != "baseline")
    assert len([n for n in SUITES["paper"] if n.startswith("order_")]) == 23
    assert len([n for n in SUITES["paper"] if n.startswith("vif_")]) == 14
    with pytest.raises(ValueError, match="unknown configurations"):
        resolve_configs(None, ["nope"])


def test_report_is_rebuilt_from_results_alone(tmp_path, capsys):
    dataset = write_dataset(tmp_path)
    register_chat_model("test:report", FakeListChatModel(responses=[ANSWER] * 50))
    run_request(request(tmp_path, dataset, "test:report", ["first_candidate", "tes_only"]))
    out = tmp_path / "evals"
    assert main(["eval", "--report", "--output", str(out)]) == 0
    report = (out / "RESULTS.md").read_text()
    # Ed Rendell is candidate 2 and gold for half the mentions: TES (always Ed) gets 50%.
    assert "| TES only | 6 | 50.0 [" in report
    assert "| always candidate #1 | 6 | 50.0 [" in report  # candidate 1 is the other half's gold
    assert "i2cr eval suite --test" in report
    assert (out / "plots/toy_dev_baseline.png").stat().st_size > 1000
    summary = json.loads((out / "results.json").read_text())
    assert summary["toy_dev"]["shuffled-0"]["tes_only"]["summary"]["mentions"] == 6
    assert load_release(dataset)[0].gold_name == "Ed Rendell"


def test_packed_results_give_the_same_report_and_resume_unpacked(tmp_path, capsys):
    dataset = write_dataset(tmp_path)
    register_chat_model("test:pack", InterruptingChat(responses=[ANSWER] * 50, stop_at=8))
    with pytest.raises(KeyboardInterrupt):  # tes_only finishes released, stops in shuffled-0
        run_request(request(tmp_path, dataset, "test:pack", ["tes_only"], cache=False))
    out = tmp_path / "evals"
    assert main(["eval", "--report", "--output", str(out)]) == 0
    plain = [(out / name).read_bytes() for name in ("RESULTS.md", "results.json")]
    assert main(["eval", "--compress", "--output", str(out)]) == 0
    runs = out / "runs/toy_dev"
    assert sorted(p.name for p in runs.glob("*/tes_only.jsonl*")) == ["tes_only.jsonl.gz"] * 2
    assert [(out / name).read_bytes() for name in ("RESULTS.md", "results.json")] == plain
    register_chat_model("test:pack", FakeListChatModel(responses=[ANSWER] * 50))
    run_request(request(tmp_path, dataset, "test:pack", ["tes_only"]))
    assert not list(runs.glob("*/*.gz"))
    assert sorted(ids(runs / "shuffled-0/tes_only.jsonl")) == [f"s{i}" for i in range(6)]
    assert len(ids(runs / "released/tes_only.jsonl")) == 6
    (runs / "released/tes_only.jsonl").with_suffix(".jsonl.gz").write_bytes(b"")
    assert main(["eval", "--report", "--output", str(out)]) != 0
    assert "tes_only.jsonl.gz and its plain .jsonl both exist" in capsys.readouterr().err


def test_sweep_runs_the_grid_on_dev_and_reports_the_choice(tmp_path, scores):
    scores(icr={"Ed": 0.6, "Ruth": 0.4, "Don": 0.3}, iav={"Ed": 0.5, "Ruth": 0.5, "Don": 0.5})
    dataset = write_dataset(tmp_path, count=4)
    register_chat_model("test:sweep", FakeListChatModel(responses=[ANSWER] * 200))
    out = tmp_path / "evals"
    argv = ["eval", "sweep", "--dataset", str(dataset), "--output", str(out), "--orders", "0"]
    argv += ["--alpha", "0.5,0.7", "--beta-text", "0.3", "--set", "selector=test:sweep"]
    assert main(argv) == 0
    report = (out / "RESULTS.md").read_text()
    # alpha 0.5 keeps Ed (right for half); alpha 0.7 rejects every pick and keeps the best (Ed).
    assert "| 0.5 | 31 | 0.3 | text_only | 50.0 |" in report
    assert "Chosen (best mean top-1 over the shuffled orders): alpha=0.5" in report
    (tmp_path / "toy_test.json").write_text(dataset.read_text())
    with pytest.raises(ValueError, match="dev split only"):
        run_sweep(request(tmp_path, tmp_path / "toy_test.json", "test:sweep", []), "0.5", "", "")
