"""Phone numbers for generated leads: number ranges in which every number is valid for its country,
so the generator knows each number's E.164 form without parsing it (the tests check every range
in every written form against ``leads.normalize.phone_key``)."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers


@dataclass(frozen=True)
class PhonePlan:
    """Number ranges (national prefix, free digits) in which every number is valid for the country."""

    code: str
    ranges: tuple[tuple[str, int], ...]
    national: str  # how the number is written at home: "trunk0", "plain", "nanp" or "" (never)
    city: str
    name: str


PHONE_PLANS = {
    "GB": PhonePlan("44", (("74", 8), ("207", 7)), "trunk0", "London", "United Kingdom"),
    "US": PhonePlan(
        "1", (("2125", 6), ("4155", 6), ("6465", 6), ("3125", 6), ("2015", 6)), "nanp", "New York", "United States"
    ),
    "CA": PhonePlan("1", (("4165", 6), ("6045", 6)), "nanp", "Toronto", "Canada"),
    "DE": PhonePlan("49", (("151", 8), ("30", 8), ("89", 8)), "trunk0", "Berlin", "Germany"),
    "FR": PhonePlan("33", (("61", 7), ("62", 7), ("1", 8)), "trunk0", "Paris", "France"),
    "ES": PhonePlan("34", (("6", 8), ("91", 7)), "plain", "Madrid", "Spain"),
    "IT": PhonePlan("39", (("31", 8), ("02", 8)), "plain", "Milan", "Italy"),
    "NL": PhonePlan("31", (("61", 7), ("20", 7)), "trunk0", "Amsterdam", "Netherlands"),
    "IE": PhonePlan("353", (("85", 7), ("87", 7), ("1", 7)), "trunk0", "Dublin", "Ireland"),
    "SE": PhonePlan("46", (("70", 7), ("8", 7)), "trunk0", "Stockholm", "Sweden"),
    "AU": PhonePlan("61", (("41", 7), ("28", 7)), "trunk0", "Sydney", "Australia"),
    "IN": PhonePlan("91", (("9", 9), ("8", 9)), "trunk0", "Bengaluru", "India"),
    "CH": PhonePlan("41", (("78", 7), ("44", 7)), "trunk0", "Zurich", "Switzerland"),
    "AT": PhonePlan("43", (("664", 7),), "trunk0", "Vienna", "Austria"),
    "BE": PhonePlan("32", (("47", 7),), "trunk0", "Brussels", "Belgium"),
    "PL": PhonePlan("48", (("5", 8), ("22", 7)), "plain", "Warsaw", "Poland"),
    "PT": PhonePlan("351", (("91", 7), ("21", 7)), "plain", "Lisbon", "Portugal"),
    "NO": PhonePlan("47", (("41", 6), ("9", 7)), "plain", "Oslo", "Norway"),
    "SG": PhonePlan("65", (("81", 6), ("91", 6), ("61", 6)), "plain", "Singapore", "Singapore"),
    "ZA": PhonePlan("27", (("7", 8), ("21", 7)), "trunk0", "Cape Town", "South Africa"),
    "MX": PhonePlan("52", (("55", 8), ("33", 8)), "plain", "Mexico City", "Mexico"),
    "BR": PhonePlan("55", (("119", 8), ("219", 8)), "", "São Paulo", "Brazil"),
    "JP": PhonePlan("81", (("901", 7), ("80", 8)), "trunk0", "Tokyo", "Japan"),
}
_STRIDE = 7919  # prime, coprime with 10: i ↦ i·stride + offset (mod 10^k) never repeats a number


class PhoneRange:
    """Unique numbers in one range: the i-th is a bijection of i, so no two leads share a phone."""

    def __init__(self, plan: PhonePlan, prefix: str, digits: int, offset: int, *, check: bool = False):
        self.plan, self.prefix, self.digits, self.offset = plan, prefix, digits, offset
        self.size = 10**digits
        self.next = 0
        self.check = check  # ranges guessed at runtime (unknown countries) validate each number

    def take(self) -> str | None:
        """The next national significant number, or None when the range is used up (or, for a
        guessed range, turns out to hold hardly any valid number)."""
        misses = 0
        while self.next < self.size and misses < 1000:
            n = (self.next * _STRIDE + self.offset) % self.size
            self.next += 1
            nsn = f"{self.prefix}{n:0{self.digits}d}"
            if not self.check or phonenumbers.is_valid_number(phonenumbers.parse(f"+{self.plan.code}{nsn}")):
                return nsn
            misses += 1
        self.next = self.size
        return None


def guessed_plan(country: str) -> PhonePlan | None:
    """A plan for a country outside PHONE_PLANS, from phonenumbers' example mobile number."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    example = example or phonenumbers.example_number(country)
    if example is None:
        return None
    nsn = phonenumbers.national_significant_number(example)
    digits = min(6, len(nsn) - 2)
    return PhonePlan(str(example.country_code), ((nsn[:-digits], digits),), "", country, country)


def phone_display(plan: PhonePlan, nsn: str, style: int) -> str:
    """The number as people write it: 0 → E.164, 1 → international with spaces, 2 → national."""
    if style == 2 and plan.national:
        if plan.national == "nanp":
            return f"({nsn[:3]}) {nsn[3:6]}-{nsn[6:]}"
        national = ("0" if plan.national == "trunk0" else "") + nsn
        return f"{national[:-6]} {national[-6:-3]} {national[-3:]}"
    if style == 0:
        return f"+{plan.code}{nsn}"
    return f"+{plan.code} {nsn[:-6]} {nsn[-6:]}"
