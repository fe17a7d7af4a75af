"""Phone numbers: national input to E.164, Swedish mobiles only, shown in national format."""
import pytest

from chalicelib.domain import phone
from chalicelib.domain.errors import InvalidPhone, PhoneNotAllowed

SE = ("SE",)


@pytest.mark.parametrize("typed", ["070-123 45 67", "0701234567", "+46701234567",
                                   "+46 70 123 45 67", "0046701234567", " 070 123 45 67 "])
def test_national_and_international_input_become_e164(typed):
    assert phone.parse(typed, SE) == "+46701234567"


@pytest.mark.parametrize("typed", ["08-123 456 78", "019-21 20 00"])
def test_landlines_are_not_allowed(typed):
    with pytest.raises(PhoneNotAllowed):
        phone.parse(typed, SE)


def test_a_foreign_mobile_is_not_allowed_unless_its_country_is():
    with pytest.raises(PhoneNotAllowed):
        phone.parse("+4791234567", SE)
    assert phone.parse("+4791234567", ("SE", "NO")) == "+4791234567"


@pytest.mark.parametrize("typed", ["", "hello", "070-ABC", "12", "+46 70 123 45 67 89 01 23"])
def test_garbage_is_not_a_phone_number(typed):
    with pytest.raises((InvalidPhone, PhoneNotAllowed)):
        phone.parse(typed, SE)


def test_letters_are_invalid_not_merely_disallowed():
    with pytest.raises(InvalidPhone):
        phone.parse("ring mig", SE)


def test_numbers_are_shown_in_national_format():
    assert phone.national("+46701234567") == "070-123 45 67"


def test_masking_keeps_only_the_country_prefix_and_last_two_digits():
    assert phone.masked("+46701234567") == "+4670*****67"
    assert "1234" not in phone.masked("+46701234567")
    assert phone.masked(None) is None
