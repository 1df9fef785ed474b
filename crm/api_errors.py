"""What every API view shares about bad input and errors: the id field (``crm.ids``: a 400 naming
the field, never an ``OverflowError``), JSON types, empty query parameters, the OPTIONS answer, the
error answers the OpenAPI schema documents for each operation, and JSON error pages under /api/.
"""

from __future__ import annotations

from django.http import JsonResponse, QueryDict
from django.views import defaults
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.metadata import SimpleMetadata

from crm.ids import ID_MESSAGE, MAX_ID


def without_blank_values(query: QueryDict) -> QueryDict:
    """The query string without its empty values: in the API, as on the pages' filter forms, an
    empty parameter (``?since=&status=``) is the same as one left out."""
    kept = QueryDict(mutable=True)
    for name, values in query.lists():
        if filled := [value for value in values if value != ""]:
            kept.setlist(name, filled)
    kept._mutable = False
    return kept


class IdField(serializers.IntegerField):
    """The id of a row: a whole number from 1 to 2^63−1 (a 400 naming the field otherwise)."""

    default_error_messages = dict.fromkeys(("invalid", "min_value", "max_value", "max_string_length"), ID_MESSAGE)

    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


def id_list_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(child=IdField(), **kwargs)


# --- JSON types ------------------------------------------------------------------------------------

JSON_TYPE_NAMES = {bool: "true or false", int: "a number", float: "a number", str: "a string", list: "a list",
                   dict: "an object"}  # fmt: skip


def _expected_type(field) -> tuple[tuple[type, ...], str] | None:
    """The JSON types a field's schema admits (None: anything, or the field checks it itself)."""
    if isinstance(field, serializers.MultipleChoiceField | serializers.ListField | serializers.ListSerializer):
        return (list,), "a list"
    if isinstance(field, serializers.ChoiceField):
        return ((str,), "a string") if all(isinstance(key, str) for key in field.choices) else None
    if isinstance(field, serializers.BooleanField):
        return (bool,), "true or false"
    if isinstance(field, serializers.IntegerField | serializers.PrimaryKeyRelatedField):
        return (int, float), "a whole number"
    if isinstance(field, serializers.FloatField):
        return (int, float), "a number"
    if isinstance(field, serializers.CharField | serializers.DateField | serializers.DateTimeField
                  | serializers.TimeField):  # fmt: skip
        return (str,), "a string"
    if isinstance(field, serializers.DictField | serializers.Serializer):
        return (dict,), "an object"
    return None


def _wrong_type(field, value) -> str | None:
    expected = _expected_type(field)
    if expected is None or value is None:  # DRF says whether null is allowed
        return None
    types, wanted = expected
    if isinstance(value, types) and (bool in types or not isinstance(value, bool)):
        return None  # a number that is not whole is for the field to refuse, in its own words
    return f"Give {wanted}, not {JSON_TYPE_NAMES.get(type(value), 'that')}."


def json_type_errors(fields, data):
    """Messages for the values of a JSON body whose type is not the one the schema documents
    (DRF would take ``1`` for a string or ``"1"`` for a number): field → messages, list items and
    object entries by key, as DRF reports them. Form and query data (all strings) are not checked."""
    if isinstance(data, QueryDict) or not isinstance(data, dict):
        return {}
    errors = {}
    for name, field in fields.items():
        if field.read_only or name not in data:
            continue
        value = data[name]
        if message := _wrong_type(field, value):
            errors[name] = [message]
        elif nested := _nested_errors(field, value):
            errors[name] = nested
    return errors


def _nested_errors(field, value):
    if isinstance(field, serializers.ListSerializer | serializers.ListField) and isinstance(value, list):
        found = {str(i): _item_errors(field.child, item) for i, item in enumerate(value)}
    elif isinstance(field, serializers.DictField) and isinstance(value, dict):
        found = {str(key): _item_errors(field.child, item) for key, item in value.items()}
    elif isinstance(field, serializers.Serializer) and isinstance(value, dict):
        return json_type_errors(field.fields, value)
    else:
        return {}
    return {key: errors for key, errors in found.items() if errors}


def _item_errors(child, item):
    if message := _wrong_type(child, item):
        return [message]
    return _nested_errors(child, item)


class TenantMetadata(SimpleMetadata):
    """OPTIONS: the view's name, description and media types. What a method accepts is in the OpenAPI
    schema (``/api/schema/``): our views declare their serializers per method, not per view."""

    def determine_metadata(self, request, view):
        return {
            "name": view.get_view_name(),
            "description": view.get_view_description(),
            "renders": [renderer.media_type for renderer in view.renderer_classes],
            "parses": [parser.media_type for parser in view.parser_classes],
        }


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()


TIME_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?$"
FIELD_ERRORS = {
    "type": "object",
    "description": 'Field → messages (`{"email": ["Enter a valid email address."]}`); `non_field_errors` for '
    "the record as a whole; list items by index; `detail` for a body that is not JSON.",
    "additionalProperties": {},
}


class TenantAutoSchema(AutoSchema):
    """Documents, on every operation, the error answers a tenant API view gives besides its own:
    400 for bad input, 401 without credentials, 403 without the permission, 404 for another
    company or an object the caller cannot see, 415 for a body of another media type; that an
    empty query parameter is allowed (``without_blank_values``); times as DRF writes them."""

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        if operation is None:
            return None
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":  # see without_blank_values
                parameter["allowEmptyValue"] = True
        responses = operation.setdefault("responses", {})
        takes_input = "requestBody" in operation or any(p["in"] == "query" for p in operation.get("parameters", []))
        if takes_input or self.method not in ("GET", "HEAD"):
            self._add_error(responses, "400", FIELD_ERRORS, "Bad input: nothing was changed.")
        self._add_error(responses, "401", ErrorSerializer, "No or invalid credentials.")
        self._add_error(responses, "403", ErrorSerializer, "Your role may not do this.")
        self._add_error(responses, "404", ErrorSerializer, "No such company or object, or not visible to you.")
        if "requestBody" in operation:
            self._add_error(responses, "415", ErrorSerializer, "The body is not of a supported media type.")
        return operation

    def _map_serializer_field(self, field, direction, *args, **kwargs):
        schema = super()._map_serializer_field(field, direction, *args, **kwargs)
        if isinstance(field, serializers.TimeField) and schema.get("format") == "time":
            # DRF writes and reads "06:00:00"; JSON Schema's "time" wants an offset ("06:00:00Z").
            del schema["format"]
            schema["pattern"] = TIME_PATTERN
        return schema

    def _add_error(self, responses: dict, code: str, schema, description: str) -> None:
        if code not in responses:  # a view's own documentation of the code wins
            responses[code] = self._get_response_for_code(OpenApiResponse(schema, description=description), code)


# --- the project's error pages (crm/urls.py): JSON under /api/, HTML elsewhere ---------------------


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def bad_request(request, exception):
    if _is_api(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def not_found(request, exception):
    """An API path that matches no URL (``/api/companies/1/leads/abc``) answers like a missing object."""
    if _is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Server error. It has been logged; please try again in a moment."}, status=500)
    return defaults.server_error(request)
