"""The routing table the inference service serves: every live deployment, grouped by endpoint."""

from pathlib import Path

from django.db import close_old_connections, connection

from apps.deployments.models import Deployment
from apps.deployments.selectors import active_key_hashes
from apps.packaging.models import PackagingPolicy
from apps.serving.inference.routes import Arm, Route


def load_routes() -> list[Route]:
    """Read from the database by each inference worker every few seconds: two queries (the live
    deployments, then their endpoints' consumer keys), no models loaded."""
    if not connection.in_atomic_block:
        close_old_connections()  # a long-lived process: drop connections the database has closed
    trusted = tuple(PackagingPolicy.current().skops_trusted_types)
    live = Deployment.objects.filter(status=Deployment.Status.LIVE).select_related(
        "endpoint__environment", "version__model"
    )
    grouped: dict[tuple[str, str], list[Deployment]] = {}
    endpoints = {}
    for deployment in live:
        key = (deployment.endpoint.environment.name, deployment.endpoint.name)
        grouped.setdefault(key, []).append(deployment)
        endpoints[key] = deployment.endpoint
    key_hashes = active_key_hashes([endpoint.pk for endpoint in endpoints.values()])
    routes = []
    for key, deployments in grouped.items():
        endpoint = endpoints[key]
        arms = tuple(_arm(d, trusted) for d in deployments)
        routes.append(
            Route(
                environment=key[0],
                endpoint=key[1],
                allow_extra=endpoint.allow_extra_fields,
                sticky_key=endpoint.sticky_key or None,
                arms=arms,
                key_hashes=key_hashes.get(endpoint.pk, frozenset()),
                refuse_outside=frozenset(endpoint.refuse_outside_range or ()),
            )
        )
    return routes


def _arm(deployment: Deployment, trusted: tuple) -> Arm:
    version = deployment.version
    return Arm(
        deployment_id=deployment.pk,
        version_id=version.pk,
        model_name=version.model.name,
        version_number=version.number,
        role=deployment.role,
        percent=deployment.traffic_percent,
        artifact_path=str(Path(deployment.package_dir) / version.artifact_filename),
        format=version.format,
        mlflow_root=version.format_details.get("root", ""),
        trusted_types=trusted,
        input_schema=version.input_schema,
        output_schema=version.output_schema,
    )
