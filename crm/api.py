"""Shared pieces of the REST API: the tenant base view, error translation, pagination and fields.

Every API view under ``/api/companies/<company_id>/`` derives from ``TenantAPIView`` (or
``TenantListAPIView``), which after DRF's authentication resolves the company and the caller's
membership once, checks the permission the view declares for the method (403, whatever the ids in
the URL), and only then loads the objects the URL names through the caller's visible querysets —
so another company, a missing object and an invisible object all answer 404.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, QueryDict
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, serializers
from rest_framework.generics import GenericAPIView
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from crm.api_errors import TenantAutoSchema, TenantMetadata, json_type_errors, without_blank_values
from crm.permissions import ALL_PERMISSIONS
from crm.tenancy import bind_tenant, resolve_membership

UNKNOWN_FIELD = "Unknown field."
UNKNOWN_PARAMETER = "Unknown query parameter."
QUERY_METHODS = ("GET", "HEAD")


def validation_error_detail(error: DjangoValidationError) -> dict[str, list[str]]:
    """A Django ``ValidationError`` as DRF's field → messages mapping (``__all__`` becomes
    ``non_field_errors``; dotted keys such as ``custom_fields.budget`` are kept)."""
    if not hasattr(error, "error_dict"):
        return {api_settings.NON_FIELD_ERRORS_KEY: error.messages}
    return {
        (api_settings.NON_FIELD_ERRORS_KEY if field == NON_FIELD_ERRORS else field): messages
        for field, messages in error.message_dict.items()
    }


def exception_handler(exc, context):
    """DRF's handler, plus the services' Django ``ValidationError`` as a 400 with field messages."""
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(validation_error_detail(exc))
    return drf_exception_handler(exc, context)


class TenantQuerySchema(TenantAutoSchema):
    """Also documents a view's ``query_serializer`` as the query parameters of its GET."""

    def get_override_parameters(self):
        parameters = super().get_override_parameters()
        query = getattr(self.view, "query_serializer", None)
        if query is not None and self.method in QUERY_METHODS:
            return [query, *parameters]
        return parameters


