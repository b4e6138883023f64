"""What runs without a person: the test run of the DevOps step and the retraining trigger."""
