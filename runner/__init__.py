"""Executing runs: the composition root, the component SDK, target adapters and the worker."""
