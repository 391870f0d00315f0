"""Where a KG lives: a file, or a PostgreSQL database named by its URL."""

from __future__ import annotations

from types import ModuleType

from i2cr.errors import InputError

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def is_postgres_url(location: str) -> bool:
    """Tell whether a KG location names a PostgreSQL database."""
    return location.startswith(POSTGRES_SCHEMES)


def postgres_store_module() -> ModuleType:
    """The PostgreSQL store (`i2cr.kg.postgres`), or how to install what it needs."""
    try:
        from i2cr.kg import postgres
    except ImportError as err:
        raise InputError(
            f"a PostgreSQL KG needs psycopg ({err}): pip install 'i2cr[postgres]'"
        ) from err
    return postgres
