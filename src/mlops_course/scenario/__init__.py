"""The simulated delivery business: the order generator with its ground truth, and the
named problems (data drift, concept drift, quality incidents) dialled into batches and
weekly streams.
"""
