"""Tests of the one-click and manual-credential input checks, field by field."""

from __future__ import annotations

import pytest

from leafdesk.core.errors import ValidationError
from leafdesk.core.model import Environment, Secret
from leafdesk.core.validation import form_field, validate_manual, validate_one_click

SHARING = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


def _one_click(**overrides):
    values = dict(
        client_id="partner-client",
        username="partner@example.com",
        password="s3cret pass",
        client_environment="STAGE",
        sharing_url_id=SHARING,
    )
    values.update(overrides)
    return validate_one_click(**values)


def _manual(**overrides):
    values = dict(
        client_id="partner-client",
        username="partner@example.com",
        password="s3cret",
        organization_code="ORG-42",
        refresh_token="eyJjdHkiOiJKV1QifQ.token",
        client_environment="PRODUCTION",
    )
    values.update(overrides)
    return validate_manual(**values)


def _errors(call, **overrides) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        call(**overrides)
    return {error.field: error.message for error in raised.value.field_errors}


def test_one_click_valid_input_trimmed():
    checked = _one_click(client_id="  partner-client \t", username=" partner@example.com ",
                         client_environment=" stage ", sharing_url_id=f" {SHARING}\n")
    assert checked.client_id == "partner-client"
    assert checked.username == "partner@example.com"
    assert checked.client_environment is Environment.STAGE
    assert checked.sharing_url_id == SHARING
    assert isinstance(checked.password, Secret)
    assert checked.password == "s3cret pass"
    assert "s3cret" not in repr(checked)


def test_one_click_every_field_required():
    errors = _errors(_one_click, client_id=" ", username=None, password="",
                     client_environment="", sharing_url_id="")
    assert set(errors) == {"client_id", "username", "password", "client_environment",
                           "sharing_url_id"}
    assert errors["client_id"] == "Client id is required."
    assert "STAGE or PRODUCTION" in errors["client_environment"]


def test_one_click_message_lists_fields():
    with pytest.raises(ValidationError) as raised:
        _one_click(client_id="", username="")
    assert raised.value.for_field("client_id")
    assert raised.value.for_field("password") is None
    assert "2 fields" in raised.value.sentence()


@pytest.mark.parametrize("environment", ["DEV", "prod", "STAGING", "1"])
def test_environment_must_be_stage_or_production(environment):
    errors = _errors(_one_click, client_environment=environment)
    assert set(errors) == {"client_environment"}
    assert repr(environment) in errors["client_environment"]


def test_environment_enum_accepted():
    assert _one_click(client_environment=Environment.PRODUCTION).client_environment is (
        Environment.PRODUCTION
    )


@pytest.mark.parametrize(
    "value",
    ["not-a-uuid", "3f2a9c1e5b7d4e8f9a0b1c2d3e4f5a6b", "{" + SHARING + "}", SHARING + "0",
     "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6g"],
)
def test_sharing_url_id_must_be_uuid(value):
    errors = _errors(_one_click, sharing_url_id=value)
    assert set(errors) == {"sharing_url_id"}
    assert "UUID" in errors["sharing_url_id"]


def test_sharing_url_id_taken_from_pasted_url():
    checked = _one_click(sharing_url_id=f"https://portal.example/share/{SHARING}?x=1")
    assert checked.sharing_url_id == SHARING


def test_url_with_two_uuids_rejected():
    value = f"https://portal.example/{SHARING}/{SHARING.replace('3', '4')}"
    assert "sharing_url_id" in _errors(_one_click, sharing_url_id=value)


@pytest.mark.parametrize(
    ("field", "limit"), [("client_id", 128), ("username", 128), ("password", 256)]
)
def test_length_limits(field, limit):
    assert _one_click(**{field: "a" * limit})
    errors = _errors(_one_click, **{field: "a" * (limit + 1)})
    assert "too long" in errors[field]
    assert str(limit) in errors[field]


@pytest.mark.parametrize("bad", ["a\tb", "a\x00b", "a\u200bb", "a\nb", "a\x7fb"])
def test_control_characters_rejected(bad):
    errors = _errors(_one_click, client_id=bad, username=bad)
    assert "control character" in errors["client_id"]
    assert "control character" in errors["username"]


def test_password_spaces_kept_newline_dropped():
    assert _one_click(password=" pass word ").password == " pass word "
    assert _one_click(password="pass\r\n").password == "pass"
    assert "password" in _errors(_one_click, password="   ")


def test_manual_valid():
    checked = _manual(organization_code=" ORG-42 ", refresh_token=" token-value \n")
    assert checked.organization_code == "ORG-42"
    assert checked.refresh_token == "token-value"
    assert isinstance(checked.refresh_token, Secret)
    assert checked.client_environment is Environment.PRODUCTION
    assert "token-value" not in repr(checked)


def test_manual_every_field_checked():
    errors = _errors(_manual, client_id="", username="", password="", organization_code=" ",
                     refresh_token="", client_environment="X")
    assert set(errors) == {"client_id", "username", "password", "organization_code",
                           "refresh_token", "client_environment"}


def test_manual_refresh_token_limit():
    errors = _errors(_manual, refresh_token="t" * 8193)
    assert "too long" in errors["refresh_token"]


def test_validation_error_has_action():
    with pytest.raises(ValidationError) as raised:
        _manual(organization_code="")
    assert raised.value.action == "check the Panorama credential"
    assert raised.value.sentence().startswith("Could not check the Panorama credential")


def test_leaf_field_names_mapped():
    assert form_field("sharingUrlId") == "sharing_url_id"
    assert form_field("organizationCode") == "organization_code"
    assert form_field("somethingElse") == "somethingElse"
