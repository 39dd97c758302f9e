"""ICLExample refuses bad input at construction, naming the field and the fix.

The test session runs every tvlens dataclass ``__init__`` through jaxtyping + beartype
(``--jaxtyping-packages``), which refuses wrong types with its own ``TypeCheckError``
before ``__post_init__`` runs. Users run the plain constructor, so these tests call the
unwrapped ``__init__`` (:func:`construct`) to check the messages users see.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from tvlens import ICLExample

GOOD: dict[str, Any] = {
    "demos": (("a", "A"), ("b", "B")),
    "query": "c",
    "answer": "C",
    "dummy_queries": ("d", "e"),
    "task": "to_upper",
}


def construct(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``cls(*args, **kwargs)`` without the test-time jaxtyping wrapper of ``__init__``."""
    obj = object.__new__(cls)
    inspect.unwrap(cls.__init__)(obj, *args, **kwargs)
    return obj


def make(**changes: Any) -> ICLExample:
    return construct(ICLExample, **{**GOOD, **changes})


@pytest.mark.parametrize(
    "changes", [{"answer": None}, {"dummy_queries": "def"}, {"demos": (("a", None),)}]
)
def test_public_constructor_refuses_bad_types(changes: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        ICLExample(**{**GOOD, **changes})


def test_valid_input_unchanged() -> None:
    ex = make(demos=[["a", "A"], ("b", "B")], dummy_queries=["d", "e"])
    assert ex.demos == (("a", "A"), ("b", "B"))
    assert ex.dummy_queries == ("d", "e")
    assert isinstance(ex.demos, tuple) and all(isinstance(p, tuple) for p in ex.demos)
    assert ex == make() == ICLExample(**GOOD)
    assert hash(ex) == hash(ICLExample(**GOOD))
    assert make(demos=(), dummy_queries=()).n_demos == 0
    # a generator is a sequence of pairs too, read once
    assert make(demos=((x, x.upper()) for x in "ab")).demos == GOOD["demos"]
    with pytest.raises(AttributeError):
        ex.query = "z"  # type: ignore[misc]


@pytest.mark.parametrize("field", ["query", "answer", "task"])
@pytest.mark.parametrize("value", [None, 3, b"c", ("c",)])
def test_non_str_text_field_is_type_error(field: str, value: Any) -> None:
    with pytest.raises(TypeError, match=rf"ICLExample\.{field} must be a str, got"):
        make(**{field: value})


def test_none_never_becomes_the_text_none() -> None:
    with pytest.raises(TypeError, match=r"ICLExample\.answer must be a str, got None"):
        make(answer=None)
    with pytest.raises(TypeError, match=r"demos\[1\]\[1\] must be a str, got None"):
        make(demos=(("a", "A"), ("b", None)))


def test_dummy_queries_as_one_string_is_type_error() -> None:
    with pytest.raises(TypeError, match=r"single string 'def'.*3 one-character.*\('def',\)"):
        make(dummy_queries="def")


@pytest.mark.parametrize(
    ("dummies", "problem"),
    [
        (("d", 5), r"dummy_queries\[1\] must be a str, got 5"),
        (("d", None), r"dummy_queries\[1\] must be a str, got None"),
        ({"d": 1}, "dummy_queries must be a sequence of str .in a fixed order., got dict"),
        (7, "dummy_queries must be a sequence of str .in a fixed order., got int"),
        ({"d", "e"}, "dummy_queries must be a sequence of str .in a fixed order., got set"),
    ],
)
def test_dummy_queries_bad_types(dummies: Any, problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        make(dummy_queries=dummies)


@pytest.mark.parametrize(
    ("demos", "problem"),
    [
        ("ab", "demos must be a sequence of .input, output. pairs, got str"),
        ({"a": "A"}, "demos must be a sequence of .input, output. pairs, got dict"),
        (None, "demos must be a sequence of .input, output. pairs, got NoneType"),
        ({("a", "A")}, "demos must be a sequence of .input, output. pairs, got set"),
        (({"a", "A"},), r"demos\[0\] must be an \(input, output\) pair of two str, got \{"),
        (("aA",), r"demos\[0\] must be an \(input, output\) pair of two str, got 'aA'"),
        ((("a", "A"), ("b",)), r"demos\[1\] must be an \(input, output\) pair"),
        ((("a", "A", "x"),), r"demos\[0\] must be an \(input, output\) pair"),
        ((("a", 1),), r"demos\[0\]\[1\] must be a str, got 1"),
        (((2, "A"),), r"demos\[0\]\[0\] must be a str, got 2"),
    ],
)
def test_demos_bad_types_name_the_index(demos: Any, problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        make(demos=demos)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"query": ""}, r"ICLExample\.query is empty or whitespace"),
        ({"query": "  \n"}, r"ICLExample\.query is empty or whitespace"),
        ({"answer": ""}, r"ICLExample\.answer is empty or whitespace"),
        ({"answer": " "}, r"ICLExample\.answer is empty or whitespace"),
        ({"dummy_queries": ("d", " ")}, r"dummy_queries\[1\] is empty or whitespace"),
        ({"demos": (("", "A"),)}, r"demos\[0\]\[0\] \(a demo input\) is empty"),
        ({"demos": (("a", "A"), ("b", "\t"))}, r"demos\[1\]\[1\] \(a demo output\) is empty"),
    ],
)
def test_empty_text_is_value_error(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        make(**changes)


def test_dummy_query_equal_to_query_refused() -> None:
    with pytest.raises(ValueError, match=r"dummy_queries\[1\] is the query itself \('c'\)"):
        make(dummy_queries=("d", "c"))
