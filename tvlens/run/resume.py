"""What ``tvlens run`` checks before it runs or writes: settings, task data, earlier results.

:func:`~tvlens.run.plan.preflight` uses them before a model loads, and
:func:`~tvlens.run.protocol.execute` with the settings that need the model (its class, the
tokenizer) before the first task. Earlier results are read by
:func:`tvlens.run.results_json.read_results` (upgraded to this schema version).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tvlens.run.files import is_ours
from tvlens.run.results_json import read_results
from tvlens.run.tasks import source_mismatch

if TYPE_CHECKING:
    from tvlens.protocol import HookedModel
    from tvlens.run.task_record import TaskRecord


def tokenizer_fingerprint(model: HookedModel) -> dict[str, Any]:
    """What identifies ``model``'s tokenization: class, vocabulary (hashed), attention sink."""
    tok = model.tokenizer
    vocab: dict[str, int] = tok.get_vocab() if hasattr(tok, "get_vocab") else {}
    text = "\n".join(f"{i}\t{t}" for t, i in sorted(vocab.items(), key=lambda kv: (kv[1], kv[0])))
    return {
        "class": type(tok).__name__,
        "vocab_size": len(vocab),
        "vocab_sha256": hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest(),
        "bos_token": getattr(tok, "bos_token", None),
        "prepend_bos": bool(getattr(model.cfg, "default_prepend_bos", True)),
    }


_MISSING = object()
#: The ``meta`` key of how the Runner executed (batch sizes, packing): recorded, never
#: compared, as it changes no result (a run resumes with another ``--batch-size``).
EXECUTION_KEY = "execution"
_VERSIONS = ("tvlens_version", "transformer_lens_version", "torch_version")
_NOT_COMPARED = (*_VERSIONS, EXECUTION_KEY)
# Recorded since a later tvlens: a results.json without them resumes, and records them.
_ADDED_LATER = ("weights_sha256",)


def settings_diff(
    before: dict[str, Any],
    now: dict[str, Any],
    labels: tuple[str, str] = ("in results.json", "this run"),
) -> list[str]:
    """The settings of ``now`` that differ in ``before``, with both values (each followed by
    its label in ``labels``).

    Versions and ``execution`` (batch sizes, packing: they change no result) are not
    compared. A setting recorded only since a later tvlens (``weights_sha256``) and absent from
    ``before`` is not a difference: an older run resumes, and its next write records it.

    Example:
        ``["model_class: TransformerBridge (in results.json) vs HookedTransformer (this run)"]``
    """

    def show(v: Any) -> str:
        return "(not recorded)" if v is _MISSING else repr(v)

    out = []
    for key in (k for k in now if k not in _NOT_COMPARED):
        a, b = before.get(key, _MISSING), now[key]
        if a == b or (a is _MISSING and key in _ADDED_LATER):
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            subs = [s for s in sorted({*a, *b}) if a.get(s, _MISSING) != b.get(s, _MISSING)]
            out += [
                f"{key}.{s}: {show(a.get(s, _MISSING))} ({labels[0]}) vs "
                f"{show(b.get(s, _MISSING))} ({labels[1]})"
                for s in subs
            ]
        else:
            out.append(f"{key}: {show(a)} ({labels[0]}) vs {show(b)} ({labels[1]})")
    return out


def refuse_settings(path: Path, diff: list[str]) -> ValueError:
    """The error for a folder holding a run with other settings, naming each difference."""
    weights = (
        " (weights_sha256 differs: the same model name with other weights, e.g. another "
        "checkpoint or a fine-tune; tvlens does not mix their results)"
        if any(d.startswith("weights_sha256:") for d in diff)
        else ""
    )
    return ValueError(
        f"{path} holds a run with other settings: {'; '.join(diff)}{weights}. Pass another "
        "--out, or run with the settings of that results.json to resume it"
    )


def merge_from_disk(
    out: Path,
    meta: dict[str, Any],
    tasks: dict[str, TaskRecord],
    sources: dict[str, dict[str, Any]],
    upgrade: Callable[[dict[str, Any]], dict[str, Any]] = dict,
) -> bool:
    """Add to ``tasks`` the finished tasks of ``out/results.json`` that ``tasks`` lacks.

    Only results written by tvlens with the same settings are taken, and for a task of
    this run (``sources``) only one computed on the same data. ``upgrade`` maps the meta
    on disk to this tvlens's (settings added since, at their defaults).

    Returns:
        False if that file holds a run with other settings (it must then be kept).
    """
    if not is_ours(out, "results.json"):
        return True  # write_output keeps it and writes next to it
    try:
        read = read_results(out / "results.json")
    except ValueError:
        return False
    if read is None:
        return True
    disk = read.results
    if settings_diff(upgrade(disk.meta), meta):
        return False
    for key, t in disk.tasks.items():
        same = key not in sources or not source_mismatch(key, t.source, sources[key])
        if t.finished and same and not (key in tasks and tasks[key].finished):
            tasks[key] = t
    return True
