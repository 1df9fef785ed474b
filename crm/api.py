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
from django.http import Http404
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

from crm.permissions import ALL_PERMISSIONS
from crm.tenancy import bind_tenant, resolve_membership

UNKNOWN_FIELD = "Unknown field."


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


class TenantAPIView(APIView):
    """Base of every company-scoped API view.

    Declare ``crm_permission`` (needed for safe methods), optionally ``write_permission`` (needed
    for the other methods; defaults to ``crm_permission``) and ``method_permissions`` for a method
    that needs its own (``{"DELETE": "leads.delete"}``). Override ``load_objects`` to fetch the
    objects the URL names (raise ``Http404`` when the caller cannot see them).
    """

    crm_permission: str = ""
    write_permission: str = ""
    method_permissions: Mapping[str, str] = {}
    parser_classes = [JSONParser]

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


def get_object_or_404(queryset, **lookup):
    """One row of an already visibility-filtered queryset; a malformed id is a 404 too."""
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, TypeError):
        raise Http404 from None


class StrictSerializer(serializers.Serializer):
    """An input serializer that rejects keys it does not know instead of silently dropping them.

    ``ignored_keys`` lists keys that clients may send back unchanged (read-only output fields).
    """

    ignored_keys: frozenset[str] = frozenset()

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            unknown = {key: [UNKNOWN_FIELD] for key in sorted(set(data) - set(self.fields) - self.ignored_keys)}
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
