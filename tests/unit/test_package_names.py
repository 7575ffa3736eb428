import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_top_level_package_shadows_the_standard_library():
    top_level = {p.name for p in ROOT.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    top_level |= {p.stem for p in ROOT.glob("*.py")}
    assert top_level, "expected at least config/ and apps/"
    assert not top_level & set(sys.stdlib_module_names), top_level & set(sys.stdlib_module_names)


def test_app_packages_do_not_shadow_libraries_when_imported_as_apps():
    # apps/ itself must never be on sys.path: apps/packaging would hide the packaging library.
    import packaging.version

    assert "apps" not in Path(packaging.version.__file__).parts
