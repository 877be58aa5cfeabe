"""The suite's own logs (at DEBUG), Redis contents and development mail logs
hold no member's real number, no member's name, and no blind index,
ciphertext or Argon2 hash (tests/leak_scan.py).

The last test of the run does the scan; the others check that the scanner
catches a real leak in every written form and does not cry wolf over the
public Safety Numbers or the last three digits the logs may show.
"""

from __future__ import annotations

import logging

import pytest

from storage.crypto import BlindIndex, FieldCipher, new_fernet_key, new_index_key
from storage.hashing import hash_secret
from tests import leak_scan
from tests.leak_scan import find_leaks, find_secrets, number_forms, secret_fingerprints

MEMBER = "+442079460123"


def test_every_written_form_of_a_number_is_recognised() -> None:
    forms = number_forms(MEMBER)
    for written in (
        "+442079460123",
        "442079460123",
        "02079460123",
        "020 7946 0123",
        "+44 20 7946 0123",
        "%2B442079460123",
    ):
        assert written in forms
        assert find_leaks(f"rang {written} for the member", [MEMBER], []), written


def test_last_three_digits_ids_and_other_numbers_are_not_leaks() -> None:
    text = (
        "inbound call CA02079460123ff: ring; caller ending 123; line +442079460001; "
        "member 42; token gAAAAAB2079460123x; job 902079460123"
    )
    assert find_leaks(text, [MEMBER], []) == []


def test_member_names_are_found_as_words_only() -> None:
    assert find_leaks("enrolled Ruby Starling today", [], ["Ruby Starling"])
    assert find_leaks("the Rubyish colour", [], ["Ruby"]) == []
    assert find_leaks("x Al y", [], ["Al"]) == []  # too short to scan without false alarms


def test_a_leak_report_does_not_repeat_the_secret() -> None:
    [report] = find_leaks("oops +442079460123", [MEMBER], [])
    assert "2079460" not in report


INDEX = BlindIndex(new_index_key())
CIPHER = FieldCipher((new_fernet_key(),))


def _secrets() -> tuple[dict[str, str], str, str, str]:
    index = INDEX(MEMBER)
    token = CIPHER.encrypt(MEMBER)
    pin_hash = hash_secret("4821")
    known: dict[str, str] = {}
    for kind, value in (("blind index", index), ("ciphertext", token), ("Argon2 hash", pin_hash)):
        known.update(dict.fromkeys(secret_fingerprints(kind, value), kind))
    return known, index, token, pin_hash


def test_blind_indexes_ciphertexts_and_hashes_are_found_whole_or_cut_short() -> None:
    known, index, token, pin_hash = _secrets()
    line = (
        f"[parameters: {{'phone_index': '{index}', 'phone_encrypted': '{token}', 'pin_hash': '{pin_hash}'}}]"
    )
    assert find_secrets(line, known) == ["Argon2 hash (1x)", "blind index (1x)", "ciphertext (1x)"]
    assert find_secrets(f"DETAIL: Key (phone_index)=({index[:40]}…) exists", known) == ["blind index (1x)"]
    assert find_secrets(f"token {token[:60]}", known) == ["ciphertext (1x)"]
    report = " ".join(find_secrets(line, known))
    assert index[:8] not in report and token[12:20] not in report


def test_other_tokens_are_not_taken_for_secrets() -> None:
    known, _, _, _ = _secrets()
    others = [
        INDEX("+447700900999"),
        CIPHER.encrypt(MEMBER),  # the same number, another token
        hash_secret("4821"),  # the same PIN, another salt
        "CA" + "0123456789abcdef" * 2,
    ]
    assert find_secrets(" ".join(others), known) == []


def test_debug_records_of_the_app_reach_the_scanned_log() -> None:
    if leak_scan.STATE is None:
        pytest.skip("LEAK_SCAN=0")
    logging.getLogger("ivr.leak_scan_probe").debug("probe %s", "reached-the-log")
    for handler in logging.getLogger().handlers:
        handler.flush()
    assert "reached-the-log" in leak_scan.STATE.log_path.read_text()


def test_the_suite_leaked_no_member_number_or_name() -> None:  # and no index, ciphertext or hash
    """Runs last (the plugin moves it): everything the run logged, queued and mailed."""
    state = leak_scan.STATE
    if state is None:
        pytest.skip("LEAK_SCAN=0")
    for handler in logging.getLogger().handlers:
        handler.flush()
    numbers, names = state.secret_numbers(), state.names
    sources = [state.log_path, state.redis_path, *state.mail_logs()]
    leaks = {}
    for path in sources:
        if path.exists():
            text = path.read_text(encoding="utf-8", errors="replace")
            found = find_leaks(text, numbers, names) + find_secrets(text, state.secrets)
            if found:
                leaks[str(path)] = found
    assert not leaks, f"real numbers or member names found (files kept for inspection): {leaks}"
