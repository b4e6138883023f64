"""Shared helpers of the course «Введение в MLOps».

One module per concern, in the order of the ML lifecycle: ``config`` (paths,
work directory, seeds, the data schema), then data, validation, training,
drift, tracking, serving and monitoring.
"""

import warnings

__version__ = "0.1.0"

# MLflow and Evidently import tqdm.auto, which warns inside Jupyter when ipywidgets is
# not installed: a progress-bar warning in every notebook output is noise, not a lesson.
warnings.filterwarnings("ignore", message="IProgress not found")
