"""The model itself: data validation, training, evaluation with the cost of errors,
and retraining strategies.
"""
