"""The console's pages: each one a server-rendered shell (navigation, labels, the session's CSRF token and
role) whose script fills it from the JSON API with the session cookie.

A page needs a console session (else the login page) and the role its actions need (else a page saying
so); the scripts and styles come from ``static/``, never inline, under a CSP that allows nothing else.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Final
from urllib.parse import quote

import jinja2
from aiohttp import web

from engine.service.auth import SESSION_COOKIE
from engine.service.console.i18n import LANG_COOKIE, LANGUAGES, catalogue, choose
from engine.service.context import SERVICES
from engine.service.sessions import Session
from engine.service.tokens import Role
from engine.store import keys

ROOT: Final = "/console"
PAGE_CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
YEAR_SECONDS: Final = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Page:
    """One console page: where it is, its template (and script of the same name), the role it needs."""

    name: str
    path: str
    role: Role
    nav: bool = True  # listed in the navigation bar


PAGES: Final = (
    Page("campaigns", ROOT + "/", Role.VIEWER),
    Page("new", ROOT + "/new", Role.OPERATOR),
    Page("suppression", ROOT + "/suppression", Role.ADMIN),
    Page("settings", ROOT + "/settings", Role.VIEWER),
    Page("campaign", ROOT + "/campaigns/{cid}", Role.VIEWER, nav=False),
)


@cache
def _templates() -> jinja2.Environment:
    loader = jinja2.PackageLoader(__package__ or "engine.service.console", "templates")
    return jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)


@cache
def _assets() -> dict[str, tuple[bytes, str]]:
    """Every static file's bytes and media type, read once (a few tens of KB): a request for another name
    costs nothing and is remembered nowhere."""
    folder = resources.files(__package__).joinpath("static")
    return {
        item.name: (item.read_bytes(), mimetypes.guess_type(item.name)[0] or "application/octet-stream")
        for item in folder.iterdir()
        if item.is_file()
    }


def _language(request: web.Request) -> str:
    """The language ``request`` is answered in: ``?lang=``, else its cookie, else the default."""
    return choose(request.query.get("lang"), request.cookies.get(LANG_COOKIE))


def _render(request: web.Request, template: str, *, status: int = 200, **context: Any) -> web.Response:
    """A page in the language chosen for ``request``; ``?lang=`` is remembered in a cookie."""
    asked, lang = request.query.get("lang"), _language(request)
    messages = catalogue(lang)
    html = _templates().get_template(f"{template}.html").render(
        t=messages, lang=lang, languages=LANGUAGES, pages=PAGES, page=template,
        path=request.path, **context,
    )  # fmt: skip
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Content-Security-Policy"] = PAGE_CSP
    if asked in LANGUAGES:
        response.set_cookie(LANG_COOKIE, lang, max_age=YEAR_SECONDS, path="/", samesite="Strict")
    return response


async def _session(request: web.Request) -> Session | None:
    cookie = request.cookies.get(SESSION_COOKIE)
    return None if not cookie else await request.app[SERVICES].sessions.find(cookie)


def _page(page: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        session = await _session(request)
        if session is None:
            raise web.HTTPSeeOther(f"{ROOT}/login?next={quote(request.path_qs, safe='')}")
        role = session.token.role
        context: dict[str, Any] = {"who": session.token.name, "role": role.value, "csrf": session.csrf,
                   "can_operate": role.allows(Role.OPERATOR), "can_admin": role.allows(Role.ADMIN),
                   "cid": request.match_info.get("cid", "")}  # fmt: skip
        said = catalogue(_language(request))
        if not role.allows(page.role):
            detail = f"{said['forbidden.needs']} {said['role.' + page.role]}"
            return _render(request, "message", status=403, heading="forbidden.heading", detail=detail,
                           **context)  # fmt: skip
        if context["cid"] and not await request.app[SERVICES].redis.exists(keys.campaign(context["cid"])):
            detail = f"{said['notfound.campaign']} {context['cid']}"
            return _render(request, "message", status=404, heading="notfound.heading", detail=detail,
                           **context)  # fmt: skip
        if page.name == "settings":
            context["contacts"] = request.app[SERVICES].settings.contacts.model_dump()
        return _render(request, page.name, **context)

    return handle


async def _login(request: web.Request) -> web.Response:
    target = request.query.get("next", ROOT + "/")
    safe = target if target.startswith(ROOT + "/") else ROOT + "/"  # never a redirect off this site
    return _render(request, "login", target=safe)


async def _asset(request: web.Request) -> web.Response:
    found = _assets().get(request.match_info["name"])
    if found is None:
        raise web.HTTPNotFound()
    body, media = found
    # scripts and styles change only with a release: a page reload re-checks, but never re-downloads whole
    return web.Response(body=body, content_type=media, headers={"Cache-Control": "no-cache"})


async def _home(_: web.Request) -> web.Response:
    raise web.HTTPFound(ROOT + "/")


def install(app: web.Application) -> None:
    """Add the console's pages, login page and static files to ``app``."""
    for page in PAGES:
        app.router.add_get(page.path, _page(page))
    app.router.add_get(ROOT + "/login", _login)
    app.router.add_get(ROOT + "/static/{name}", _asset)
    app.router.add_get("/", _home)
    app.router.add_get(ROOT, _home)
