"""Passwords out of text: every database URL or DSN that reaches a message, a log or a report.

Patterns are RE2 (linear time). Forms covered, each with a test:

- ``postgresql://user:secret@host/db`` and the malformed ``postgresql://user:p@ss@host/db``
  (an unencoded ``@``) or ``postgresql://user:p%zzss@host/db`` (a bad ``%`` escape);
- ``postgresql://user@host/db?password=secret`` (and ``sslpassword``, ``token``, ...);
- key=value DSNs: ``host=db password=secret dbname=cdm``, also quoted ``password='s e c'``.

When the original URL or DSN is given, its password is also replaced wherever it occurs in the
text in any spelling (as written, percent-decoded, percent-encoded), so a driver that quotes a
fragment of it in an error message leaks nothing either.
"""

from __future__ import annotations

import urllib.parse

import re2

MASK = "***"

_KEYS = r"(?:password|passwd|pwd|pass|sslpassword|sslkey_password|secret|token|access_token|api_key|apikey)"
_USERINFO = re2.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*:)([^\s]*)@")
_QUERY = re2.compile(r"(?i)([?&;]" + _KEYS + r"=)([^&\s#'\"]*)")
_DSN = re2.compile(r"(?i)(\b" + _KEYS + r"\s*=\s*)('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&'\"]+)")


def _passwords(source: str) -> set[str]:
    found: set[str] = set()
    for pattern in (_USERINFO, _QUERY, _DSN):
        for m in pattern.finditer(source):
            value = m.group(2).strip("'\"")
            if len(value) >= 3:
                found |= {value, urllib.parse.unquote(value), urllib.parse.quote(value, safe=""),
                          urllib.parse.unquote_plus(value)}
                # a driver that splits a malformed URL at an unencoded "@" or ":" quotes the pieces
                found |= set(re2.split(r"[@:/?#%\s]", value))
    return {v for v in found if len(v) >= 3}


def redact_secrets(text: object, *sources: object) -> str:
    """``text`` with every password of a URL or DSN replaced by ``***``.

    Parameters
    ----------
    text : object
        Any message (converted with ``str``).
    *sources : str, optional
        The URLs or DSNs the text may quote (``None`` is ignored): their passwords are replaced
        wherever they occur, however the text spells them.

    Returns
    -------
    str

    Examples
    --------
    >>> redact_secrets("connecting to postgresql://ann:s3cr%et@db/cdm failed")
    'connecting to postgresql://ann:***@db/cdm failed'
    >>> redact_secrets("host=db password='a b' dbname=cdm")
    'host=db password=*** dbname=cdm'
    >>> redact_secrets("bad token 'p@ss'", "postgresql://ann:p@ss@db/cdm")
    "bad token '***'"
    >>> redact_secrets("failed to resolve host 'ss3cret@db'", "postgresql://ann:p@ss3cret@db/cdm")
    "failed to resolve host '***@db'"
    """
    out = str(text)
    secrets: set[str] = set()
    for source in sources:
        if source is not None:
            secrets |= _passwords(str(source))
    for secret in sorted(secrets, key=len, reverse=True):
        out = out.replace(secret, MASK)
    out = _USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", out)
    out = _QUERY.sub(lambda m: f"{m.group(1)}{MASK}", out)
    return _DSN.sub(lambda m: f"{m.group(1)}{MASK}", out)
