"""What ``templates/partials/form_fields.html`` needs beyond plain template logic: which fields are
required, and the error summary at the top of a long form."""

from django import template

register = template.Library()
SUMMARY_MIN_FIELDS = 4  # shorter forms show each error beside its field only


@register.filter
def is_required(bound_field) -> bool:
    """Required by the form, or by the service behind it (a form that leaves the check to the
    service, to report every problem in one pass, marks the widget ``required``)."""
    return bool(bound_field.field.required or bound_field.field.widget.attrs.get("required"))


@register.simple_tag
def widget(bound_field) -> str:
    """``{{ field }}``, plus ``aria-required`` on a required field (the ``required`` attribute is
    not enough: a select whose first option has a value may not carry it)."""
    attrs = {"aria-required": "true"} if is_required(bound_field) and not _option_group(bound_field) else {}
    html = bound_field.as_widget(attrs=attrs)
    if bound_field.field.show_hidden_initial:
        html += bound_field.as_hidden(only_initial=True)
    return html


def _option_group(bound_field) -> bool:
    """Radio buttons and checkbox lists: the requirement belongs to the group, not to each box."""
    widget = bound_field.field.widget
    return hasattr(widget, "option_template_name") and getattr(widget, "input_type", "") in ("radio", "checkbox")


@register.simple_tag
def error_summary(form) -> list[tuple[str, str]]:
    """(label, element id) of each visible field with an error, in form order; empty on short forms."""
    fields = form.visible_fields()
    if len(fields) < SUMMARY_MIN_FIELDS:
        return []
    return [(str(field.label), field.id_for_label) for field in fields if field.errors]
