"""Function vectors (Todd et al. 2024): head activations, indirect effects, the vector,
and its comparison with task vectors."""
