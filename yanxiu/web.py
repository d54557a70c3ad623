"""HTTP helpers shared by every blueprint: page-or-fragment rendering, pagination, client address."""
import math
from dataclasses import dataclass

from flask import render_template, request
from werkzeug.routing import IntegerConverter


def is_fragment_request() -> bool:
    """An htmx request that wants a fragment (a boosted navigation wants the full page)."""
    return request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true"


def render(page: str, fragment: str | None = None, /, status: int = 200, **context):
    """Render the full page, or only its fragment for an htmx request.

    The page template includes the fragment, so every piece of markup has one source.
    """
    template = fragment if fragment and is_fragment_request() else page
    return render_template(template, **context), status


class IdConverter(IntegerConverter):
    """`<int:…>` of every route is a row id: at most 18 digits, so a number beyond a 64-bit
    integer matches no route (404) instead of overflowing the database driver in the look-up
    (a 500). A pattern, not a `max`: a value the pattern refuses is no match at all, where one
    refused by `max` would make werkzeug answer 405 from a sibling route of another method."""
    regex = r"\d{1,18}"


def client_address() -> str:
    """The client's address (ProxyFix has already applied the trusted proxy count)."""
    return (request.remote_addr or "")[:64]


@dataclass
class Page:
    """One page of a list: its rows and the numbers the pager shows."""
    items: list
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(query, per_page: int = 50) -> Page:
    """The page of `query` named by the request's `page` argument (clamped to the valid range)."""
    total = query.count()
    pages = max(1, math.ceil(total / per_page))
    number = min(max(request.args.get("page", 1, type=int) or 1, 1), pages)
    return Page(list(query.paginate(number, per_page)), number, per_page, total)
