"""Stand-ins for the tests and benchmarks (standard library only; nothing here runs a model)."""
