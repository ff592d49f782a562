"""SendX paging: ``offset`` ≥ 0, ``limit`` 1–100 (default 10), ``search`` of 2–255 characters."""

from __future__ import annotations

from typing import Annotated

from litestar.params import QueryParameter

from roster.api.common import MAX_OFFSET
from roster.core.named import WITHOUT_CONTROL
from roster.core.search import MIN_LENGTH

Offset = Annotated[
    int,
    QueryParameter(ge=0, le=MAX_OFFSET, description=f"Number of records to skip (at most {MAX_OFFSET:,})"),
]
Limit = Annotated[
    int, QueryParameter(ge=1, le=100, description="Maximum number of records to return (1–100)")
]
Search = Annotated[
    str | None,
    QueryParameter(
        min_length=MIN_LENGTH,
        max_length=255,
        pattern=WITHOUT_CONTROL,
        description="Case-insensitive substring of the name",
    ),
]
Identifier = Annotated[
    str, QueryParameter(min_length=1, max_length=254, description="A contact's ID or email")
]
