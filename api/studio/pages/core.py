"""The Studio's frame: the home page, signing in and out with an API key, the project picker, and static files."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Form, Request, Response
from fastapi.responses import RedirectResponse
from starlette.concurrency import run_in_threadpool

from agnt5_evals.api.deps import get_services
from agnt5_evals.api.studio.session import (
    KEY_COOKIE,
    PROJECT_COOKIE,
    Session,
    SessionDep,
    csrf_ok,
    login_session,
    set_cookie,
)
from agnt5_evals.api.studio.web import CSRF_COOKIE, PREFIX, new_token, page, redirect, static_file
from agnt5_evals.api.studio.web import router as studio_router
from agnt5_evals.domain.errors import Forbidden, Invalid, Unauthorized
from agnt5_evals.domain.tenancy import check_project_id
from agnt5_evals.services import keys, projects

router = studio_router()


def _local_next(value: str) -> str:
    """Where to go after signing in: a Studio path of this server only (never another site)."""
    parts = urlsplit(value or "")
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX) or "\\" in value:
        return PREFIX + "/"
    return parts.path


@router.get("")
def home_without_slash() -> Response:
    return RedirectResponse(PREFIX + "/", status_code=307)


@router.get("/")
def home(request: Request, session: SessionDep) -> Response:
    """The Studio's start: the experiments (most people come to read runs)."""
    return redirect(request, PREFIX + "/experiments")


@router.get("/login")
def login_form(
    request: Request, session: Annotated[Session | None, Depends(login_session)], next: str = "", why: str = ""
) -> Response:
    """The sign-in form: an API key (``agnt5 keys create``)."""
    token = request.cookies.get(CSRF_COOKIE) or new_token()
    response = page(request, "login.html.j2", login_csrf=token, next=_local_next(next), why=why[:200], error=None)
    if not request.cookies.get(CSRF_COOKIE):
        set_cookie(response, request, CSRF_COOKIE, token)
    return response


@router.post("/login")
def login(
    request: Request,
    api_key: Annotated[str, Form(max_length=400)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Check the key and keep it in an HttpOnly, SameSite=Strict cookie."""
    request.state.studio = None
    if not csrf_ok(request, csrf_token):
        raise Forbidden("this form is out of date or was not sent by the Studio: reload the page and try again")
    try:
        if not api_key.strip():
            raise Invalid("enter an API key (agnt5 keys create)", field="api_key")
        keys.authenticate(get_services(request), api_key.strip())
    except (Unauthorized, Invalid) as exc:
        message = str(exc) if isinstance(exc, Invalid) else "that key is not a valid, live key"
        return page(request, "login.html.j2", 401, login_csrf=csrf_token, next=_local_next(next), why="",
                    error=message)  # fmt: skip
    response = redirect(request, _local_next(next))
    set_cookie(response, request, KEY_COOKIE, api_key.strip())
    set_cookie(response, request, CSRF_COOKIE, new_token())  # a new session, a new token
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep) -> Response:
    """Forget the key (the cookie); the key itself stays valid until revoked."""
    response = redirect(request, PREFIX + "/login")
    response.delete_cookie(KEY_COOKIE, path=PREFIX)
    response.delete_cookie(CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/project")
async def pick_project(request: Request, session: SessionDep) -> Response:
    """Act in another project (local use only: a key acts in its own project)."""
    form = await request.form()
    project = str(form.get("project_id") or "")
    if session.signed_in:
        raise Forbidden("a key acts in its own project; sign in with a key of the other project")
    check_project_id(project)
    await run_in_threadpool(projects.get_project, get_services(request), project)
    response = redirect(request, PREFIX + "/")
    set_cookie(response, request, PROJECT_COOKIE, project)
    return response


@router.get("/projects")
def project_list(request: Request, session: SessionDep) -> Response:
    """The projects to pick from (local use)."""
    rows = projects.list_projects(get_services(request)) if not session.signed_in else []
    return page(request, "projects.html.j2", projects=rows)


@router.get("/ping")
def ping() -> Response:
    """Whether this is an agnt5 Studio (``agnt5 studio`` asks before starting a server of its own)."""
    return Response("agnt5 studio\n", media_type="text/plain", headers={"X-Agnt5-Studio": "1"})


@router.get("/static/{name}")
def static(name: str) -> Response:
    """The Studio's own scripts and styles (htmx, vendored; see static/VENDORED.md)."""
    return static_file(name)
