import json

from apps.packaging.bundle.card import render_model_card
from apps.packaging.bundle.lock import build_lock
from apps.packaging.bundle.scaffold import SCRIPTS, TEMPLATES, render_scaffold

INPUT = {
    "features": [
        {"name": "age", "type": "integer", "nullable": False, "min": 18, "max": 68},
        {"name": "home", "type": "categorical", "nullable": True, "categories": ["own", "rent"]},
    ]
}
OUTPUT = {"outputs": [{"name": "prediction", "type": "categorical", "categories": ["no", "yes"]}]}


def scaffold(lock=None, **overrides):
    arguments = {
        "model_name": "Credit Risk",
        "version_number": 3,
        "artifact_filename": "model.joblib",
        "fmt": "joblib",
        "mlflow_root": "",
        "input_schema": INPUT,
        "output_schema": OUTPUT,
        "trusted_types": ["sklearn.pipeline.Pipeline"],
        "lock": lock,
    }
    return render_scaffold(**(arguments | overrides))


def test_the_scripts_are_the_templates_unchanged():
    files = scaffold()
    for name in SCRIPTS:
        assert files[name] == (TEMPLATES / name).read_text()
        compile(files[name], name, "exec")


def test_package_json_holds_the_per_model_values():
    package = json.loads(scaffold()["package.json"])
    assert package == {
        "artifact_filename": "model.joblib",
        "format": "joblib",
        "input_schema": INPUT,
        "mlflow_root": "",
        "model_name": "Credit Risk",
        "model_version": 3,
        "output_schema": OUTPUT,
        "trusted_types": ["sklearn.pipeline.Pipeline"],
    }
    assert json.loads(scaffold()["schema.json"]) == {"input_schema": INPUT, "output_schema": OUTPUT}


def test_the_dockerfile_uses_the_locked_python_and_installs_the_lock():
    lock = build_lock(python="3.12.4", packages={"pandas": "2.2.1", "numpy": "1.26.4"}, declared="")
    files = scaffold(lock)
    dockerfile = files["Dockerfile"]
    assert dockerfile.splitlines()[3] == "FROM python:3.12-slim"
    assert "RUN pip install --no-cache-dir -r requirements.lock pyarrow\n" in dockerfile
    assert "EXPOSE 8080" in dockerfile and 'CMD ["python", "serve.py"]' in dockerfile
    assert "docker build -t credit-risk:v3 ." in dockerfile
    assert files["requirements.lock"] == lock.text


def test_without_a_lock_the_image_installs_the_scripts_packages():
    files = scaffold()
    assert "FROM python:3.11-slim" in files["Dockerfile"]
    assert "RUN pip install --no-cache-dir pandas numpy pyarrow\n" in files["Dockerfile"]
    assert "requirements.lock" not in files


def test_the_same_inputs_give_the_same_files():
    lock = build_lock(python="3.11.7", packages={"numpy": "1.26.4"}, declared="")
    assert scaffold(lock) == scaffold(lock)


def test_the_model_card_covers_every_section():
    lock = build_lock(python="3.11.7", packages={"scikit-learn": "1.4.2"}, declared="scikit-learn>=1.5")
    card = render_model_card(
        model={
            "name": "credit-risk",
            "description": "Scores loan applications.\nNot for employment decisions.",
            "team": {"name": "Risk", "slug": "risk"},
            "business_owner": {"username": "ana"},
            "task_type": "binary_classification",
        },
        version={
            "number": 3,
            "framework": "sklearn",
            "format": "joblib",
            "safe_format": False,
            "artifact_sha256": "ab" * 32,
            "input_schema": INPUT,
            "output_schema": OUTPUT,
            "metrics": {"accuracy": 0.912345, "auc": 0.95},
        },
        validation={
            "passed": False,
            "sample_rows": 500,
            "checks": [{"name": "predicts", "status": "pass", "detail": "ran | fine"}],
        },
        lock=lock,
    )
    for expected in [
        "# Model card: credit-risk, version 3",
        "Scores loan applications.",
        "| Owner team | Risk |",
        "| Business owner | ana |",
        "| Task | Binary classification |",
        "| Safe format | no: loading it can run arbitrary code",
        "| `age` | integer | no | 18 to 68 |",
        "| `home` | categorical | yes | own, rent |",
        "| `prediction` | categorical | no, yes |",
        "| accuracy | 0.9123 |",
        "| predicts | pass | ran \\| fine |",
        "Python 3.11.7; 1 pinned package in",
        "Overall: **failed**, on 500 reference rows",
        "- scikit-learn>=1.5 is declared but 1.4.2 was captured",
        "docker build -t credit-risk:v3 .",
        "python batch.py input.csv scored.csv",
        '"age": 18',
    ]:
        assert expected in card, expected


def test_the_model_card_tolerates_missing_fields():
    card = render_model_card(
        model={}, version={}, validation=None, lock=build_lock(python="", packages={}, declared="")
    )
    assert "No description was given" in card
    assert "No input schema was recorded" in card
    assert "No training metrics were recorded" in card
    assert "has not been validated" in card
