"""The sandbox package stays free of Django and of the rest of the platform, and loaders.py stands
alone (it is copied into deployable packages)."""

import ast
import subprocess
import sys
from pathlib import Path

from tests.unit.packaging.conftest import PROJECT_ROOT

SANDBOX = PROJECT_ROOT / "apps" / "packaging" / "sandbox"


def test_sandbox_modules_import_without_django_or_the_platform():
    code = (
        "import sys\n"
        "import apps.packaging.sandbox.runner, apps.packaging.sandbox.process\n"
        "assert 'django' not in sys.modules, 'django imported'\n"
        "ours = ('apps.packaging', 'apps.packaging.sandbox')\n"
        "outside = [m for m in sys.modules if m.split('.')[0] in ('config', 'rest_framework', 'celery')\n"
        "           or (m.startswith('apps.') and not m.startswith(ours))]\n"
        "assert not outside, outside\n"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )

    assert result.returncode == 0, result.stderr


def test_loaders_imports_only_the_standard_library_numpy_and_pandas_at_the_top():
    tree = ast.parse(Path(SANDBOX / "loaders.py").read_text())
    top_level = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top_level.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            top_level.add((node.module or "").split(".")[0])
    anywhere = {
        alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    } | {(node.module or "").split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}

    assert top_level - sys.stdlib_module_names == {"numpy", "pandas"}
    assert not anywhere & {"apps", "config", "django"}
