"""Reading untrusted values (query parameters, pasted JSON) into bounded Python values.

Every public view reads numbers, dates and JSON through these, so a value out of range (a page
past any database integer, a year 9999 date that overflows the day after, a receipt nested a
hundred thousand deep) is a BadValue with a message for a 4xx, never an exception deep in the
ORM, the database driver or the JSON decoder that ends as a 500.
"""

import argparse
import json
from datetime import date, timedelta

# PostgreSQL's bigint; any index, id or page beyond it is out of range for every table.
LARGEST = 2**63 - 1
# PostgreSQL's integer (Django's IntegerField and PositiveIntegerField, a version's number).
LARGEST_INT = 2**31 - 1
# The latest day whose following day Python and the databases can still represent: a filter
# "up to and including day D" compares with D + 1 day.
LAST_DAY = date.max - timedelta(days=1)


class BadValue(ValueError):
    pass


def whole_number(raw, *, name: str, minimum: int = 0, maximum: int = LARGEST) -> int:
    """A whole number given as digits (a query parameter) or a JSON integer, in range."""
    if isinstance(raw, bool):
        raise BadValue(f"{name} must be a whole number")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 19:
        value = int(raw)
    else:
        raise BadValue(f"{name} must be a whole number")
    if not minimum <= value <= maximum:
        raise BadValue(f"{name} must be between {minimum} and {maximum}")
    return value


def page(raw, *, last: int) -> int:
    """A page number from ?page=: absent or unreadable is the first page, past `last` (however
    many digits) is `last`."""
    if isinstance(raw, str) and raw.isascii() and raw.isdigit():
        return max(1, min(int(raw[:20]), last))
    return 1


def day(value: date) -> date:
    """A day, checked to leave room for the day before and the day after it (a filter "on or
    before D" compares with the start of D + 1, in the site's time zone)."""
    if not date.min < value <= LAST_DAY:
        raise BadValue(
            f"Enter a date between {(date.min + timedelta(days=1)).isoformat()} and "
            f"{LAST_DAY.isoformat()}."
        )
    return value


def iso_day(text: str) -> date:
    """A YYYY-MM-DD day for a command-line option (argparse's `type`)."""
    try:
        return day(date.fromisoformat(text))
    except ValueError as exc:  # BadValue included
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _no_constant(token: str):
    raise BadValue(f"{token} is not a number JSON allows")


def json_value(text: str, *, max_length: int):
    """Parse JSON pasted by a visitor: bounded in length, no NaN or Infinity, and a document
    nested too deep for the decoder is bad input rather than a RecursionError."""
    if len(text) > max_length:
        raise BadValue(f"longer than {max_length} characters")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError as exc:
        raise BadValue("nested too deep") from exc
    except ValueError as exc:  # malformed, or an integer too long to convert
        raise BadValue("not JSON") from exc
