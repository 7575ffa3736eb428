"""Monitoring statistics without Django: profiles of reference data and of windows of predictions,
drift and data-quality tests, multiplicity correction, prediction drift and check runs.

Entry points: ``profiles.build_reference_profile`` / ``profile_window`` / ``merge_profiles``, then
``checks.run_checks``. Everything here works on NumPy/SciPy/pandas and JSON-serialisable dicts, so
the Django app stores profiles as JSON and calls these functions from its services and tasks.
"""
