"""R-ID-1: register identifiers are unique, readable and self-checking."""

from dsr_referral.domain.register_id import ALPHABET, check_character, is_valid_register_id, new_register_id


def test_r_id_1_identifiers_carry_the_area_and_a_valid_check_character():
    ids = {new_register_id("QJ2") for _ in range(2000)}
    assert len(ids) == 2000
    assert all(i.startswith("QJ2-") and is_valid_register_id(i) for i in ids)


BLIND_SPOT = {"0Z", "Z0"}  # Luhn mod N cannot see the swap of the alphabet's ends


def test_r_id_1_any_single_mistyped_character_or_neighbour_swap_is_caught():
    register_id = new_register_id("QNC")
    _, a, b, check = register_id.split("-")
    body = a + b
    for i in range(len(body)):
        for ch in ALPHABET:
            if ch != body[i]:
                assert check_character(body[:i] + ch + body[i + 1 :]) != check
    for i in range(len(body) - 1):
        swapped = body[:i] + body[i + 1] + body[i] + body[i + 2 :]
        if swapped != body and body[i : i + 2] not in BLIND_SPOT:
            assert check_character(swapped) != check


def test_r_id_1_the_one_swap_luhn_misses_is_the_alphabets_ends():
    assert check_character("0Z234567") == check_character("Z0234567")
    assert check_character("1Z234567") != check_character("Z1234567")
