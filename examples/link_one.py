"""Link one mention from Python: the graph, its settings, and what it returns.

Run from the clone: python examples/link_one.py
"""

import json
from pathlib import Path

from i2cr import Context, graph

EXAMPLES = Path(__file__).parent

out = graph.invoke(
    {
        "mention": "Ed Rendell",
        "context": "Governor Ed Rendell announced the budget.",
        "candidates": json.loads((EXAMPLES / "candidates.json").read_text()),
    },
    context=Context(top_k=3),
)
result = out["result"]
print(f"{result['entity']} ({result['qid']}), decided by {result['decided_by']}")
for attempt in out["attempts"]:
    print(
        f"  round {attempt['round']} try {attempt['try_index']}: {attempt['entity']} -> "
        f"{attempt['decision']}"
    )
