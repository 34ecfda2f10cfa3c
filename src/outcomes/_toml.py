"""Reading the package's TOML settings files (definitions, mappings, claims) with one error style."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from .exceptions import DefinitionsError


def read_toml(path: Any, what: str) -> dict[str, Any]:
    """The parsed TOML at ``path`` (a path or an importlib resource); ``what`` names the file in
    errors ("Definitions file defs.toml was not found.")."""
    name = Path(str(path)).name
    try:
        with path.open("rb") if hasattr(path, "open") else open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise DefinitionsError(f"{what} file {name} was not found.") from None
    except IsADirectoryError:
        raise DefinitionsError(f"{what} file {name} is a folder; it must be a TOML file.") from None
    except tomllib.TOMLDecodeError as exc:
        raise DefinitionsError(f"{what} file {name} is not valid TOML: {exc}.") from None
