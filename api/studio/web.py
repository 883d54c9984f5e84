"""The Studio's plumbing: the Jinja2 environment, the page response (its security headers), the route class that
turns domain errors into pages, and the static files.

Every value a template prints is escaped (``autoescape``); markup built in Python (charts, diffs) is made with
:func:`markupsafe.escape` on every user value and only then marked safe.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from importlib import resources
from typing import Any
from urllib.parse import urlencode

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from agnt5_evals.domain.errors import Conflict, EvalsError, Forbidden, Invalid, NotFound, Unauthorized, Unavailable

PREFIX = "/studio"
CSRF_COOKIE = "agnt5_studio_csrf"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
STATUS = {NotFound: 404, Conflict: 409, Invalid: 422, Unauthorized: 401, Forbidden: 403, Unavailable: 503}
STATIC = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "studio.js": "text/javascript; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
}


def _json(value: Any) -> str:
    """A value as indented JSON text (a string stays a string: its JSON form, quotes and all)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode()


def _pct(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{float(value) * 100:.{digits}f}%"


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    ms = float(value)
    return f"{ms:.0f} ms" if ms < 10_000 else f"{ms / 1000:.1f} s"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{float(value):.{digits}f}".rstrip("0").rstrip(".") if isinstance(value, float) else str(value)


def _short(value: Any) -> str:
    """An id's first 8 characters (the full id is in the link and the title)."""
    return str(value or "")[:8]


def _query(params: dict[str, Any], **changes: Any) -> str:
    """``?a=1&b=2``: ``params`` with ``changes`` applied (a None or empty value drops the key)."""
    merged = {**params, **changes}
    kept = {key: value for key, value in merged.items() if value not in (None, "")}
    return "?" + urlencode(kept, doseq=True) if kept else ""


ENV = Environment(
    loader=PackageLoader("agnt5_evals.api.studio", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters.update(json=_json, pct=_pct, ms=_ms, num=_num, short=_short)
ENV.globals.update(query=_query, prefix=PREFIX)


def page(request: Request, template: str, status_code: int = 200, **context: Any) -> Response:
    """Render ``template`` (a whole page, or the fragment an htmx request asks for) with the session's values."""
    session = getattr(request.state, "studio", None)
    context.setdefault("nav", "")
    body = ENV.get_template(template).render(
        request=request,
        session=session,
        csrf_token=getattr(session, "csrf_token", ""),
        htmx=request.headers.get("hx-request") == "true",
        **context,
    )
    return secured(HTMLResponse(body, status_code=status_code))


def secured(response: Response) -> Response:
    """The headers every Studio answer carries: nothing from elsewhere runs, nothing is framed or cached."""
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def markup(value: str) -> Markup:
    """Markup built in Python from escaped parts (see the module's text)."""
    return Markup(value)  # callers escape every user value first


class LoginRequired(Exception):
    """No key (or a key no longer valid) on a server that requires one: the page sends the browser to the login
    form."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


def redirect(request: Request, url: str) -> Response:
    """Go to ``url``: a 303 for a plain request, ``HX-Redirect`` for an htmx one (which would otherwise swap the
    target page into a fragment)."""
    if request.headers.get("hx-request") == "true":
        return secured(Response(status_code=204, headers={"HX-Redirect": url}))
    return secured(RedirectResponse(url, status_code=303))


class StudioRoute(APIRoute):
    """A Studio route: a domain error becomes a page with the error's status and message (never a JSON body); no
    valid key on a server that requires one goes to the login form; a CSRF token made for this request is set as
    its cookie."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def rendered(request: Request) -> Response:
            try:
                response: Response = await handler(request)
            except LoginRequired as exc:
                target = request.url.path if request.method in ("GET", "HEAD") else PREFIX
                response = redirect(request, f"{PREFIX}/login" + _query({"next": target, "why": exc.message}))
            except EvalsError as exc:
                status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
                response = page(request, "error.html.j2", status, status=status, error=exc.as_dict())
            session = getattr(request.state, "studio", None)
            if session is not None and session.new_csrf:
                response.set_cookie(
                    CSRF_COOKIE,
                    session.csrf_token,
                    httponly=True,
                    samesite="strict",
                    path=PREFIX,
                    secure=request.url.scheme == "https",
                )  # fmt: skip  (as session.set_cookie)
            return response

        return rendered


def router() -> APIRouter:
    """A router for Studio pages: kept out of the OpenAPI document (the REST API is the API)."""
    return APIRouter(prefix=PREFIX, include_in_schema=False, route_class=StudioRoute)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def static_file(name: str) -> Response:
    """One of the Studio's own files (a fixed list: a path is never read from the request)."""
    kind = STATIC.get(name)
    if kind is None:
        raise NotFound(f"no static file {name[:80]!r}", field="name")
    body = resources.files("agnt5_evals.api.studio").joinpath("static", name).read_bytes()
    response = Response(body, media_type=kind, headers={"Cache-Control": "public, max-age=3600"})
    return secured(response)
