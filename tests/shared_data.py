"""The real data sets under ../shared/data (beside the checkout). A test that needs one skips with
the path it looked for when it is absent, except where MODELYARD_REQUIRE_DATA is set (CI sets it):
there a missing data set fails the test, so no test can pass CI by skipping."""

import os
from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def require(path: Path) -> Path:
    """``path`` (a file or folder under ../shared/data) if it exists; else skip, or fail in CI."""
    if not path.exists():
        message = f"real data {path} is absent (../shared/data is not beside this checkout)"
        if os.environ.get("MODELYARD_REQUIRE_DATA"):
            pytest.fail(message + "; MODELYARD_REQUIRE_DATA is set", pytrace=False)
        pytest.skip(message)
    return path


def shared_path(*parts: str) -> Path:
    return require(SHARED_DATA.joinpath(*parts))