class TenantAPIView(APIView):
    """Base of every company-scoped API view.

    Declare ``crm_permission`` (needed for safe methods), optionally ``write_permission`` (needed
    for the other methods; defaults to ``crm_permission``) and ``method_permissions`` for a method
    that needs its own (``{"DELETE": "leads.delete"}``). Override ``load_objects`` to fetch the
    objects the URL names (raise ``Http404`` when the caller cannot see them).

    A GET accepts only the query parameters it declares — ``query_serializer`` (read them with
    ``self.query()``; they are documented from it) or ``query_params`` (names the view parses and
    documents itself), plus pagination for list views and ``format`` — and answers any other
    parameter with a 400 naming it, rather than silently ignoring a typo or a filter it does not
    have. Views whose parameters vary (the lead filters) extend ``known_query_params``.
    """

    crm_permission: str = ""
    write_permission: str = ""
    method_permissions: Mapping[str, str] = {}
    query_serializer: type[serializers.Serializer] | None = None
    query_params: tuple[str, ...] = ()
    parser_classes = [JSONParser]
    metadata_class = TenantMetadata
    schema = TenantQuerySchema()

    @classmethod
    def as_view(cls, **initkwargs):
        for permission in cls._declared_permissions():
            if permission not in ALL_PERMISSIONS:
                raise ValueError(f"{cls.__name__} declares unknown permission {permission!r}.")
        # DRF authenticates and answers 401/403 itself; the login redirect is for HTML pages.
        return login_not_required(super().as_view(**initkwargs))

    @classmethod
    def _declared_permissions(cls) -> list[str]:
        if not cls.crm_permission:
            raise ValueError(f"{cls.__name__} declares no crm_permission.")
        declared = [cls.crm_permission, cls.write_permission, *cls.method_permissions.values()]
        return [permission for permission in declared if permission]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        membership = resolve_membership(request.user, pk=kwargs["company_id"])
        bind_tenant(request._request, membership)  # visible through the DRF request as well
        if self.required_permission(request.method) not in request.permissions:
            raise exceptions.PermissionDenied
        self.load_objects(**kwargs)
        if request.method in QUERY_METHODS and hasattr(self, request.method.lower()):
            self.check_query_params()
        request._request.GET = without_blank_values(request._request.GET)

    def required_permission(self, method: str) -> str:
        if method in self.method_permissions:
            return self.method_permissions[method]
        if method in SAFE_METHODS:
            return self.crm_permission
        return self.write_permission or self.crm_permission

    def load_objects(self, **kwargs) -> None:
        """Fetch the objects named by the URL (``Http404`` when not visible); runs after the
        permission check and before the method's handler, so an unsupported method on another
        company's object is a 404 too."""

    def known_query_params(self) -> set[str]:
        """The query parameters this view's GET understands."""
        known = {api_settings.URL_FORMAT_OVERRIDE, *self.query_params}
        if self.query_serializer is not None:
            known.update(self.query_serializer().fields)
        return known

    def check_query_params(self) -> None:
        """A 400 naming every query parameter the view does not know."""
        known = self.known_query_params()
        unknown = sorted(set(self.request.query_params) - known)
        if unknown:
            message = f"{UNKNOWN_PARAMETER} Use {', '.join(sorted(known))}."
            raise exceptions.ValidationError(dict.fromkeys(unknown, [message]))

    def query(self) -> dict:
        """The query parameters validated by ``query_serializer`` (a 400 naming the bad one)."""
        params = self.request.query_params
        fields = self.query_serializer().fields
        data = QueryDict(mutable=True)
        for name in fields:
            if name in params:
                data.setlist(name, params.getlist(name))
        serializer = self.query_serializer(data=data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def get_exception_handler(self):
        return exception_handler

    def parse(self, serializer_class, *, partial: bool = False) -> dict:
        """The request body validated by ``serializer_class`` (a DRF 400 when it is not)."""
        serializer = serializer_class(data=self.request.data, partial=partial, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def get_serializer_context(self) -> dict:
        return {"request": self.request, "view": self}


class TenantListAPIView(TenantAPIView, GenericAPIView):
    """A tenant view that pages a queryset (``get_queryset`` must start from a visibility query)."""

    def known_query_params(self) -> set[str]:
        known = super().known_query_params()
        if self.paginator is not None:
            known.update(p["name"] for p in self.paginator.get_schema_operation_parameters(self))
        return known

    def paginated(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(
            serializer_class(page, many=True, context=self.get_serializer_context()).data
        )


class NewestFirstPagination(CursorPagination):
    """Keyset pages, newest first: no COUNT(*), stable under inserts, cheap at any depth."""

    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        """The page size asked for (capped at ``max_page_size``); not a whole number ≥ 1: a 400."""
        raw = request.query_params.get(self.page_size_query_param, "")
        if raw == "":
            return self.page_size
        if not raw.isdecimal() or int(raw) < 1:
            message = f"Give a whole number from 1 to {self.max_page_size}."
            raise exceptions.ValidationError({self.page_size_query_param: [message]})
        return min(int(raw), self.max_page_size)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"]["minimum"] = 1
        return parameters


def get_object_or_404(queryset, **lookup):
    """One row of an already visibility-filtered queryset; a malformed id is a 404 too."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404 from None


class StrictSerializer(serializers.Serializer):
    """An input serializer that rejects keys it does not know instead of silently dropping them, and
    JSON values of another type than documented (``json_type_errors``).

    ``ignored_keys`` lists keys that clients may send back unchanged (read-only output fields).
    """

    ignored_keys: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {key: [UNKNOWN_FIELD] for key in sorted(set(data) - set(self.fields) - self.ignored_keys)}
            unknown.update(json_type_errors(self.fields, data))  # and values of the wrong JSON type
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as error:
            if unknown and isinstance(error.detail, Mapping):
                raise serializers.ValidationError({**unknown, **error.detail}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


@extend_schema_field(OpenApiTypes.INT)
class CompanyObjectField(serializers.PrimaryKeyRelatedField):
    """The id of a row of the request's company (``queryset_for(company)`` gives the candidates)."""

    default_error_messages = {
        "does_not_exist": "Choose a valid {name} of this company.",
        "incorrect_type": "Choose a valid {name} of this company.",
    }

    def __init__(self, *, queryset_for, name: str, **kwargs):
        self.queryset_for = queryset_for
        self.object_name = name
        super().__init__(**kwargs)

    def get_queryset(self):
        return self.queryset_for(self.context["request"].company)

    def fail(self, key, **kwargs):
        super().fail(key, **{**kwargs, "name": self.object_name})
