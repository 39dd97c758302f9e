"""The Ray backend of :func:`tvlens.run.grid.grid`: one actor per model, its cells in order.

Each model gets one actor (:class:`tvlens.run.grid.CellWorker` under ``ray.remote``) that loads
the model on its first cell and keeps it for the others; the actors run in parallel as the
cluster's CPUs and GPUs allow, and each is killed as soon as its last cell is back, which
frees its resources (and its model's memory) for the next. A cell whose actor dies (killed,
out of memory) is recorded as failed; the rest of the grid goes on.

Without ``address`` a local Ray instance sized to this machine is started and stopped at
the end; with one, the driver joins that cluster. A Ray already initialized in this
process (``ray.init`` in a notebook) is used as is and left running.

On a cluster, tvlens (and the model packages) must be installed on every node, and the
grid folder must be on a file system every node sees, at the same path.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tvlens.run.grid_cells import Cell, CellWorker, Loader

if TYPE_CHECKING:
    from tvlens.run.grid_cells import _Book
    from tvlens.run.plan import RunPlan

__all__ = ["local_cpus", "run_on_ray"]

# Only small records travel through the object store: keep Ray's share of memory small.
_LOCAL_OBJECT_STORE_BYTES = 256 * 2**20
# Passed to the actors, so that a cluster's workers load models like this process does.
_ENV_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME", "TVLENS_CACHE",
             "TOKENIZERS_PARALLELISM")  # fmt: skip


def local_cpus() -> int:
    """The CPUs this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


def _node_capacity(ray: Any) -> tuple[float, float]:
    """The most CPUs and GPUs one alive node has (an actor cannot span nodes)."""
    try:
        nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    except Exception:  # ray.nodes is a developer API; fall back to the totals
        nodes = []
    if not nodes:
        nodes = [ray.cluster_resources()]
    return (
        max(float(n.get("CPU", 0)) for n in nodes),
        max(float(n.get("GPU", 0)) for n in nodes),
    )


def _start(ray: Any, address: str | None, n_models: int, num_cpus: int | float | None) -> bool:
    """Join ``address``, or start a local instance; whether this call started Ray."""
    if ray.is_initialized():
        return False
    if address is not None:
        ray.init(address=address)
        return True
    machine = local_cpus()
    per_actor = num_cpus or max(1, machine // n_models)
    if per_actor > machine:
        raise ValueError(
            f"num_cpus={num_cpus} per model is more than this machine's {machine} CPU(s)"
        )
    # Sized to what the actors can use: a CPU Ray would not schedule only starts idle workers.
    ray.init(
        num_cpus=max(int(per_actor), min(machine, int(per_actor * n_models))),
        include_dashboard=False,
        object_store_memory=_LOCAL_OBJECT_STORE_BYTES,
    )
    return True


def run_on_ray(
    todo: Sequence[tuple[Cell, RunPlan]],
    load: Loader,
    book: _Book,
    *,
    address: str | None,
    num_cpus: int | float | None,
    num_gpus: int | float,
) -> dict[str, Any]:
    """Run ``todo`` on Ray, recording each cell in ``book`` as it comes back.

    Returns:
        What ``grid.json`` records of the backend (Ray version, address, resources).

    Raises:
        ValueError: if no node has the CPUs or GPUs asked per model.
    """
    import ray

    models = list(dict.fromkeys(c.model for c, _ in todo))
    started = _start(ray, address, len(models), num_cpus)
    actors: dict[str, Any] = {}
    try:
        total_cpus = float(ray.cluster_resources().get("CPU", 0))
        per_actor = _cpus_per_actor(ray, len(models), total_cpus, num_cpus, num_gpus)
        # a local instance this call started inherits this environment already
        local = started and address is None
        env = {} if local else {k: os.environ[k] for k in _ENV_VARS if k in os.environ}
        _start_actors(ray, load, models, actors, per_actor, num_gpus, env)
        _run_cells(ray, todo, actors, book)
        return {
            "name": "ray",
            "ray_version": ray.__version__,
            "address": address,
            "cpus_per_actor": per_actor,
            "gpus_per_actor": num_gpus,
            "cluster_cpus": total_cpus,
            "started_local_instance": local,
        }
    finally:
        for actor in actors.values():
            ray.kill(actor)
        if started:
            ray.shutdown()


def _cpus_per_actor(
    ray: Any,
    n_models: int,
    total_cpus: float,
    num_cpus: int | float | None,
    num_gpus: int | float,
) -> int | float:
    """The CPUs of each model's actor (``num_cpus``, or the cluster's shared out).

    Raises:
        ValueError: if no node has the CPUs or GPUs asked per model.
    """
    node_cpus, node_gpus = _node_capacity(ray)
    per_actor = num_cpus or max(1.0, min(node_cpus, total_cpus // n_models))
    if per_actor > node_cpus or num_gpus > node_gpus:
        raise ValueError(
            f"each model's actor asks for {per_actor:g} CPU(s) and {num_gpus:g} GPU(s), "
            f"but the largest node of this Ray cluster has {node_cpus:g} CPU(s) and "
            f"{node_gpus:g} GPU(s): lower --num-cpus / --num-gpus"
        )
    return per_actor


def _start_actors(
    ray: Any,
    load: Loader,
    models: Sequence[str],
    actors: dict[str, Any],
    per_actor: int | float,
    num_gpus: int | float,
    env: dict[str, str],
) -> None:
    """One actor per model into ``actors`` (filled as they start, so all are freed after)."""
    remote = ray.remote(CellWorker)
    tag = uuid.uuid4().hex[:8]
    for m in models:
        name = f"tvlens-grid-{tag}-{m}"
        opts: dict[str, Any] = {
            "name": name,
            "num_cpus": per_actor,
            "num_gpus": num_gpus,
            "max_restarts": 0,
        }
        if env:
            opts["runtime_env"] = {"env_vars": env}
        threads = int(per_actor) if not num_gpus else None
        actors[m] = remote.options(**opts).remote(
            load, m, threads=threads, backend="ray", actor=name
        )


def _run_cells(
    ray: Any,
    todo: Sequence[tuple[Cell, RunPlan]],
    actors: dict[str, Any],
    book: _Book,
) -> None:
    """Queue every cell on its model's actor; record each as it comes back, and free an
    actor once its model's cells are done."""
    from ray.exceptions import RayActorError, RayError

    pending: dict[Any, Cell] = {}
    left = {m: 0 for m in actors}
    for cell, plan in todo:
        pending[actors[cell.model].run.remote(cell, plan)] = cell
        left[cell.model] += 1
        book.cells[cell.key]["status"] = "running"  # queued on its model's actor
    book.write()
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            cell = pending.pop(ref)
            try:
                rec = ray.get(ref)
            except RayActorError as err:
                rec = _lost(cell, f"the Ray actor running {cell.model}'s cells died", err)
            except RayError as err:
                rec = _lost(cell, "Ray could not run the cell", err)
            book.record(cell, rec)
            left[cell.model] -= 1
            if not left[cell.model]:  # free its CPUs, GPUs and memory for the next model
                ray.kill(actors.pop(cell.model))


def _lost(cell: Cell, what: str, err: BaseException) -> dict[str, Any]:
    first = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return {
        "status": "failed",
        "error": f"{what} ({type(err).__name__}: {first}); its results folder keeps the "
        "tasks it finished, and a rerun resumes it",
        "worker": {"backend": "ray", "actor": None},
    }
