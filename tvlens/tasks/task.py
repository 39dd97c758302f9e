"""The :class:`Task` value: ``(input, output)`` pairs and deterministic ICL sampling."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvlens._example import ICLExample
from tvlens.prompts import DEFAULT_FORMAT, PromptFormat, answer_token_ids, require_format
from tvlens.tasks.checks import check_task_fields
from tvlens.tasks.pairs import (
    OnConflict,
    Pair,
    check_on_conflict,
    normalize_pairs,
    read_pairs_file,
    resolve_pairs,
    strip_pairs,
)
from tvlens.tasks.sampling import sample_examples, split_query_inputs

__all__ = ["FilteredTask", "Pair", "Task", "normalize_pairs", "tokenizer_name"]


@dataclass(frozen=True)
class Task:
    """A task: a function given by ``(input, output)`` pairs.

    Attributes:
        name: the task name (copied into every sampled :class:`~tvlens.ICLExample`).
        category: ``"algorithmic"``, ``"translation"``, ``"linguistic"``,
            ``"knowledge"`` or ``"custom"``.
        pairs: the ``(input, output)`` pairs, unique inputs, in a stable order.
        description: one line, e.g. ``"French word -> English word"``.
        source: where the pairs come from.
        input_space: the inputs dummy queries are drawn from (default: the inputs of
            ``pairs``); they need no known output.
        n_conflicts_dropped: how many ``(input, output)`` pairs were dropped when the
            task was built because their input had another output
            (``on_conflict="first"`` or ``"drop"``); 0 otherwise. Not part of equality.
        n_stripped: how many pairs of a task file had whitespace around their input or
            output, stripped when the file was read; 0 otherwise. Not part of equality.

    Build one with :meth:`from_pairs` or :meth:`from_file`, or get a registered one
    with :func:`tvlens.tasks.get_task`.
    """

    name: str
    category: str
    pairs: tuple[Pair, ...]
    description: str = ""
    source: str = ""
    input_space: tuple[str, ...] = field(default=())
    n_conflicts_dropped: int = field(default=0, compare=False, kw_only=True)
    n_stripped: int = field(default=0, compare=False, kw_only=True)

    def __post_init__(self) -> None:
        check_task_fields(self)

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_pairs(
        cls,
        name: str,
        pairs: Iterable[Sequence[str]] | Mapping[str, str],
        category: str = "custom",
        *,
        description: str = "",
        source: str = "",
        input_space: Iterable[str] | None = None,
        on_conflict: OnConflict = "error",
    ) -> Task:
        """A task from ``(input, output)`` pairs or an ``{input: output}`` mapping.

        Identical duplicate pairs are merged. An input with two different outputs
        follows ``on_conflict``: ``"error"`` (default) raises ``ValueError`` listing the
        conflicts, ``"first"`` keeps each input's first output, ``"drop"`` drops every
        conflicting input; the dropped count is :attr:`n_conflicts_dropped`.

        Example:
            >>> task = Task.from_pairs("shout", [("hi", "HI"), ("yo", "YO")])
            >>> len(task), task.category
            (2, 'custom')
        """
        if isinstance(pairs, (str, bytes)):
            raise TypeError(f"task {name!r}: pairs must be (input, output) pairs, not {pairs!r}")
        if isinstance(input_space, str):
            raise TypeError(
                f"task {name!r}: input_space must be a collection of inputs, not the string "
                f"{input_space!r}"
            )
        items = pairs.items() if isinstance(pairs, Mapping) else pairs
        norm, n_dropped = resolve_pairs(items, f"task {name!r}", check_on_conflict(on_conflict))
        return cls(
            name=name,
            category=category,
            pairs=norm,
            description=description,
            source=source,
            input_space=tuple(input_space) if input_space is not None else (),
            n_conflicts_dropped=n_dropped,
        )

    @classmethod
    def from_file(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        category: str | None = None,
        on_conflict: OnConflict = "error",
    ) -> Task:
        """Read a task from a JSON, CSV or TSV file (formats: :mod:`tvlens.tasks.io`).

        Args:
            path: the file.
            name: the task name (default: the tvlens schema's ``"name"``, else the
                file stem).
            category: the category (default: the schema's ``"category"``, else
                ``"custom"``).
            on_conflict: what to do with an input given two different outputs:
                ``"error"`` (default), ``"first"`` or ``"drop"`` (see :meth:`from_pairs`).

        Whitespace around an input or output is stripped (counted in :attr:`n_stripped`);
        pairs that become duplicates or conflicts then follow ``on_conflict``.

        Raises:
            ValueError: naming the file, if it is missing, of an unknown type, empty,
                not JSON, of the wrong shape, or has bad pairs (non-string, empty,
                conflicting duplicates under ``"error"``, a CSV row without exactly 2
                columns).
        """
        policy = check_on_conflict(on_conflict)
        raw, meta, where = read_pairs_file(path)
        raw, n_stripped = strip_pairs(raw)
        pairs, n_dropped = resolve_pairs(raw, where, policy)
        return cls(
            name=name or meta.get("name") or Path(path).stem,
            category=category or meta.get("category") or "custom",
            pairs=pairs,
            description=meta.get("description", ""),
            source=meta.get("source", "") or str(path),
            n_conflicts_dropped=n_dropped,
            n_stripped=n_stripped,
        )

    def to_json(self, path: str | Path) -> Path:
        """Write the task in the tvlens schema (``{"name", ..., "pairs": [[x, y], ...]}``)."""
        path = Path(path)
        data = {
            "name": self.name,
            "category": self.category,
            "description": self.description,
            "source": self.source,
            "built_by": "tvlens.tasks.Task.to_json",
            "version": 1,
            "pairs": [list(p) for p in self.pairs],
        }
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return path

    # ------------------------------------------------------------------- accessors
    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def inputs(self) -> tuple[str, ...]:
        """The inputs, in order."""
        return tuple(x for x, _ in self.pairs)

    @property
    def outputs(self) -> tuple[str, ...]:
        """The outputs, in order (may repeat)."""
        return tuple(y for _, y in self.pairs)

    def as_dict(self) -> dict[str, str]:
        """``{input: output}``."""
        return dict(self.pairs)

    def _size_note(self) -> str:
        """Extra context for size errors (overridden by filtered tasks)."""
        return ""

    # -------------------------------------------------------------------- sampling
    def sample(
        self,
        n: int,
        n_demos: int = 5,
        n_dummy: int = 2,
        seed: int = 0,
        *,
        exclude_queries: Iterable[str] = (),
    ) -> list[ICLExample]:
        """Sample ``n`` ICL examples, deterministically.

        Queries are drawn without replacement from the task's pairs (minus
        ``exclude_queries``) in a seeded shuffle; when ``n`` exceeds that pool, a new
        shuffle of the pool follows, so queries repeat as evenly as possible. For each
        query, ``n_demos`` demonstrations are drawn from the other pairs (never one with
        the query's input) and ``n_dummy`` distinct dummy queries from ``input_space``
        minus the query. Only ``random.Random(seed)`` over the stored pair order is
        used, so the same seed gives the same examples on every machine and for every
        ``PYTHONHASHSEED``.

        For disjoint dev and test queries pass the dev queries as ``exclude_queries``
        of the test sample, or use :meth:`dev_test`.

        Args:
            n: number of examples.
            n_demos: demonstrations per example (0 gives zero-shot examples).
            n_dummy: dummy queries per example (used to read the task vector).
            seed: the random seed.
            exclude_queries: inputs never used as queries (they can still be demos or
                dummy queries).

        Raises:
            ValueError: naming the task and the counts, when there are too few pairs
                for ``n_demos + 1``, no queries left after ``exclude_queries``, or too
                few inputs for ``n_dummy`` dummy queries.

        Example:
            >>> task = Task.from_pairs("up", [(c, c.upper()) for c in "abcdefgh"])
            >>> ex = task.sample(2, n_demos=3, n_dummy=1, seed=0)[0]
            >>> ex.query not in [x for x, _ in ex.demos], ex.answer == ex.query.upper()
            (True, True)
        """
        return sample_examples(self, n, n_demos, n_dummy, seed, exclude_queries)

    def split_queries(
        self, n_dev: int = 50, n_test: int = 50, seed: int = 0
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Two disjoint sets of query inputs, for dev and test.

        With at least ``n_dev + n_test`` pairs the sets have exactly ``n_dev`` and
        ``n_test`` inputs; otherwise the inputs are divided in proportion
        ``n_dev : n_test`` (at least one each), and :meth:`sample` repeats queries.

        Raises:
            ValueError: if the task has fewer than 2 pairs or a count is < 1.
        """
        return split_query_inputs(self, n_dev, n_test, seed)

    def dev_test(
        self,
        n_dev: int = 50,
        n_test: int = 50,
        n_demos: int = 5,
        n_dummy: int = 2,
        seed: int = 0,
    ) -> tuple[list[ICLExample], list[ICLExample]]:
        """Dev and test examples whose queries are disjoint (the paper: 50 and 50).

        The query inputs are split with :meth:`split_queries`; dev examples (seed
        ``seed``) query only the dev inputs and test examples (seed ``seed + 1``) only
        the test inputs. Demonstrations and dummy queries come from the whole task.

        Example:
            >>> task = Task.from_pairs("up", [(c, c.upper()) for c in "abcdefghij"])
            >>> dev, test = task.dev_test(4, 4, n_demos=2, n_dummy=1)
            >>> {e.query for e in dev} & {e.query for e in test}
            set()
        """
        dev_q, test_q = self.split_queries(n_dev, n_test, seed)
        inputs = set(self.inputs)
        dev = self.sample(n_dev, n_demos, n_dummy, seed, exclude_queries=inputs - set(dev_q))
        test = self.sample(n_test, n_demos, n_dummy, seed + 1, exclude_queries=inputs - set(test_q))
        return dev, test

    # ------------------------------------------------------------------- filtering
    def single_token(self, tokenizer: Any, fmt: PromptFormat = DEFAULT_FORMAT) -> FilteredTask:
        """This task keeping only single-token answers (:meth:`short_answers` with 1).

        The answer is tokenized with :func:`tvlens.prompts.answer_token_ids` (``fmt``'s
        ``output_prefix`` included, e.g. the leading space of ``" Paris"``). Pairs whose
        answer is several tokens are dropped, not scored on their first token. Dummy
        queries keep drawing from this task's ``input_space``; the result keeps its
        :attr:`n_conflicts_dropped`.

        Raises:
            ValueError: if no pair is left (naming the task, the counts and tokenizer).
                Asking a filtered task for more pairs than it kept also raises, from
                :meth:`sample`, with the kept and dropped counts.
        """
        return self.short_answers(tokenizer, fmt, max_tokens=1)

    def short_answers(
        self, tokenizer: Any, fmt: PromptFormat = DEFAULT_FORMAT, *, max_tokens: int = 1
    ) -> FilteredTask:
        """This task keeping the pairs whose answer is 1 to ``max_tokens`` tokens.

        ``max_tokens=1`` is the single-token suite the next-token modes score; a larger
        value keeps the answers the generation modes can produce within ``max_new_tokens``.

        Raises:
            ValueError: if ``max_tokens`` is not an int >= 1, or no pair is left.
        """
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise ValueError(f"max_tokens must be an int >= 1, got {max_tokens!r}")
        fmt = require_format(fmt)
        kept: list[Pair] = []
        dropped: list[Pair] = []
        for x, y in self.pairs:
            n = len(answer_token_ids(tokenizer, y, fmt))
            (kept if 1 <= n <= max_tokens else dropped).append((x, y))
        name = tokenizer_name(tokenizer)
        if not kept:
            what = "a single token" if max_tokens == 1 else f"at most {max_tokens} tokens"
            raise ValueError(
                f"task {self.name!r}: no answer is {what} for tokenizer {name!r} "
                f"(kept 0, dropped {len(dropped)} of {len(self)}; format {fmt.name!r})"
            )
        return FilteredTask(
            name=self.name,
            category=self.category,
            pairs=tuple(kept),
            description=self.description,
            source=self.source,
            input_space=self.input_space,
            n_conflicts_dropped=self.n_conflicts_dropped,
            n_stripped=self.n_stripped,
            dropped=tuple(dropped),
            tokenizer_name=name,
            format_name=fmt.name,
            max_answer_tokens=max_tokens,
        )


def tokenizer_name(tokenizer: Any) -> str:
    """A readable name for a tokenizer: its ``name_or_path``, else its class name."""
    name = getattr(tokenizer, "name_or_path", None)
    return str(name) if name else type(tokenizer).__name__


@dataclass(frozen=True)
class FilteredTask(Task):
    """A :class:`Task` restricted to single-token answers, with what was dropped.

    Built by :meth:`Task.single_token` (:func:`tvlens.tasks.filter_single_token`,
    :func:`tvlens.tasks.for_model`).

    Attributes:
        dropped: the ``(input, output)`` pairs removed because the output is not one
            token (in the original order).
        tokenizer_name: the tokenizer's ``name_or_path``.
        format_name: the :class:`~tvlens.PromptFormat` name the answers were
            tokenized under.
    """

    dropped: tuple[Pair, ...] = ()
    tokenizer_name: str = ""
    format_name: str = ""
    max_answer_tokens: int = 1

    @property
    def n_kept(self) -> int:
        """Number of pairs kept (``len(self)``)."""
        return len(self.pairs)

    @property
    def n_dropped(self) -> int:
        """Number of pairs dropped for a multi-token answer."""
        return len(self.dropped)

    @property
    def n_original(self) -> int:
        """Number of pairs before filtering."""
        return self.n_kept + self.n_dropped

    def summary(self) -> str:
        """One line, e.g. ``"country_capital: kept 150 of 193 pairs (43 dropped) ..."``."""
        conflicts = (
            f"; {self.n_conflicts_dropped} conflicting pairs dropped when the task was read"
            if self.n_conflicts_dropped
            else ""
        )
        return (
            f"{self.name}: kept {self.n_kept} of {self.n_original} pairs ({self.n_dropped} "
            f"dropped: answers over {self.max_answer_tokens} token(s)) for tokenizer "
            f"{self.tokenizer_name!r}, "
            f"format {self.format_name!r}{conflicts}"
        )

    def _size_note(self) -> str:
        return (
            f" after filtering answers to {self.max_answer_tokens} token(s) (kept "
            f"{self.n_kept}, dropped {self.n_dropped} "
            f"of {self.n_original}; tokenizer {self.tokenizer_name!r})"
        )
