"""Shared helpers of the course «Введение в MLOps».

One module per concern, in the order of the ML lifecycle: ``config`` (paths,
work directory, seeds, the data schema), then data, validation, training,
drift, tracking, serving and monitoring.
"""

__version__ = "0.1.0"
