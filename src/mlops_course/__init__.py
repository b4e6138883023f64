"""Shared helpers of the course «Введение в MLOps».

Two sides, one direction of imports. The *system side* is the MLOps system the course
builds, grouped like the lecture's architecture slide around the core ``config`` (paths,
work directory, seeds, the data schema):

* ``scenario``      — the simulated delivery business (generator, drift, incidents, streams);
* ``model``         — validation, training, evaluation and cost, retraining strategies;
* ``versioning``    — MLflow tracking and registry, environment capture, fingerprints;
* ``orchestration`` — the DVC pipeline's stages;
* ``serving``       — the FastAPI service;
* ``monitoring``    — drift statistics, online detectors, the monitoring job;
* ``automation``    — test runs and retraining triggers.

The *teaching side*, ``classroom``, holds the course's own machinery (lab checks,
quizzes, maps, plots, notebook helpers). It may import the system side; the system side
never imports it.
"""

import warnings

__version__ = "0.1.0"

# MLflow and Evidently import tqdm.auto, which warns inside Jupyter when ipywidgets is
# not installed: a progress-bar warning in every notebook output is noise, not a lesson.
warnings.filterwarnings("ignore", message="IProgress not found")
