import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[3]
MODULES = ["lock", "sbom", "scaffold", "card", "archive"]
# Run in a fresh interpreter: this test process has Django loaded by pytest-django already.
CHECK = """
import sys
{imports}
sys.path.insert(0, "apps/packaging/bundle/templates")
import schema_check, scoring, serve, batch

def foreign(name):
    if name.split(".")[0] in ("django", "config", "rest_framework"):
        return True
    in_bundle = name in ("apps", "apps.packaging") or name.startswith("apps.packaging.bundle")
    return name.startswith("apps.") and not in_bundle

print("django" in sys.modules, sorted(filter(foreign, sys.modules)))
"""


def test_the_bundle_modules_import_neither_django_nor_the_rest_of_the_project():
    code = CHECK.format(imports="\n".join(f"import apps.packaging.bundle.{m}" for m in MODULES))
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False []"
