"""Spring-style paging for list routes: `page`, `size`, repeated `sort`, and the response headers.

A list response is a bare JSON array. The total goes in `X-Total-Count` and the page links in
`Link` with `rel="next"`, `"prev"`, `"first"` and `"last"`, as Leaf's JHipster stack sends them.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

from .problems import ProblemError

DEFAULT_SIZE = 20
MAX_SIZE = 100


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int
    size: int
    sorts: list[tuple[str, bool]]  # (property, descending), the first one leading


def parse_page_request(request: Request, allowed_sorts: tuple[str, ...],
                       default_sorts: list[tuple[str, bool]]) -> PageRequest:
    """Read `page`, `size` and `sort` from the query, or raise a 400 problem.

    A `size` over 100 is cut to 100 rather than rejected, as Spring does with its maximum page
    size. [ours: the cut, not the maximum]
    """
    params = request.query_params
    page = _non_negative_int(params.get("page"), "page", 0)
    size = _non_negative_int(params.get("size"), "size", DEFAULT_SIZE)
    if size == 0:
        raise ProblemError(400, "The query parameter size must be at least 1.",
                           error_key="pageInvalid")
    size = min(size, MAX_SIZE)

    sorts: list[tuple[str, bool]] = []
    for raw in params.getlist("sort"):
        prop, _, direction = raw.partition(",")
        prop = prop.strip()
        direction = direction.strip().lower() or "asc"
        if prop not in allowed_sorts:
            raise ProblemError(
                400, f"Cannot sort by {prop!r}. Sort by one of {', '.join(allowed_sorts)}.",
                error_key="sortInvalid")
        if direction not in ("asc", "desc"):
            raise ProblemError(400, f"Sort direction {direction!r} is not asc or desc.",
                               error_key="sortInvalid")
        sorts.append((prop, direction == "desc"))
    return PageRequest(page, size, sorts or list(default_sorts))


def _non_negative_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ProblemError(400, f"The query parameter {name} must be a whole number, not {raw!r}.",
                           error_key="pageInvalid") from None
    if value < 0:
        raise ProblemError(400, f"The query parameter {name} must not be negative.",
                           error_key="pageInvalid")
    return value


def page_headers(request: Request, paging: PageRequest, total: int) -> dict[str, str]:
    """Build `X-Total-Count` and `Link` for one page of `total` items."""
    last = max(0, (total + paging.size - 1) // paging.size - 1)
    base = str(request.url.replace(query=""))
    kept = [(key, value) for key, value in request.query_params.multi_items()
            if key not in ("page", "size")]

    def link(page: int, rel: str) -> str:
        query = urlencode([("page", page), ("size", paging.size), *kept])
        return f'<{base}?{query}>; rel="{rel}"'

    links = []
    if paging.page < last:
        links.append(link(paging.page + 1, "next"))
    if 0 < paging.page:
        links.append(link(min(paging.page - 1, last), "prev"))
    links.append(link(last, "last"))
    links.append(link(0, "first"))
    return {"X-Total-Count": str(total), "Link": ",".join(links)}
