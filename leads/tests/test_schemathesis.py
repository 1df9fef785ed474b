"""Schemathesis against the API's own OpenAPI schema (``/api/schema/``), in process through the WSGI
app, as a real token of company alpha's admin: every operation gets generated valid and invalid
requests, and every answer must be no server error, a documented status code and content type, and
a body that matches its documented schema. Deterministic (derandomized Hypothesis, no example
database) and a few hundred requests in all."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from crm.testing.auth import api_key_for
from crm.testing.urlwalk import OBJECT_MAKERS, all_routes
from leads.testing.factories import make_campaign, make_comment, make_duplicate_pair, make_lead, status

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
EXAMPLES = {GenerationMode.POSITIVE: 3, GenerationMode.NEGATIVE: 2}  # per operation


@dataclass
class World:
    headers: dict[str, str]
    path_values: dict[str, int]
    body_values: dict[str, object]


@pytest.fixture
def api_world(cast) -> World:
    """Alpha's admin with a token; for each id an API path takes, a real object of alpha (a lead
    and one of its comments for lead_id and comment_id); real ids for the bodies' id fields."""
    a = cast.a
    lead = make_lead(a.company, a.admin, owner=a.sdr1, profile_url="https://example.com/in/ada",
                     authority_level="influencer")  # fmt: skip
    make_lead(a.company, a.admin, phone="+44 20 7946 0000")  # profile_url and authority_level blank
    first, second, _ = make_duplicate_pair(a.company)
    params = {p for route in all_routes() if route.route.startswith("api/") for p in route.object_params}
    path_values = {param: OBJECT_MAKERS[param](a.company) for param in sorted(params - {"lead_id", "comment_id"})}
    path_values.update(company_id=a.company.pk, lead_id=lead.pk, comment_id=make_comment(lead, a.sdr1).pk)
    body_values = {
        "campaign": make_campaign(a.company).pk,
        "status": status(a.company, "contacted").pk,
        "owner": a.sdr1.pk,
        "survivor": first.pk,
        "leads": [second.pk],
        "ids": [lead.pk],
        "email": "fuzz@example.com",
    }
    return World({"Authorization": f"Token {api_key_for(a.admin.user)}"}, path_values, body_values)


@pytest.fixture
def wsgi_app():
    """The project's WSGI app (``crm.wsgi``), run as the test client runs it: without closing the
    test's database connection at the end of each request (the test's transaction must survive)."""
    from crm.wsgi import application

    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    yield application
    for signal in (request_started, request_finished):
        signal.connect(close_old_connections)


def generated_cases(operation, mode: GenerationMode, test) -> None:
    """Run ``test`` on the operation's generated cases of one mode, the same ones on every run."""
    strategy = operation.as_strategy(generation_mode=mode)
    settings(
        max_examples=EXAMPLES[mode],
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(case=strategy)(test))()


def use_real_ids(case, world: World, *, positive: bool) -> None:
    """The tenant is alpha (another company is a 404, walked by crm/tests/test_isolation.py); an id
    is a real object's for an even generated value and stays as generated for an odd one. Only
    well-typed path ids are replaced, and body ids only in valid cases: an invalid case stays so."""
    for name, value in case.path_parameters.items():
        if isinstance(value, int) and (name == "company_id" or value % 2 == 0):
            case.path_parameters[name] = world.path_values[name]
    if positive and isinstance(case.body, dict):
        for name, real in world.body_values.items():
            if type(case.body.get(name)) is type(real) and len(str(case.body[name])) % 2 == 0:
                case.body[name] = real


def described(case, response, group: FailureGroup) -> str:
    problems = "; ".join(f"{failure.title}: {failure.message}"[:300] for failure in group.exceptions)
    body = repr(case.body)[:300] if case.body is not NOT_SET else "-"
    answer = response.content[:300] if response is not None else b"-"
    return f"{case.method} {case.formatted_path} {case.query or ''} body={body} -> {answer!r}: {problems}"


def test_every_operation_answers_as_documented(api_world, wsgi_app):
    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app, headers=api_world.headers)
    # Reads first, then writes, deletions last: a deleted object would leave the rest nothing to do.
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: (order[op.method.upper()], op.path))  # fmt: skip
    answers, failures = Counter(), []

    def caller(mode: GenerationMode):
        def call(case):
            use_real_ids(case, api_world, positive=mode is GenerationMode.POSITIVE)
            response = case.call(headers=api_world.headers)
            answers[response.status_code // 100 * 100] += 1
            try:
                case.validate_response(response, checks=CHECKS, headers=api_world.headers)
            except FailureGroup as group:
                failures.append(described(case, response, group))

        return call

    for operation in operations:
        for mode in EXAMPLES:
            generated_cases(operation, mode, caller(mode))

    assert not failures, f"{len(failures)} answers not as documented:\n" + "\n".join(failures)
    assert answers[500] == 0
    assert len(operations) >= 60
    assert 300 <= sum(answers.values()) <= 1500
