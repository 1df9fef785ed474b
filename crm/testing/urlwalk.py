"""Enumerate every URL pattern of the project, so isolation tests cover new views automatically."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver

PARAM = re.compile(r"<(?:(?P<converter>[^>:]+):)?(?P<name>\w+)>")
TENANT_PARAMS = {"company_slug", "company_id"}


@dataclass(frozen=True)
class Route:
    route: str
    name: str  # namespaced, e.g. "crm:dashboard"
    params: tuple[str, ...]

    @property
    def is_tenant(self) -> bool:
        return bool(TENANT_PARAMS & set(self.params))

    @property
    def object_params(self) -> tuple[str, ...]:
        return tuple(p for p in self.params if p not in TENANT_PARAMS)

    def fill(self, values: dict[str, object]) -> str:
        return "/" + PARAM.sub(lambda m: str(values[m.group("name")]), self.route)


def _walk(patterns, prefix: str = "", namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        route = str(entry.pattern)
        if isinstance(entry, URLResolver):
            ns = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from _walk(entry.url_patterns, prefix + route, ns)
        elif isinstance(entry, URLPattern):
            full = prefix + route
            if full.startswith("^") or "(?P<" in full:
                full = re.sub(r"\(\?P<(\w+)>[^)]*\)", r"<\1>", full).lstrip("^").rstrip("$").replace("\\", "")
            params = tuple(m.group("name") for m in PARAM.finditer(full))
            yield Route(route=full, name=f"{namespace}{entry.name or ''}", params=params)


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns))


def tenant_routes() -> list[Route]:
    return [r for r in all_routes() if r.is_tenant]


# How to make an object of a given company for each URL parameter that names one. A tenant URL
# with a parameter missing here fails the isolation test, which says what to add.
ObjectMaker = Callable[[object], object]
OBJECT_MAKERS: dict[str, ObjectMaker] = {}


def register_object_maker(param: str) -> Callable[[ObjectMaker], ObjectMaker]:
    def decorate(func: ObjectMaker) -> ObjectMaker:
        OBJECT_MAKERS[param] = func
        return func

    return decorate


def fill_params(route: Route, *, tenant_company, object_company) -> dict[str, object]:
    values: dict[str, object] = {"company_slug": tenant_company.slug, "company_id": tenant_company.pk}
    for param in route.object_params:
        if param not in OBJECT_MAKERS:
            raise LookupError(
                f"URL {route.name} ({route.route}) takes <{param}>: register an object maker for it in "
                "crm.testing.urlwalk so the isolation walk can fill it with another company's object."
            )
        values[param] = OBJECT_MAKERS[param](object_company)
    return values
