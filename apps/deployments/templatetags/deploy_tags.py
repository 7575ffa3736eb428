"""What the deploy form (included in the registry's version page) offers as its endpoint."""

from django import template

from apps.deployments import selectors

register = template.Library()


@register.simple_tag
def deploy_endpoints(model) -> dict:
    """{"suggested": name, "existing": [names]} for the version page's deploy form; the version page
    already checked the user sees this model, and its deployments are the model's own."""
    existing = selectors.endpoints_of_model(model)
    return {"suggested": selectors.suggested_endpoint_name(model), "existing": existing}
