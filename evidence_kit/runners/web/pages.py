"""Rendering a page of the web app: the template with what every page needs (language, reasons, limits), and
the language cookie when the buyer chose one. Shared by the desktop routes and the phone's page."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from . import cases, i18n, views

LANGUAGE_COOKIE = "evidence_kit_language"


def render_page(request: Request, template: str, **context: Any) -> HTMLResponse:
    settings = request.app.state.settings
    env = request.app.state.templates
    html = env.get_template(template).render(
        request=request, language=i18n.current_language(), languages=i18n.LANGUAGE_NAMES,
        js_messages=i18n.js_messages(), reasons=views.reasons(), resolutions=views.resolutions(),
        fact_fields=views.fact_fields(),
        max_upload=settings.max_upload_bytes, kinds=cases.KINDS, **context)
    response = HTMLResponse(html, headers={"cache-control": "no-store"})
    if "lang" in request.query_params and request.query_params["lang"] in i18n.LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, request.query_params["lang"], max_age=365 * 86400, samesite="strict",
                            httponly=True)
    return response
