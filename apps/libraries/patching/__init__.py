"""The patch flow: IT approves "upgrade X to Y" → the lock is patched, an isolated environment is
built with it, the patched version is packaged and validated inside that environment, and its
predictions are compared with the current version's.

Pure parts (no Django): ``lockpatch`` (rewrite pins, find conflicts), ``environments`` (build a
virtual environment with pip and ask it what it resolved), ``parity`` (compare predictions).
Django parts: ``services`` (approve, run, refresh), ``tasks`` (the Celery task), ``selectors``.
"""
