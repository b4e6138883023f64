"""Running the stages in order: the DVC pipeline's stage entry points."""
