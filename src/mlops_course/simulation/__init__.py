"""The production-year simulator of the maturity levels 0, 1 and 2 (notebooks 08-10, lab05).

``year`` makes the year (weekly batches and scheduled events), ``policies`` says how a team
operates (``LEVEL_0``, ``LEVEL_1``, ``LEVEL_2``, pluggable triggers and gates), ``shelf`` is
the in-memory model registry (champion / challenger / previous_champion), ``simulator``
plays the year under a policy and compares the levels, ``outcomes`` defines time to detect
and time to recover.
"""
