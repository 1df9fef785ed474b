"""Validation of a lead's ``custom_fields`` against the company's CustomField definitions."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

from leads.models import CustomField, CustomFieldType

TRUE_WORDS = {"true", "yes", "1", "on", "y"}
FALSE_WORDS = {"false", "no", "0", "off", "n", ""}


def _as_number(value):
    if isinstance(value, bool):
        raise ValueError("enter a number")
    if isinstance(value, int | float):
        return value
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("enter a number") from None
    if not number.is_finite():
        raise ValueError("enter a number")
    return int(number) if number == number.to_integral_value() else float(number)


def _as_date(value):
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError("enter a date as YYYY-MM-DD") from None


def _as_bool(value):
    if isinstance(value, bool):
        return value
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError("enter yes or no")


def _coerce(definition: CustomField, value):
    if definition.field_type == CustomFieldType.NUMBER:
        return _as_number(value)
    if definition.field_type == CustomFieldType.DATE:
        return _as_date(value)
    if definition.field_type == CustomFieldType.BOOL:
        return _as_bool(value)
    text = str(value).strip()
    if definition.field_type == CustomFieldType.CHOICE and text not in definition.choices:
        raise ValueError(f"choose one of {', '.join(definition.choices)}")
    if len(text) > 1000:
        raise ValueError("keep it under 1,000 characters")
    return text


def _is_empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def clean_custom_fields(definitions: list[CustomField], values) -> tuple[dict, dict[str, str]]:
    """Return (cleaned values, errors keyed by custom field key). Unknown keys are errors."""
    if not isinstance(values, dict):
        return {}, {"__all__": "Custom fields must be an object of key: value."}
    by_key = {d.key: d for d in definitions if d.is_active}
    cleaned, errors = {}, {}
    for key, value in values.items():
        definition = by_key.get(key)
        if definition is None:
            errors[key] = f"Unknown custom field '{key}'."
            continue
        if _is_empty(value):
            continue
        try:
            cleaned[key] = _coerce(definition, value)
        except ValueError as problem:
            errors[key] = f"{definition.label}: {problem}."
    for key, definition in by_key.items():
        if definition.required and key not in cleaned and key not in errors:
            errors[key] = f"{definition.label} is required."
    return cleaned, errors
