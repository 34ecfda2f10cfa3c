"""``python -m outcomes``: the command line."""

from .cli import main

raise SystemExit(main())
