"""The course's teaching machinery, not part of the ML system it teaches: lab checks,
quizzes, the course map, the system map, plots, the lifecycle recorder of notebook 03 and
the notebook save hook.

This side may import the system side (``scenario``, ``model``, ``versioning``,
``orchestration``, ``serving``, ``monitoring``, ``automation``); the system side never
imports it (``tests/unit/test_layout.py``).
"""
