"""evidence-kit: turn a buyer's raw evidence into an upload-ready dispute package.

The library's front doors are in ``evidence_kit.api`` (the CLI, watcher, batch runner, web app and
cluster runner call exactly these)::

    from evidence_kit import api
    outcome = api.build("my-case")
    report = api.verify(outcome.package)
"""
from __future__ import annotations

__version__ = "0.1.0"
