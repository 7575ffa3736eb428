"""Helpers for the package-bundle tests: the template scripts are loaded from their files, as a
package would run them."""

import importlib
import sys

import pytest

from apps.packaging.bundle.scaffold import TEMPLATES


@pytest.fixture(scope="session")
def templates_on_path():
    """The template folder on sys.path, so serve/scoring import schema_check by its plain name."""
    added = str(TEMPLATES) not in sys.path
    if added:
        sys.path.insert(0, str(TEMPLATES))
    yield TEMPLATES
    if added:
        sys.path.remove(str(TEMPLATES))


@pytest.fixture(scope="session")
def schema_check(templates_on_path):
    return importlib.import_module("schema_check")
