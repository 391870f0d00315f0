#!/usr/bin/env bash
# Build a knowledge-graph store from an entity JSONL, search it, and link a mention against it.
# Run from anywhere in the clone: bash examples/build_kg.sh [STORE]
set -euo pipefail
cd "$(dirname "$0")/.."
store="${1:-runs/example-kg.sqlite}"
mkdir -p "$(dirname "$store")"

i2cr kg build "$store" --entities examples/entities.jsonl
i2cr kg search "$store" "Ed Rendel" --set k=3
i2cr link "Ed Rendell" --context "Governor Ed Rendell announced the budget" --set kg="$store"
