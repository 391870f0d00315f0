"""Where a KG lives: a file, or a PostgreSQL database named by its URL."""

from __future__ import annotations

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    """Tell whether a KG location names a PostgreSQL database."""
    return location.startswith(POSTGRES_SCHEMES)
