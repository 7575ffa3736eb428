"""Load untrusted model artifacts and run predictions in a separate, resource-limited process.

``loaders`` knows the formats (and is copied into deployable packages as ``model_loader.py``),
``runner`` is the child process, ``process`` starts it from the parent. No Django anywhere here.
"""
