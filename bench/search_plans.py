"""How close contact search's plan comes to the better of its two ways, at scale.

    .venv/bin/python -m bench.search_plans [--contacts 1000000] [--database sqlite|postgresql]
        [--samples 5] [--texts 100]

Seeds one team as ``bench.search_bench`` does, then for each kind of search text, under
several samples of the team (``roster.storage.trigrams``; each search planned from one),
times ``roster.storage.search.contact_ids`` for the first page three ways: as planned, by
the walk alone, and by the index alone (asked for the trigrams the plan names, then the
walk if it finds more than CAP). Each time is the faster of two tries. Prints p50 and p99 of each way and
of the better of the two for each text: what a plan that always chose right would cost.
"""

from __future__ import annotations

import dataclasses
import statistics
import time

from sqlalchemy import Connection

from bench.search_bench import arguments, kinds, seeded
from roster.storage import search
from roster.storage.trigrams import Plan, Sample

WAYS = ("planned", "walk", "index", "better of walk and index")


def timed(conn: Connection, team_id: str, term: str, plan: Plan) -> float:
    """The faster of two searches for ``term`` with ``plan``, in ms."""
    chosen = search.plan
    search.plan = lambda *args: plan
    try:
        best = float("inf")
        for _ in range(2):
            started = time.perf_counter()
            search.contact_ids(conn, team_id, term, 0, 10)
            best = min(best, (time.perf_counter() - started) * 1000)
        return best
    finally:
        search.plan = chosen


def ways(conn: Connection, team_id: str, sample: Sample, term: str) -> tuple[float, ...]:
    costs = search._database(conn).costs
    planned = dataclasses.replace(sample.plan(term.lower(), 10, costs), folded=sample.folded)
    walk = timed(conn, team_id, term, Plan(0, (), folded=sample.folded))
    # The index asked for the trigrams the plan names (none: it holds none of the text's).
    index = timed(conn, team_id, term, Plan(0, planned.pieces)) if planned.pieces else walk
    return timed(conn, team_id, term, planned), walk, index, min(walk, index)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--texts", type=int, default=100, help="texts of each kind")
    args = parser.parse_args()
    with seeded(args.database, args.pg_url, args.contacts) as (db, _, team_id, rows):
        texts = {
            kind: [term for term in terms if len(term) >= 3][: args.texts]
            for kind, terms in kinds(rows, seed=11).items()
        }
        with db.engine.connect() as conn:
            measure(conn, team_id, texts, args.samples)


def measure(conn: Connection, team_id: str, texts: dict[str, list[str]], samples: int) -> None:
    """Print, for each kind, p50 / p99 of each way over its texts, a sample for every
    ``len(texts) / samples`` of them."""
    taken = [search._take(conn, team_id) for _ in range(samples)]
    print(f"| search text | {' | '.join(WAYS)} |", flush=True)
    print("|---|" + "---:|" * len(WAYS), flush=True)
    for kind, terms in texts.items():
        if not terms:
            continue
        figures = [ways(conn, team_id, taken[i % samples], term) for i, term in enumerate(terms)]
        print(
            f"| {kind} | "
            + " | ".join(_spread(sorted(f[way] for f in figures)) for way in range(len(WAYS)))
            + " |",
            flush=True,
        )


def _spread(times: list[float]) -> str:
    return f"{statistics.median(times):.2f} / {times[max(0, round(len(times) * 0.99) - 1)]:.2f} ms"


if __name__ == "__main__":
    main()
