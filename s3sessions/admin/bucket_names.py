"""Bucket names: what S3 accepts, said in words (pure code, no I/O).

botocore rejects a malformed name with a 400-character regex; `bucket_name_problem` says instead which rule the
name breaks. Two sets of rules: what any request can carry (older buckets may hold capitals or '_'), and S3's
stricter rules for creating a bucket today.

Example:
    >>> bucket_name_problem("My_Bucket", new=True)
    "it may contain only lowercase letters, digits, '.' and '-', not 'M' '_' 'B'"
"""

from __future__ import annotations

import ipaddress
import re

from ..errors import InvalidInput

_LEGACY_NAME = re.compile(r"[A-Za-z0-9._-]{1,255}")
_NEW_NAME_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_NEW_NAME_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: object, *, new: bool = False) -> str | None:
    """Says in words what is wrong with a bucket name, or returns None when there is nothing.

    Args:
        name: The bucket name (an access point ARN, ``arn:...``, is left to S3).
        new: Apply S3's rules for creating a bucket (3-63 lowercase letters, digits, '.' and '-', ...);
            otherwise only what no S3 request can carry (older buckets may have capitals or '_').
    """
    if not isinstance(name, str) or not name:
        return "a bucket name is needed"
    if name.startswith("arn:") and not new:
        return None
    allowed = "lowercase letters, digits, '.' and '-'" if new else "letters, digits, '.', '-' and '_'"
    bad = [char for char in name if not (char.isascii() and (char.isalnum() or char in ".-_"))]
    if new:
        bad = [char for char in name if char in bad or char.isupper() or char == "_"]
    bad = list(dict.fromkeys(bad))  # each once, in order of appearance
    if bad:
        return f"it may contain only {allowed}, not {' '.join(repr(char) for char in bad)}"
    if not new:
        return None if _LEGACY_NAME.fullmatch(name) else f"it is {len(name)} characters long (at most 255)"
    if not 3 <= len(name) <= 63:
        return f"it is {len(name)} characters long; a new bucket's name has 3 to 63"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "it must begin and end with a letter or a digit"
    if ".." in name:
        return "it may not contain two dots in a row"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "it may not look like an IP address"
    for reserved in _NEW_NAME_PREFIXES:
        if name.startswith(reserved):
            return f"names starting with {reserved!r} are reserved by S3"
    for reserved in _NEW_NAME_SUFFIXES:
        if name.endswith(reserved):
            return f"names ending in {reserved!r} are reserved by S3"
    return None


def check_bucket_name(name: object, *, new: bool = False) -> str:
    """Returns the name if S3 can accept it (see `bucket_name_problem`).

    Raises:
        InvalidInput: what is wrong, in words.
    """
    problem = bucket_name_problem(name, new=new)
    if problem is not None:
        raise InvalidInput(f"invalid bucket name {name!r}: {problem}")
    assert isinstance(name, str)
    return name


__all__ = ["bucket_name_problem", "check_bucket_name"]
