"""ICL tasks: the registry, custom task files, and single-token filtering.

Example:
    >>> from tvlens.tasks import get_task, list_tasks
    >>> "to_upper" in list_tasks("algorithmic")
    True
    >>> dev, test = get_task("next_letter").dev_test(10, 10, n_demos=3, seed=0)
"""

from tvlens.tasks.algorithmic import ALGORITHMIC_TASKS
from tvlens.tasks.filtering import FilteredTask, filter_single_token, for_model
from tvlens.tasks.io import read_task_file
from tvlens.tasks.pairs import ON_CONFLICT, OnConflict
from tvlens.tasks.registry import (
    CATEGORIES,
    PAPER_TASKS,
    get_task,
    list_tasks,
    task_category,
    task_table,
    task_table_markdown,
)
from tvlens.tasks.task import Task

__all__ = [
    "ALGORITHMIC_TASKS",
    "CATEGORIES",
    "ON_CONFLICT",
    "PAPER_TASKS",
    "FilteredTask",
    "OnConflict",
    "Task",
    "filter_single_token",
    "for_model",
    "get_task",
    "list_tasks",
    "read_task_file",
    "task_category",
    "task_table",
    "task_table_markdown",
]
