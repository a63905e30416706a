"""Keyed lookup hashes and sealed copies of identifiers (reference: assurance.md, PDPA)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from kyc.identifiers import (
    TH_CITIZEN_ID,
    IdentifierError,
    IdentifierProtector,
    derive_keys,
    passport_namespace,
)

MASTER = b"test-kek-32-bytes-long----------"
THAI_ID = "1345951597671"


@pytest.fixture
def protector() -> IdentifierProtector:
    return IdentifierProtector(*derive_keys(MASTER))


def test_derive_keys_gives_two_distinct_deterministic_keys() -> None:
    hash_key, enc_key = derive_keys(MASTER)
    assert len(hash_key) == len(enc_key) == 32
    assert hash_key != enc_key
    assert derive_keys(MASTER) == (hash_key, enc_key)
    assert derive_keys(b"another master key of 32 bytes..") != (hash_key, enc_key)
    assert MASTER not in (hash_key, enc_key)


def test_derive_keys_refuses_short_master() -> None:
    with pytest.raises(ValueError):
        derive_keys(b"short")


def test_protector_refuses_bad_keys() -> None:
    hash_key, enc_key = derive_keys(MASTER)
    with pytest.raises(ValueError):
        IdentifierProtector(hash_key, enc_key[:16])
    with pytest.raises(ValueError):
        IdentifierProtector(hash_key[:8], enc_key)
    with pytest.raises(ValueError):
        IdentifierProtector(enc_key, enc_key)


def test_repr_hides_keys(protector: IdentifierProtector) -> None:
    hash_key, enc_key = derive_keys(MASTER)
    text = repr(protector)
    assert hash_key.hex() not in text and enc_key.hex() not in text
    assert "hidden" in text


def test_lookup_hash_is_hmac_sha256_hex(protector: IdentifierProtector) -> None:
    digest = protector.lookup_hash(TH_CITIZEN_ID, THAI_ID)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert THAI_ID not in digest
    hash_key, _ = derive_keys(MASTER)
    expected = hmac.new(hash_key, b"v1\x00th_citizen_id\x00" + THAI_ID.encode(),
                        hashlib.sha256).hexdigest()
    assert digest == expected
    # keyed: a plain SHA-256 of the number (guessable by enumeration) is not what is stored
    assert digest != hashlib.sha256(THAI_ID.encode()).hexdigest()
    assert hmac.compare_digest(digest, protector.lookup_hash(TH_CITIZEN_ID, THAI_ID))


def test_lookup_hash_normalises_typing(protector: IdentifierProtector) -> None:
    assert protector.lookup_hash(TH_CITIZEN_ID, "1-3459-51597-67-1") == \
        protector.lookup_hash(TH_CITIZEN_ID, THAI_ID)


def test_lookup_hash_depends_on_key_and_namespace(protector: IdentifierProtector) -> None:
    other = IdentifierProtector(*derive_keys(b"another master key of 32 bytes.."))
    assert other.lookup_hash(TH_CITIZEN_ID, THAI_ID) != protector.lookup_hash(TH_CITIZEN_ID,
                                                                              THAI_ID)
    # the same characters as a Thai ID and as a passport number hash differently
    assert protector.lookup_hash("passport:THA", THAI_ID) != protector.lookup_hash(
        TH_CITIZEN_ID, THAI_ID)
    assert protector.lookup_hash("passport:THA", "AA1234567") != protector.lookup_hash(
        "passport:USA", "AA1234567")


def test_invalid_thai_id_refused_without_echo(protector: IdentifierProtector) -> None:
    with pytest.raises(IdentifierError) as err:
        protector.lookup_hash(TH_CITIZEN_ID, "3712644096692")
    assert "3712644096692" not in str(err.value)
    with pytest.raises(IdentifierError) as err:
        protector.seal(TH_CITIZEN_ID, "3712644096692")
    assert "3712644096692" not in str(err.value)


def test_passport_numbers_normalised(protector: IdentifierProtector) -> None:
    ns = passport_namespace("tha")
    assert ns == "passport:THA"
    assert protector.lookup_hash(ns, "aa 123 4567") == protector.lookup_hash(ns, "AA1234567")
    assert protector.lookup_hash("passport:tha", "AA1234567") == protector.lookup_hash(
        "passport:THA", "AA1234567")
    assert protector.unseal(ns, protector.seal(ns, " aa1234567 ")) == "AA1234567"


@pytest.mark.parametrize("country", ["TH", "THAI", "T1A", "", "ไทย", "TH "])
def test_passport_country_must_be_three_letters(country: str) -> None:
    with pytest.raises(IdentifierError):
        passport_namespace(country)


@pytest.mark.parametrize("number", ["", "   ", "AB-1234", "AB/1234", "X" * 21])
def test_passport_number_form(protector: IdentifierProtector, number: str) -> None:
    with pytest.raises(IdentifierError):
        protector.lookup_hash("passport:THA", number)


@pytest.mark.parametrize("namespace", ["", "national_id", "passport", "passport:", "TH_CITIZEN_ID"])
def test_unknown_namespaces_refused(protector: IdentifierProtector, namespace: str) -> None:
    with pytest.raises(IdentifierError):
        protector.lookup_hash(namespace, THAI_ID)


def test_seal_round_trip_with_random_nonce(protector: IdentifierProtector) -> None:
    first = protector.seal(TH_CITIZEN_ID, "1-3459-51597-67-1")
    second = protector.seal(TH_CITIZEN_ID, THAI_ID)
    assert first != second  # a fresh nonce each time
    assert THAI_ID not in first
    assert protector.unseal(TH_CITIZEN_ID, first) == THAI_ID
    assert protector.unseal(TH_CITIZEN_ID, second) == THAI_ID
    blob = base64.b64decode(first, validate=True)
    assert len(blob) == 1 + 12 + len(THAI_ID) + 16  # version, nonce, ciphertext, tag


def test_unseal_checks_namespace_key_and_integrity(protector: IdentifierProtector) -> None:
    sealed = protector.seal("passport:THA", "AA1234567")
    with pytest.raises(IdentifierError):
        protector.unseal("passport:USA", sealed)  # the namespace is the associated data
    other = IdentifierProtector(*derive_keys(b"another master key of 32 bytes.."))
    with pytest.raises(IdentifierError):
        other.unseal("passport:THA", sealed)
    blob = bytearray(base64.b64decode(sealed))
    blob[-1] ^= 1
    with pytest.raises(IdentifierError):
        protector.unseal("passport:THA", base64.b64encode(bytes(blob)).decode())


@pytest.mark.parametrize("sealed", ["", "not base64!", "AAAA", "x" * 5000,
                                    base64.b64encode(b"\x02" + bytes(40)).decode()])
def test_unseal_refuses_garbage(protector: IdentifierProtector, sealed: str) -> None:
    with pytest.raises(IdentifierError):
        protector.unseal(TH_CITIZEN_ID, sealed)
