"""The check that requirements.lock can import what the model needs. No database."""

from apps.packaging.environment_check import CHECK, check_lock_provides, missing_distributions, model_modules
from apps.packaging.validation import Report


def verdict(modules, locked, environment=None):
    report = Report()
    check_lock_provides(report, modules=set(modules), locked=locked, environment=environment or {})
    (check,) = [c for c in report.checks if c.name == CHECK]
    return check


def test_an_empty_lock_fails_naming_the_distribution_not_the_import_name():
    check = verdict({"sklearn", "numpy"}, [])
    assert check.status == "fail"
    assert "scikit-learn (for import sklearn)" in check.detail and "numpy (for import numpy)" in check.detail


def test_a_lock_with_the_distributions_passes():
    assert (
        verdict({"sklearn", "numpy", "joblib"}, ["scikit-learn", "numpy", "joblib", "scipy"]).status == "pass"
    )


def test_the_clients_mapping_counts_for_modules_this_machine_does_not_have():
    env = {"modules": {"acme_models": ["Acme-Models"]}}
    assert verdict({"acme_models"}, ["acme-models"], env).status == "pass"
    check = verdict({"acme_models"}, [], env)
    assert check.status == "fail" and "acme-models (for import acme_models)" in check.detail


def test_a_module_nobody_provides_is_named_by_itself():
    missing = missing_distributions(modules={"not_installed_xyz"}, locked=["numpy"], provided_by={})
    assert missing == {"not_installed_xyz": ["not-installed-xyz"]}


def test_modules_come_from_the_scan_the_format_and_the_client_without_stdlib():
    pickle_modules = model_modules(
        fmt="joblib", details={"modules": ["sklearn", "numpy", "builtins", "copyreg"]}, environment={}
    )
    assert pickle_modules == {"sklearn", "numpy", "joblib"}
    assert model_modules(fmt="onnx", details={}, environment={}) == {"onnxruntime"}
    assert model_modules(fmt="xgboost_ubj", details={}, environment={}) == {"xgboost"}
    assert model_modules(fmt="lightgbm_text", details={}, environment={}) == {"lightgbm"}
    assert model_modules(
        fmt="mlflow_zip", details={"flavors": ["python_function", "onnx"]}, environment={}
    ) == {"onnxruntime"}
    skops = model_modules(fmt="skops", details={}, environment={"modules": {"sklearn": ["scikit-learn"]}})
    assert skops == {"skops", "sklearn"}


def test_no_modules_is_a_skip_not_a_pass():
    assert verdict(set(), []).status == "skip"
