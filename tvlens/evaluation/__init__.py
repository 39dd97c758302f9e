"""Evaluation: extraction of task vectors, the modes (Regular, Hypothesis, Baseline), the
layer sweep, scoring and statistics."""
