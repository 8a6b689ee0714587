"""Diagnosis of failed image builds: a catalog of known failures (`catalog.py`), the analysis of a run's message and
`customization.log` (`analysis.py`), and `python -m components diagnose` for a deployed template (`run.py`)."""

from components.providers.build_run.analysis import Diagnosis, Finding, diagnose, explain_failure, failing_step
from components.providers.build_run.catalog import CATALOG, Entry

__all__ = ["CATALOG", "Diagnosis", "Entry", "Finding", "diagnose", "explain_failure", "failing_step"]
