"""Self-check quizzes: one module ``q<notebook stem>`` per notebook, with ``QUESTIONS``."""
