"""``evidence-kit serve``: a local web app over the same front door (``evidence_kit.api``) as the CLI.

``create_app(settings)`` returns a plain Starlette (ASGI) app; ``serve(settings)`` binds 127.0.0.1 and runs
it under uvicorn. The pages and the JSON API live in ``routes``, builds in ``jobs``, the token, Host and
Origin checks in ``security``, uploads in ``uploads``, the case folders in ``cases``, languages in ``i18n``.
"""
from __future__ import annotations

from .app import WebSettings, create_app, serve

__all__ = ["WebSettings", "create_app", "serve"]
