"""The reply-metadata key that marks a selector answer served from a response cache.

A leaf module: the selector cache (`i2cr.evals.cache`) sets it, TES (`i2cr.nodes.select`)
reads it to record the try as cached.
"""

CACHE_HIT = "cache_hit"
