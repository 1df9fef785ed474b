"""Value checks the services share: ISO 4217 currencies, India's GSTIN, money and dates from any door
(forms give ``Decimal``/``date``, the API and imports may give text)."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation

# ISO 4217 active codes (2024), without funds and precious-metal codes.
CURRENCIES = frozenset(
    [
        "AED",
        "AFN",
        "ALL",
        "AMD",
        "ANG",
        "AOA",
        "ARS",
        "AUD",
        "AWG",
        "AZN",
        "BAM",
        "BBD",
        "BDT",
        "BGN",
        "BHD",
        "BIF",
        "BMD",
        "BND",
        "BOB",
        "BRL",
        "BSD",
        "BTN",
        "BWP",
        "BYN",
        "BZD",
        "CAD",
        "CDF",
        "CHF",
        "CLP",
        "CNY",
        "COP",
        "CRC",
        "CUP",
        "CVE",
        "CZK",
        "DJF",
        "DKK",
        "DOP",
        "DZD",
        "EGP",
        "ERN",
        "ETB",
        "EUR",
        "FJD",
        "FKP",
        "GBP",
        "GEL",
        "GHS",
        "GIP",
        "GMD",
        "GNF",
        "GTQ",
        "GYD",
        "HKD",
        "HNL",
        "HTG",
        "HUF",
        "IDR",
        "ILS",
        "INR",
        "IQD",
        "IRR",
        "ISK",
        "JMD",
        "JOD",
        "JPY",
        "KES",
        "KGS",
        "KHR",
        "KMF",
        "KPW",
        "KRW",
        "KWD",
        "KYD",
        "KZT",
        "LAK",
        "LBP",
        "LKR",
        "LRD",
        "LSL",
        "LYD",
        "MAD",
        "MDL",
        "MGA",
        "MKD",
        "MMK",
        "MNT",
        "MOP",
        "MRU",
        "MUR",
        "MVR",
        "MWK",
        "MXN",
        "MYR",
        "MZN",
        "NAD",
        "NGN",
        "NIO",
        "NOK",
        "NPR",
        "NZD",
        "OMR",
        "PAB",
        "PEN",
        "PGK",
        "PHP",
        "PKR",
        "PLN",
        "PYG",
        "QAR",
        "RON",
        "RSD",
        "RUB",
        "RWF",
        "SAR",
        "SBD",
        "SCR",
        "SDG",
        "SEK",
        "SGD",
        "SHP",
        "SLE",
        "SOS",
        "SRD",
        "SSP",
        "STN",
        "SVC",
        "SYP",
        "SZL",
        "THB",
        "TJS",
        "TMT",
        "TND",
        "TOP",
        "TRY",
        "TTD",
        "TWD",
        "TZS",
        "UAH",
        "UGX",
        "USD",
        "UYU",
        "UZS",
        "VES",
        "VND",
        "VUV",
        "WST",
        "XAF",
        "XCD",
        "XOF",
        "XPF",
        "YER",
        "ZAR",
        "ZMW",
        "ZWL",
    ]
)
# A company's default currency from its default country; anything else falls back to USD.
COUNTRY_CURRENCY = {
    "IN": "INR", "US": "USD", "GB": "GBP", "CA": "CAD", "AU": "AUD", "NZ": "NZD", "SG": "SGD", "AE": "AED",
    "JP": "JPY", "CN": "CNY", "CH": "CHF", "SE": "SEK", "NO": "NOK", "DK": "DKK", "PL": "PLN", "BR": "BRL",
    "MX": "MXN", "ZA": "ZAR", "DE": "EUR", "FR": "EUR", "ES": "EUR", "IT": "EUR", "NL": "EUR", "IE": "EUR",
    "AT": "EUR", "BE": "EUR", "PT": "EUR", "FI": "EUR", "GR": "EUR",
}  # fmt: skip
MAX_AMOUNT = Decimal("99999999999999.99")  # 16 digits, 2 after the point (models.MONEY)

GSTIN_SHAPE = re.compile(r"^[0-9]{2}[A-Z]{5}[0-9]{4}[A-Z][1-9A-Z]Z[0-9A-Z]$")
_GSTIN_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def default_currency(country: str) -> str:
    return COUNTRY_CURRENCY.get((country or "").upper(), "USD")


def gstin_check_character(first14: str) -> str:
    """The GSTIN checksum: base-36 digits weighted 1, 2, 1, 2, … (each product folded to base 36)."""
    total = 0
    for position, char in enumerate(first14):
        product = _GSTIN_ALPHABET.index(char) * (2 if position % 2 else 1)
        total += product // 36 + product % 36
    return _GSTIN_ALPHABET[(36 - total % 36) % 36]


def gstin_problem(value: str) -> str:
    """'' when ``value`` is a well-formed GSTIN with a right check character, else why not."""
    if not GSTIN_SHAPE.match(value):
        return "Enter a 15-character GSTIN such as 27AAPFU0939F1ZV (state, PAN, entity, Z, check)."
    if gstin_check_character(value[:14]) != value[14]:
        return "This GSTIN's last character does not match its check digit; look for a typo."
    return ""


def parse_amount(value, field: str, errors: dict[str, list[str]]) -> Decimal | None:
    """A non-negative Decimal with at most two decimals, from a Decimal, int or numeric text; never float."""
    if value in (None, ""):
        return None
    if isinstance(value, float | bool):
        errors.setdefault(field, []).append('Send amounts as text or integers (e.g. "1250.50"), not floats.')
        return None
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append("Enter a number, e.g. 1250.50.")
        return None
    if not amount.is_finite():
        errors.setdefault(field, []).append("Enter a number, e.g. 1250.50.")
    elif amount < 0:
        errors.setdefault(field, []).append("The amount cannot be negative.")
    elif amount != amount.quantize(Decimal("0.01")):
        errors.setdefault(field, []).append("Use at most two decimal places.")
    elif amount > MAX_AMOUNT:
        errors.setdefault(field, []).append("The amount is too large.")
    else:
        return amount.quantize(Decimal("0.01"))
    return None


def parse_date(value, field: str, errors: dict[str, list[str]]) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        errors.setdefault(field, []).append("Enter a date as YYYY-MM-DD.")
        return None


def parse_probability(value, field: str, errors: dict[str, list[str]]) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        value = "x"
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append("Enter a whole number from 0 to 100.")
        return None
    if not number.is_finite() or number != number.to_integral_value() or not 0 <= number <= 100:
        errors.setdefault(field, []).append("Enter a whole number from 0 to 100.")
        return None
    return int(number)


def currency_problem(code: str) -> str:
    return "" if code in CURRENCIES else "Enter an ISO 4217 currency code such as USD, EUR or INR."
