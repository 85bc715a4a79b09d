"""Run evidence-kit from a checkout: ``python cli.py build CASE`` is the same as ``evidence-kit build CASE``."""
import sys

from evidence_kit.cli import main

if __name__ == "__main__":
    sys.exit(main())
