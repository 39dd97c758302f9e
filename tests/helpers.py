"""Example builders for tests."""

from __future__ import annotations

import random
import string

from tvlens import ICLExample


def letter_examples(n: int, n_demos: int = 3, n_dummy: int = 2, seed: int = 0) -> list[ICLExample]:
    """to_upper-like examples of varying demo counts (so prompt lengths differ)."""
    rng = random.Random(seed)
    letters = list(string.ascii_lowercase)
    out = []
    for i in range(n):
        picks = rng.sample(letters, n_demos + 1 + n_dummy)
        k = 1 + (i % n_demos)  # vary the number of demos -> ragged lengths
        demos = tuple((x, x.upper()) for x in picks[:k])
        query = picks[n_demos]
        dummies = tuple(picks[n_demos + 1 :])
        out.append(
            ICLExample(
                demos=demos,
                query=query,
                answer=query.upper(),
                dummy_queries=dummies,
                task="to_upper",
            )
        )
    return out
