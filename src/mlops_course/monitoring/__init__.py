"""Watching production: data drift statistics, the online concept-drift detector and the
monitoring job over the service's prediction log.
"""
