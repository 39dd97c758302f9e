"""The execution layer: one Runner per model, its configuration, batching, packing,
patches and decoding."""
