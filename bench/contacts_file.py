"""A realistic contacts CSV for import benchmarks and tests.

    .venv/bin/python -m bench.contacts_file OUT.csv [--rows 1000000] [--seed 7]

Columns as a mailing tool exports them: ``E-mail``, ``First Name``, ``Last Name``,
``Company``, ``Tags`` and three custom fields (``Plan`` text, ``Seats`` number, ``Signed Up``
date). About 1 % of the rows repeat an earlier email (in other letter cases), about 0.5 %
are bad (an address without ``@``, a number that is not one, a date that is not one). The
file is written as it is generated: any number of rows in constant memory.
"""

from __future__ import annotations

import argparse
import csv
import random
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from bench.search_bench import DOMAINS, FIRST, LAST

HEADER = ["E-mail", "First Name", "Last Name", "Company", "Tags", "Plan", "Seats", "Signed Up"]
FIELDS = {"Plan": 0, "Seats": 1, "Signed Up": 2}  # custom field name → SendX field type
COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark Industries", "Wayne, Inc.", ""]
PLANS = ["free", "starter", "pro", "enterprise"]
TAGS = ["", "", "vip", "newsletter", "beta;vip", "trial"]


def generate(count: int, seed: int = 7) -> Iterator[list[str]]:
    rng = random.Random(seed)
    start = date(2020, 1, 1)
    recent: list[str] = []
    for number in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        roll = rng.random()
        if roll < 0.01 and recent:
            email = rng.choice(recent).upper()
        else:
            email = f"{first}.{last}{number}@{rng.choice(DOMAINS)}".lower()
            if len(recent) < 1000:
                recent.append(email)
            else:
                recent[rng.randrange(1000)] = email
        seats = str(rng.randrange(1, 500))
        signed = (start + timedelta(days=rng.randrange(2000))).isoformat()
        if 0.01 <= roll < 0.012:
            email = email.replace("@", " at ")
        elif 0.012 <= roll < 0.014:
            seats = "many"
        elif 0.014 <= roll < 0.015:
            signed = "yesterday"
        yield [email, first, last, rng.choice(COMPANIES), rng.choice(TAGS), rng.choice(PLANS), seats, signed]


def write(path: Path, count: int, seed: int = 7) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(generate(count, seed))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    write(args.out, args.rows, args.seed)


if __name__ == "__main__":
    main()
