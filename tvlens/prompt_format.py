"""How prompts are written: :class:`PromptFormat`, the named formats, and the check that
examples fit a format (no arrow or demo separator inside the data).

:mod:`tvlens.prompts` re-exports every name here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

from tvlens._example import ICLExample


@dataclass(frozen=True)
class PromptFormat:
    """How demonstrations and queries are rendered as text.

    A demo renders as ``{input_prefix}{x}{arrow}{output_prefix}{y}``, the query as
    ``{input_prefix}{x}{arrow}``, and demos and query are joined by ``demo_sep``; a
    ``preamble`` (an instruction, empty by default) comes first, in ICL and zero-shot
    prompts alike. The named formats are in :data:`FORMATS`.

    Example:
        >>> fmt = PromptFormat()
        >>> fmt.icl([("a", "b")], "c")
        'a -> b\\nc ->'
        >>> PAPER_FORMAT.icl([("a", "b")], "c")
        'example:a->b\\nexample:c->'
    """

    input_prefix: str = ""
    arrow: str = " ->"
    output_prefix: str = " "
    demo_sep: str = "\n"
    name: str = "arrow"
    preamble: str = ""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, str):
                raise TypeError(
                    f"PromptFormat.{f.name} must be a str, got {value!r} ({type(value).__name__})"
                )
        if not self.arrow.strip():
            raise ValueError("PromptFormat.arrow must contain a visible separator, e.g. ' ->'")
        if not self.demo_sep:
            raise ValueError(
                "PromptFormat.demo_sep must be non-empty (it separates demonstrations), e.g. '\\n'"
            )
        if self.demo_sep in self.arrow:
            raise ValueError(
                f"PromptFormat.arrow {self.arrow!r} contains the demo separator "
                f"{self.demo_sep!r}; a prompt would then split inside its own arrow: choose an "
                "arrow without the separator"
            )

        if self.arrow.strip() in self.preamble:
            raise ValueError(
                f"PromptFormat.preamble {self.preamble!r} contains the arrow "
                f"{self.arrow.strip()!r}; θ is read at the arrow, so the instruction must "
                "not hold one: reword it"
            )

    def demo(self, x: str, y: str) -> str:
        """Render one demonstration."""
        return f"{self.input_prefix}{x}{self.arrow}{self.output_prefix}{y}"

    def query(self, x: str) -> str:
        """Render a query: the input followed by the arrow."""
        return f"{self.input_prefix}{x}{self.arrow}"

    def icl(self, demos: Sequence[tuple[str, str]], x: str) -> str:
        """Demonstrations then the query: ``S + x ->`` (zero-shot when ``demos`` is empty)."""
        body = self.demo_sep.join([*(self.demo(a, b) for a, b in demos), self.query(x)])
        return self.preamble + body

    def zero_shot(self, x: str) -> str:
        """The query alone: ``x ->`` (after the preamble, if any)."""
        return self.preamble + self.query(x)

    def answer(self, y: str) -> str:
        """The answer as it appears after the arrow (leading space included if any)."""
        return f"{self.output_prefix}{y}"

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict (inverse of ``PromptFormat(**d)``); an empty ``preamble`` is
        left out, so a format written before preambles existed reads back equal."""
        d = asdict(self)
        if not d["preamble"]:
            del d["preamble"]
        return d


DEFAULT_FORMAT = PromptFormat()


PAPER_FORMAT = PromptFormat(
    input_prefix="example:", arrow="->", output_prefix="", demo_sep="\n", name="paper"
)


#: Every named format: the paper's two, and six more for the transfer study (issue 22).
#: ``arrow_unicode``'s ``" →"`` is one token on Gemma 3 and SmolLM2; ``instruction`` is
#: ``arrow`` after a task-agnostic instruction (the same for every task).
FORMATS: dict[str, PromptFormat] = {
    "arrow": DEFAULT_FORMAT,
    "paper": PAPER_FORMAT,
    "qa": PromptFormat(input_prefix="Q: ", arrow="\nA:", demo_sep="\n\n", name="qa"),
    "input_output": PromptFormat(
        input_prefix="Input: ", arrow="\nOutput:", demo_sep="\n\n", name="input_output"
    ),
    "equals": PromptFormat(arrow=" =", name="equals"),
    "colon": PromptFormat(arrow=":", name="colon"),
    "arrow_unicode": PromptFormat(arrow=" \u2192", name="arrow_unicode"),
    "instruction": PromptFormat(
        preamble="Apply the rule shown by the examples to the last input.\n", name="instruction"
    ),
}


