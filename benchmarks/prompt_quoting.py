"""Whether quoting data as data (`i2cr.selection.as_data`) changes any benchmark prompt.

For every sample of the given datasets, the selector prompt is built for the text-only round
and for one round per carried clue, with every candidate excluded in turn, once as the graph
builds it and once with `as_data` switched off. A greedy selector answers an identical prompt
identically, so prompts that do not change are answers that do not change.

    python benchmarks/prompt_quoting.py ../shared/data/wikimel/wikimel_{dev,train}.json \
        ../shared/data/wikidiverse/wikidiverse_dev_{fulldesc,summarydesc}.json
"""

from __future__ import annotations

import argparse
import json
from unittest import mock

from i2cr import selection
from i2cr.datasets import Sample, load_dataset


def prompts(sample: Sample) -> list[str]:
    """Every prompt the graph can build for a sample (clue rounds, exclusions), as text."""
    built = []
    clues = ["", *(text for text in sample.clues.values() if text)]
    names = [c["name"] for c in sample.candidates]
    for clue in clues:
        for excluded in ([], *([name] for name in names)):
            messages = selection.build_messages(
                mention=sample.mention,
                context=sample.context,
                candidates=sample.candidates,
                clue=clue,
                excluded=excluded,
                allow_nil=True,
            )
            built.append("\n".join(str(m.content) for m in messages))
    return built


def main() -> None:
    """Count the prompts and data texts that quoting changes, per dataset."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("datasets", nargs="+")
    report = {}
    for path in parser.parse_args().datasets:
        samples = load_dataset(path)
        quoted = [prompts(s) for s in samples]
        with mock.patch.object(selection, "as_data", lambda text: text):
            raw = [prompts(s) for s in samples]
        changed = sum(q != r for q, r in zip(quoted, raw, strict=True))
        fields = [
            selection.steering_fields(
                mention=s.mention, context=s.context, clue=clue, candidates=s.candidates
            )
            for s in samples
            for clue in ["", *s.clues.values()]
        ]
        report[path] = {
            "samples": len(samples),
            "prompts": sum(map(len, quoted)),
            "samples_with_a_changed_prompt": changed,
            "texts_changed": sum(map(len, fields)),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
