"""Versioning of what makes a model: MLflow tracking and the registry, the environment it
was trained in, and fingerprints that prove two runs gave the same thing.
"""
