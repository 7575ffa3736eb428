"""The API's JSON parser: DRF's, held to the body size and nesting limits of apps/accounts/limits.py.
A JSON body nested 10,000 deep was a RecursionError and a 500; it is now a 400 naming the limit."""

from django.conf import settings
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from apps.accounts import limits


class LimitedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        raw = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(raw) > limit:
            raise limits.TooLarge(limits.body_too_large_message())
        try:
            return limits.json_loads(raw.decode(encoding), strict=self.strict)
        except limits.TooDeep as exc:
            raise ParseError(f"JSON body: {exc}") from None
        except ValueError as exc:  # UnicodeDecodeError included
            raise ParseError(f"JSON parse error - {exc}") from None


class LimitedJSONField(serializers.JSONField):
    """DRF's JSONField; JSON sent as text (a multipart form's field) is read within the nesting limit."""

    def to_internal_value(self, data):
        if self.binary or getattr(data, "is_json_string", False):
            try:
                return limits.json_loads(data.decode() if isinstance(data, bytes) else data, strict=False)
            except limits.TooDeep as exc:
                raise serializers.ValidationError(str(exc)) from None
            except (TypeError, ValueError):
                self.fail("invalid")
        return super().to_internal_value(data)
