"""``python -m bayes_atlas``: the ``bayes-atlas`` command line."""

import sys

from bayes_atlas.cli import main

if __name__ == "__main__":  # pragma: no cover - exercised through a subprocess in tests/test_cli_surface.py
    sys.exit(main(prog_name="bayes-atlas"))
