"""Every URL of the project, enumerated from the URLconf (so a page added later is
covered without touching the tests), with its path parameters filled in."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.regex_helper import normalize


@dataclass(frozen=True)
class Url:
    name: str  # namespaced name ("console:run-detail"), "?" for unnamed patterns
    path: str  # concrete path, starting with "/"
    regex: str


def _walk(patterns: list, prefix: str = "", ns: tuple[str, ...] = ()):  # type: ignore[no-untyped-def]
    for p in patterns:
        rx = p.pattern.regex.pattern.lstrip("^")
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + rx, ns + ((p.namespace,) if p.namespace else ()))
        elif isinstance(p, URLPattern):
            yield prefix + rx, ":".join((*ns, p.name or "?"))


def all_urls(run_id: int) -> list[Url]:
    """One concrete path per URL pattern. Numeric ids become `run_id` (an existing JobRun);
    other parameters get a plausible value."""
    fill = {"pk": str(run_id), "object_id": str(run_id), "id": str(run_id), "content_type_id": "1",
            "app_label": "jobs", "uidb64": "MQ", "token": "set-password", "url": "nothing-here/"}
    out = []
    for regex, name in _walk(get_resolver().url_patterns):
        fmt, params = normalize("^" + regex)[0]
        out.append(Url(name, "/" + fmt % {k: fill.get(k, "1") for k in params}, regex))
    return out