def get_format(name_or_format: str | PromptFormat) -> PromptFormat:
    """Look up a format by name (a key of :data:`FORMATS`) or pass one through.

    Example:
        >>> get_format("qa").icl([("France", "Paris")], "Spain")
        'Q: France\\nA: Paris\\n\\nQ: Spain\\nA:'
    """
    if isinstance(name_or_format, PromptFormat):
        return name_or_format
    try:
        return FORMATS[name_or_format]
    except KeyError:
        raise ValueError(
            f"unknown prompt format {name_or_format!r}; choose one of {sorted(FORMATS)}"
        ) from None


def require_format(fmt: Any, arg: str = "fmt") -> PromptFormat:
    """``fmt`` if it is a :class:`PromptFormat`, else a ``TypeError`` naming ``arg``."""
    if not isinstance(fmt, PromptFormat):
        hint = " (a format name: look it up with get_format(name))" if isinstance(fmt, str) else ""
        raise TypeError(f"{arg} must be a PromptFormat, got {fmt!r} ({type(fmt).__name__}){hint}")
    return fmt


def check_examples(examples: Sequence[ICLExample], fmt: PromptFormat) -> None:
    """Refuse examples whose text would break the prompt structure of ``fmt``.

    The arrow's position is where θ is read and patched, and the demo separator is where
    one demonstration ends, so neither may occur inside the data: a query, dummy query
    or demo input that already ends with the arrow (``"France ->"``: the format adds
    it), any field that contains the arrow (``fmt.arrow.strip()``) or ``fmt.demo_sep``
    (e.g. a line break inside a demo). Empty and non-text fields are refused earlier,
    by :class:`ICLExample` itself.

    Raises:
        TypeError: if ``fmt`` is not a :class:`PromptFormat` or an example is not an
            :class:`ICLExample`.
        ValueError: naming the example index, the field, the text and the fix.
    """
    _checked(examples, fmt)


def _checked(examples: Any, fmt: Any) -> list[ICLExample]:
    """:func:`check_examples`, returning the examples as a list (a generator is read once)."""
    fmt = require_format(fmt)
    if isinstance(examples, (str, bytes, ICLExample)) or not isinstance(examples, Iterable):
        raise TypeError(f"examples must be a sequence of ICLExample, got {type(examples).__name__}")
    rows = list(examples)
    arrow, sep = fmt.arrow.strip(), fmt.demo_sep
    for i, ex in enumerate(rows):
        if not isinstance(ex, ICLExample):
            raise TypeError(f"examples[{i}] must be an ICLExample, got {type(ex).__name__}")
        items: list[tuple[str, str, bool]] = [("query", ex.query, True)]
        items.append(("answer", ex.answer, False))
        for j, (x, y) in enumerate(ex.demos):
            items += [(f"demos[{j}] input", x, True), (f"demos[{j}] output", y, False)]
        items += [(f"dummy_queries[{j}]", d, True) for j, d in enumerate(ex.dummy_queries)]
        for field, text, is_input in items:
            where = f"example {i}: {field} {text!r}"
            if is_input and text.rstrip().endswith(arrow):
                bare = text.rstrip()[: -len(arrow)].rstrip()
                raise ValueError(
                    f"{where} already ends with the arrow {arrow!r}; the format {fmt.name!r} "
                    f"adds the arrow itself, pass the bare input {bare!r}"
                )
            if arrow in text:
                raise ValueError(
                    f"{where} contains the arrow {arrow!r} of format {fmt.name!r}; the prompt "
                    "would have an extra arrow where θ is read: remove it from the data or "
                    "use a format with another arrow"
                )
            if sep in text:
                raise ValueError(
                    f"{where} contains the demo separator {sep!r} of format {fmt.name!r}; it "
                    "would split a demonstration in two: remove it from the data or use a "
                    "format with another demo_sep"
                )
    return rows
