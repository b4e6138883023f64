"""Automatic checks of the labs: one module per lab (``lab01_data_validation``, ...).

Each check returns a list of ``checks.CheckResult``; the lab calls it via
``checks.run_check`` so the student sees ✓ / ✗ with a hint.
"""
