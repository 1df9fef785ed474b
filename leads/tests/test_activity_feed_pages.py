"""The company activity feed pages back in time: keyset on (moment, stream, id), an "Older" link
that keeps the filters, and the same number of queries on every page."""

import datetime as dt

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone
from lxml import html

from crm.models import Activity, ActivityKind
from leads import feed
from leads.models import Lead, LeadComment
from leads.scoring import engagement_record
from leads.testing.factories import make_comment, make_lead
from nurturing.testing.factories import make_consenting_lead, make_sequence

URL = "/c/alpha/leads/activity/"


@pytest.fixture
def history(cast):
    """130 calls in pairs that share a moment, and a comment at the same moment as the 99th and
    100th calls: by the key, the comment comes after both, so it opens page 2."""
    lead = make_lead(cast.a.company, cast.a.admin)
    start = timezone.now().replace(microsecond=0) - dt.timedelta(days=1)
    calls = Activity.objects.bulk_create(
        Activity(
            company=cast.a.company, content_type=ContentType.objects.get_for_model(Lead), object_id=lead.pk,
            kind=ActivityKind.CALL, subject=f"Call {i}", owner=cast.a.sdr1, occurred_at=start - dt.timedelta(seconds=i // 2),
        )
        for i in range(130)
    )  # fmt: skip
    comment = make_comment(lead, cast.a.sdr1, "At the page boundary")
    LeadComment.objects.filter(pk=comment.pk).update(created_at=calls[98].occurred_at)
    newest_first = [call for pair in range(65) for call in (calls[2 * pair + 1], calls[2 * pair])]
    return [c.pk for c in newest_first[:100]], comment.pk, [c.pk for c in newest_first[100:]]


def rows(response) -> list[tuple[str, int]]:
    return [(type(e.obj).__name__, e.obj.pk) for e in response.context["entries"]]


def test_older_shows_the_next_entries_exactly(cast, client_for, history):
    first_ids, comment_id, rest_ids = history
    client = client_for(cast.a.admin)

    first = client.get(URL)
    second = client.get(URL + first.context["older_url"])

    assert rows(first) == [("Activity", pk) for pk in first_ids]
    assert first.context["newest_url"] is None
    assert b'data-testid="feed-older">Older</a>' in first.content
    assert rows(second) == [("LeadComment", comment_id)] + [("Activity", pk) for pk in rest_ids]
    assert second.context["older_url"] is None
    assert second.context["newest_url"] == "?"


def test_the_older_link_keeps_the_filters(cast, client_for, history):
    first_ids, _comment_id, rest_ids = history
    client = client_for(cast.a.admin)

    first = client.get(URL, {"kind": "interaction"})
    second = client.get(URL + first.context["older_url"])

    assert first.context["older_url"].startswith("?kind=interaction&before=")
    assert rows(second) == [("Activity", pk) for pk in rest_ids]


def test_every_page_costs_the_same_queries(cast, client_for, history, django_assert_num_queries):
    client = client_for(cast.a.admin)
    older = client.get(URL).context["older_url"]
    with django_assert_num_queries(14):
        client.get(URL)
    with django_assert_num_queries(14):
        client.get(URL + older)


def test_a_mangled_cursor_shows_an_error_and_no_entries(cast, client_for, history):
    response = client_for(cast.a.admin).get(URL, {"before": "yesterday"})

    assert response.status_code == 200
    assert response.context["entries"] == []
    assert response.context["cursor_error"] == feed.BAD_CURSOR


@pytest.mark.parametrize("value", ["1-status-1", "-5-comment-9", "1764757860123456-activity-42"])
def test_a_cursor_reads_back_to_its_key(value):
    assert feed.parse_cursor(value).encode() == value


@pytest.mark.parametrize("value", ["1-lead-1", "99999999999999999999-status-1", "1-status-", "1_status_1"])
def test_a_cursor_that_names_no_key_is_refused(value):
    with pytest.raises(feed.ValidationError) as refused:
        feed.parse_cursor(value)
    assert refused.value.message_dict == {"before": [feed.BAD_CURSOR]}


# --- sentences ---------------------------------------------------------------------------------


def feed_sentences(response) -> list[str]:
    tree = html.fromstring(response.content)
    for moment in tree.xpath('//*[@data-testid="feed-sentence"]/time'):
        moment.getparent().remove(moment)
    return [" ".join(" ".join(node.itertext()).split()) for node in tree.xpath('//*[@data-testid="feed-sentence"]')]


def test_a_sentence_of_its_own_has_no_system_in_front_and_a_comment_keeps_its_author(
    cast, client_for, django_capture_on_commit_callbacks
):
    lead = make_consenting_lead(cast.a.company, first_name="Ada", last_name="Lovelace", owner=cast.a.sdr1)
    sequence = make_sequence(cast.a.company, name="Hot leads", trigger="score_threshold", trigger_score=lead.score + 10)
    make_comment(lead, cast.a.sdr1, "Called her back")
    with django_capture_on_commit_callbacks(execute=True):
        engagement_record(lead=lead, kind="email_click", key="click-1")  # rescored past the threshold: enrolled

    response = client_for(cast.a.sdr1).get(URL)

    assert Lead.objects.get(pk=lead.pk).score >= sequence.trigger_score
    assert feed_sentences(response) == [
        "Enrolled in the email sequence “Hot leads” on Ada Lovelace",
        "Alpha SDR One commented on Ada Lovelace",
    ]
