"""ISO 4217 currencies accepted by the validator, with their minor units.

Minor units are the number of digits after the decimal separator that ISO 4217
assigns to the currency (USD 2 -> cents, JPY 0, BHD 3 -> fils, CLF 4).  The table
holds the commonly traded currencies; a currency missing here is rejected with
``UNSUPPORTED_CURRENCY``.  Adding one is a business decision (acquirer support,
sanctions screening), not a code change elsewhere: add the ISO code and its ISO
minor units below.

Note: some card networks settle a few currencies with a different exponent than
ISO (e.g. ISK, HUF, TWD in certain schemes).  This table follows ISO 4217.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_TABLE: dict[str, int] = {
    # Zero-decimal currencies
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0,
    "KRW": 0, "PYG": 0, "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0,
    "XAF": 0, "XOF": 0, "XPF": 0,
    # Three-decimal currencies
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # Four-decimal units of account
    "CLF": 4, "UYW": 4,
    # Two-decimal currencies
    "AED": 2, "ARS": 2, "AUD": 2, "BDT": 2, "BRL": 2, "CAD": 2, "CHF": 2,
    "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "DOP": 2, "EGP": 2, "EUR": 2,
    "GBP": 2, "GHS": 2, "HKD": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2,
    "JMD": 2, "KES": 2, "KZT": 2, "LKR": 2, "MAD": 2, "MXN": 2, "MYR": 2,
    "NGN": 2, "NOK": 2, "NZD": 2, "PEN": 2, "PHP": 2, "PKR": 2, "PLN": 2,
    "QAR": 2, "RON": 2, "RSD": 2, "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2,
    "TRY": 2, "TWD": 2, "TZS": 2, "UAH": 2, "USD": 2, "UYU": 2, "ZAR": 2,
}

#: Read-only view: currency code -> ISO 4217 minor units.
MINOR_UNITS: Mapping[str, int] = MappingProxyType(_TABLE)

DEFAULT_CURRENCY = "USD"


def minor_units(currency: str) -> int | None:
    """Return the ISO 4217 minor units of ``currency`` or ``None`` if unsupported."""
    return MINOR_UNITS.get(currency)
