"""No password of a database URL or DSN in any message, log or CLI output (issue 15)."""

from __future__ import annotations

import pytest

from outcomes import InputError
from outcomes.cli import main
from outcomes.privacy import redact_secrets
from outcomes.sources.omop import load_omop

SECRET = "s3cretPW"

# Port 1 on the loopback refuses at once: every form fails to connect, after parsing.
FORMS = {
    "bad % escape": f"postgresql://ann:{SECRET}%zz@127.0.0.1:1/cdm",
    "unencoded @": f"postgresql://ann:p@{SECRET}@127.0.0.1:1/cdm",
    "unencoded @ first": f"postgresql://ann:{SECRET}@x@127.0.0.1:1/cdm",
    "?password= in the query": f"postgresql://ann@127.0.0.1:1/cdm?password={SECRET}",
    "&password= in the query": f"postgresql://ann@127.0.0.1:1/cdm?sslmode=disable&password={SECRET}",
    "key=value DSN": f"host=127.0.0.1 port=1 dbname=cdm user=ann password={SECRET}",
    "quoted key=value DSN": f"host=127.0.0.1 port=1 password='{SECRET} x' dbname=cdm",
    "plain URL": f"postgres://ann:{SECRET}@127.0.0.1:1/cdm",
}


@pytest.mark.parametrize("url", FORMS.values(), ids=FORMS.keys())
def test_redact_secrets_every_form(url):
    text = redact_secrets(f"connecting to {url} failed", url)
    assert SECRET not in text and "***" in text


@pytest.mark.parametrize("url", FORMS.values(), ids=FORMS.keys())
def test_no_password_in_the_exception(url):
    with pytest.raises(InputError) as info:
        load_omop(url)
    message = str(info.value)
    assert SECRET not in message and "\n" not in message
    assert message.startswith("`url_or_path` must reach a PostgreSQL database")


@pytest.mark.parametrize("url", FORMS.values(), ids=FORMS.keys())
def test_no_password_on_the_command_line(url, capsys):
    status = main(["validate", "--omop", url])
    captured = capsys.readouterr()
    assert status == 2 and SECRET not in captured.err + captured.out
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err


def test_password_fragments_quoted_by_the_driver_are_hidden():
    # libpq splits "p@ss3cret@host" at the first "@" and names the rest as a host
    url = "postgresql://ann:p@ss3cret@db.example/cdm"
    assert redact_secrets("failed to resolve host 'ss3cret@db.example'", url) == \
        "failed to resolve host '***@db.example'"


def test_text_without_secrets_is_unchanged():
    text = "Procedures file p.csv was not found; port=5432 host=db"
    assert redact_secrets(text) == text
