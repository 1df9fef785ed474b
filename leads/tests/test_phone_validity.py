"""``normalize.is_valid_number`` gives phonenumbers' own verdict for every kind of number: each
region's example numbers of every type, and near misses of them (a digit changed, dropped or added),
read in international and in national form. ``normalize.phone_key``'s shorter road for numbers in
international form gives the library's key for the same numbers and for random ones."""

from __future__ import annotations

import random

import phonenumbers
import pytest

from leads import normalize
from leads.generate import PHONE_PLANS

TYPES = [value for name, value in vars(phonenumbers.PhoneNumberType).items() if name.isupper()]


def _variants(nsn: str) -> list[str]:
    changed = [nsn[:-1] + digit for digit in "0159" if digit != nsn[-1]]
    return [nsn, nsn[:-1], nsn + "0", nsn + "12", *changed, "0" + nsn]


def _examples(region: str) -> list[phonenumbers.PhoneNumber]:
    found = [phonenumbers.example_number_for_type(region, kind) for kind in TYPES]
    found += [phonenumbers.invalid_example_number(region)]
    return [number for number in found if number is not None]


def _texts(region: str) -> list[str]:
    texts = []
    for number in _examples(region):
        for nsn in _variants(phonenumbers.national_significant_number(number)):
            texts += [f"+{number.country_code}{nsn}", nsn, f"0{nsn}"]
    return texts


def _verdicts(texts: list[str], region: str) -> tuple[list[bool], list[bool]]:
    ours, theirs = [], []
    for text in texts:
        try:
            parsed = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        ours.append(normalize.is_valid_number(parsed))
        theirs.append(phonenumbers.is_valid_number(parsed))
    return ours, theirs


@pytest.mark.parametrize("region", sorted(phonenumbers.SUPPORTED_REGIONS))
def test_it_agrees_with_phonenumbers_for_every_region(region):
    ours, theirs = _verdicts(_texts(region), region)
    assert ours == theirs
    assert True in theirs


def test_it_agrees_for_non_geographic_numbers():
    texts = []
    for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            texts += [f"+{code}{nsn}" for nsn in _variants(phonenumbers.national_significant_number(number))]
    ours, theirs = _verdicts(texts, "GB")
    assert len(ours) == len(texts)
    assert ours == theirs
    assert theirs.count(True) >= 10


def test_it_agrees_for_the_generators_numbers_and_unknown_codes():
    texts = [
        f"+{plan.code}{prefix}{str(7919 * i).zfill(digits)[-digits:]}"
        for plan in PHONE_PLANS.values()
        for prefix, digits in plan.ranges
        for i in range(3)
    ]
    texts += ["+999123456789", "+0 20 7946 0000", "+44 7700 900123", "+1 555 555 5555", "+39 06 6982 0000"]
    ours, theirs = _verdicts(texts, "US")
    assert len(ours) == len(texts) - 2  # +999 and +0 are no country codes: parsing refuses them
    assert ours == theirs
    assert ours.count(False) == 2  # the fiction ranges +44 7700 900… and +1 555 555…


def test_parse_phone_and_phone_key_keep_their_answers():
    assert normalize.phone_key("07456 226916", "GB") == "+447456226916"
    assert normalize.phone_key("+39 06 6982 0000", "IT") == "+390669820000"
    assert normalize.phone_key("+44 7700 900123", "GB") == ""
    assert normalize.parse_phone("+1 555 555 5555", "US") is None
    assert normalize.possible_phone("+44 7700 900123", "GB") == "+44 7700 900123"


def library_key(text: str, region: str) -> str:
    """The key as phonenumbers alone gives it: parsed, checked and formatted in E.164."""
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return ""
    return (
        phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
        if phonenumbers.is_valid_number(parsed)
        else ""
    )


def _international_texts() -> list[str]:
    numbers = [number for region in sorted(phonenumbers.SUPPORTED_REGIONS) for number in _examples(region)]
    numbers += [
        phonenumbers.example_number_for_non_geo_entity(c) for c in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    texts = []
    for number in filter(None, numbers):
        for nsn in _variants(phonenumbers.national_significant_number(number)):
            texts += [
                f"+{number.country_code}{nsn}",
                f"+{number.country_code} {nsn[:3]} {nsn[3:]}",
                f" +{number.country_code}  {nsn} ",
            ]
    rng = random.Random(2026)
    texts += ["+" + "".join(rng.choice("0123456789  ") for _ in range(rng.randint(1, 22))) for _ in range(5000)]
    return texts


def test_numbers_in_international_form_get_the_librarys_key_by_a_shorter_road():
    texts = _international_texts()
    short = [text for text in texts if normalize._international_key(text) is not None]
    assert len(short) > len(texts) / 2
    for text in short:
        assert normalize._international_key(text) == library_key(text, "GB") == library_key(text, "US"), text
    assert sum(bool(normalize._international_key(text)) for text in short) > 1000  # valid ones among them


def test_other_forms_are_left_to_the_library():
    assert normalize._international_key("+44 7456 226916") == "+447456226916"
    assert normalize._international_key("+44 7700 900123") == ""  # a fiction range: refused, by the short road
    assert normalize._international_key("07456 226916") is None  # national form
    assert normalize._international_key("+44 (0)20 7946 0018") is None  # punctuation
    assert normalize._international_key("+44 020 7946 0018") is None  # a leading zero (Italy keeps them)
    assert normalize._international_key("+7 8 495 123 4567") is None  # could hold a national prefix
    assert normalize._international_key("+４４ 7456 226916") is None  # digits that are not ASCII
    for text in ("+44 (0)20 7946 0018", "+44 020 7946 0018", "+39 06 6982 0000", "+４４ 7456 226916"):
        assert normalize.phone_key(text, "GB") == library_key(text, "GB"), text
