"""The monitor template of each model type: which windows, baseline, significance level and
correction, how often, and the slice heuristics the root-cause finder reads (as data)."""

from apps.registry.models import TaskType

COMMON = {
    "windows": ["hour", "day"],
    "baseline": "reference",
    "q": 0.05,
    "correction": "bh",
    "floors": {},
    "overrides": {},
    "features": None,
    "schedule_minutes": 60,
    "min_rows": 100,
}

TEMPLATES: dict[str, dict] = {
    TaskType.BINARY: {
        "name": "Binary classifier",
        "description": "Input drift and quality, predicted-class shares, score drift, realised and "
        "estimated (CBPE) performance.",
        # Credit-style scorecards: where does a problem concentrate — by score bracket and age band.
        "config": {**COMMON, "slices": [["score bracket", "age"]]},
    },
    TaskType.MULTICLASS: {
        "name": "Multiclass classifier",
        "description": "Input drift and quality, class shares with intervals, top-score drift.",
        "config": {**COMMON, "slices": [["predicted class"]]},
    },
    TaskType.REGRESSION: {
        "name": "Regression",
        "description": "Input drift and quality, prediction drift, realised RMSE/MAE when outcomes arrive.",
        "config": {**COMMON, "slices": [["prediction bracket"]]},
    },
    TaskType.RANKING: {
        "name": "Ranking / recommender",
        "description": "Input drift and quality, score drift, NDCG when relevance arrives.",
        "config": {
            **COMMON,
            "windows": ["day", "week"],
            "schedule_minutes": 360,
            "slices": [["item popularity"]],
        },
    },
    TaskType.TEXT: {
        "name": "Text classifier",
        "description": "Text length, empty and out-of-vocabulary rates, token shift, class shares.",
        "config": {**COMMON, "slices": [["text length bracket"], ["predicted class"]]},
    },
}


def seed_templates() -> None:
    """Create missing templates; never overwrite one an admin has edited."""
    from apps.monitoring.models import MonitorTemplate

    for task_type, spec in TEMPLATES.items():
        MonitorTemplate.objects.get_or_create(
            task_type=str(task_type),
            defaults={"name": spec["name"], "description": spec["description"], "config": spec["config"]},
        )


def template_for(task_type: str):
    from apps.monitoring.models import MonitorTemplate

    template = MonitorTemplate.objects.filter(task_type=task_type).first()
    if template is None:  # a database flushed without post_migrate, or a new model type
        seed_templates()
        template = MonitorTemplate.objects.get(task_type=task_type)
    return template
