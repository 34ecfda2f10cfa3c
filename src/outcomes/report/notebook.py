"""Helpers for the analysis notebooks: finding the records from any working folder, the report's
look in Jupyter, and a kernel manager that runs on the current Python.

The notebooks in ``notebooks/`` are run from their own folder, from the repository root, or by
papermill from anywhere; a relative path such as ``data/demo/procedures.csv`` is looked for in
the working folder and each folder above it.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

import pandas as pd

from ..exceptions import InputError

__all__ = ["KernelManager", "locate", "style", "styled"]


def locate(path: str | os.PathLike[str] | None, *, start: str | os.PathLike[str] | None = None) -> str | None:
    """The file ``path`` names: as given when it exists, else looked for from ``start`` (the working
    folder) upwards, so ``data/demo/procedures.csv`` is found from ``notebooks/`` too.

    Raises
    ------
    InputError
        When no folder from ``start`` up holds it; the message names what was looked for and where.

    Examples
    --------
    >>> locate(None) is None
    True
    """
    if path is None:
        return None
    given = Path(path).expanduser()
    if given.is_absolute() or given.exists():
        return str(given)
    here = Path(start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / given
        if candidate.exists():
            return str(candidate)
    raise InputError(f"`{given.name}` must be a file; {given.as_posix()} was not found in the working folder "
                     f"({here.name or here}) or any folder above it. Pass its full path.")


def style() -> Any:
    """The report's stylesheet as an IPython HTML object: tables and verdicts look as in the report."""
    from IPython.display import HTML

    from .render import environment
    css = environment().get_template("report.css").render()
    return HTML(f"<style>{css.split('@page')[0]}</style>")


def styled(frame: pd.DataFrame, *, caption: str | None = None) -> Any:
    """A DataFrame of report cells as a pandas Styler with the report's table look (still a frame to inspect)."""
    styler = frame.style.hide(axis="index").set_table_attributes('class="report-table"')
    styler = styler.set_properties(**{"text-align": "left"}).set_table_styles(
        [{"selector": "th", "props": [("text-align", "left")]}])
    return styler.set_caption(caption) if caption else styler


try:  # the kernel manager is only needed when a notebook is executed
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import AsyncKernelManager
except ImportError:  # pragma: no cover - jupyter_client ships with nbclient
    KernelManager = None  # type: ignore[assignment,misc]
else:
    class KernelManager(AsyncKernelManager):
        """Starts ipykernel on this interpreter, whatever kernel specs are installed (or broken)."""

        @property
        def kernel_spec(self) -> KernelSpec:
            if self._kernel_spec is None:
                self._kernel_spec = KernelSpec(
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
                    display_name=f"Python {platform.python_version()} (outcomes)", language="python",
                    metadata={}, resource_dir="")
            return self._kernel_spec
