"""Tells drf-spectacular how our token authentication appears in the OpenAPI document."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "apps.accounts.authentication.ApiTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (or `Bearer <key>`); `manage.py create_user` and "
            "`modelyard login` issue keys.",
        }


# Every error has the API's one shape: a `detail` sentence, plus field errors by field name.
ERROR_SCHEMA = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    # Field errors by field name: a list of messages, or by index or key for lists and objects.
    "additionalProperties": True,
}


def _error_codes(path: str, operation: dict) -> dict[str, str]:
    codes = {
        "401": "no credentials, or an invalid, expired or revoked token",
        "403": "signed in, but this role or team may not do this",
    }
    if operation.get("parameters") or operation.get("requestBody"):
        codes["400"] = "invalid input: `detail` says what, and each field's errors are under its name"
        # An object named in the path, the query or the body that does not exist or is another team's.
        codes["404"] = "no such object that you can see"
    if operation.get("requestBody"):
        codes["413"] = "a body or file over its limit (MODELYARD_MAX_BODY_MB, MODELYARD_MAX_UPLOAD_MB)"
        codes["415"] = "a content type this operation does not read"
    if path.endswith("/auth/token/"):  # the sign-in lockout and its throttle
        codes["429"] = "too many attempts: `detail` says when to try again"
    codes["503"] = "the database is unavailable: try again after the Retry-After header's seconds"
    return codes


def document_errors(result, generator, request, public):
    """drf-spectacular post-processing hook: documents the error answers of every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for code, description in _error_codes(path, operation).items():
                operation["responses"].setdefault(code, {"description": description, "content": content})
    return result
