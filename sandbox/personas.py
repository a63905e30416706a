"""Sandbox test people: the persona picker the provider shows when sandbox parties are on.

Agencies that integrated with other mock identity providers expect a short list of ready-made
people that cover the cases their code must handle: each assurance level they may ask for, a
foreigner without a Thai citizen ID, someone with no e-mail and a long rural address, Thai and
English names side by side. Everything here is invented; names, numbers and addresses belong to
no real person (the citizen IDs are checksum-valid so agency-side validators accept them).

Claims use OIDC Core standard names; Thai-script names are language-tagged (`name#th`, OIDC Core
5.2) and English names are untagged, which is what `idp.oidc.claims.localize` expects.
`th_citizen_id` is sensitive personal data (PDPA): it lives here only so the provider can
release it later as a consented, verified claim; it must never be sent by default or logged.

Treat `Persona` objects as read-only: copy `claims` before changing anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from kyc.proofing import (
    ProofingEvent,
    default_expiry,
    id_card_chip_evidence,
    ndid_bank_evidence,
    passport_evidence,
)
from kyc.verified_claims import VERIFIABLE_CLAIMS

PersonaKind = Literal["citizen", "foreigner"]


@dataclass(frozen=True)
class Persona:
    """One sandbox person: who they are, how well they are proofed, how they log in."""

    id: str
    kind: PersonaKind
    ial: str
    """Identity assurance level from the Thai scale, as a decimal string ("2.3")."""
    aal: str
    """Authentication assurance level the sandbox login gives this person ("2.2")."""
    claims: dict[str, Any] = field(hash=False)
    name_th: str
    name_en: str
    description_th: str
    description_en: str
    passport: tuple[str, str] | None = None
    """(issuing country ISO 3166-1 alpha-3, number) for foreigners, who have no Thai ID."""


def _address(street: str, locality: str, region: str, postal_code: str) -> dict[str, str]:
    """An OIDC address object for a Thai address, `formatted` in Thai reading order."""
    return {
        "formatted": f"{street} {locality} {region} {postal_code}",
        "street_address": street,
        "locality": locality,
        "region": region,
        "postal_code": postal_code,
        "country": "TH",
    }


PERSONAS: list[Persona] = [
    Persona(
        id="somchai",
        kind="citizen",
        ial="2.3",
        aal="2.2",
        name_th="นายสมชาย ใจดี",
        name_en="Mr. Somchai Jaidee",
        description_th="พลเมืองไทย ยืนยันตัวตนผ่านธนาคารด้วย NDID (IAL 2.3) "
                       "เข้าสู่ระบบด้วยพาสคีย์ (AAL 2.2)",
        description_en="Thai citizen proofed by a bank over NDID (IAL 2.3), "
                       "logs in with a passkey (AAL 2.2)",
        claims={
            "title": "Mr.",
            "title#th": "นาย",
            "given_name": "Somchai",
            "family_name": "Jaidee",
            "name": "Somchai Jaidee",
            "given_name#th": "สมชาย",
            "family_name#th": "ใจดี",
            "name#th": "สมชาย ใจดี",
            "birthdate": "1985-04-12",
            "gender": "male",
            "email": "somchai.jaidee@example.com",
            "email_verified": True,
            "phone_number": "+66812345678",
            "phone_number_verified": True,
            "address": _address(
                "123/45 ซอยสุขุมวิท 21 ถนนสุขุมวิท แขวงคลองเตยเหนือ",
                "เขตวัฒนา",
                "กรุงเทพมหานคร",
                "10110",
            ),
            "locale": "th-TH",
            "th_citizen_id": "1345951597671",
        },
    ),
    Persona(
        id="malee",
        kind="citizen",
        ial="1.1",
        aal="1",
        name_th="นางสาวมาลี ศรีสุข",
        name_en="Ms. Malee Srisuk",
        description_th="พลเมืองไทย ยังไม่ได้ยืนยันตัวตน ข้อมูลกรอกเอง (IAL 1.1) "
                       "เข้าสู่ระบบด้วยปัจจัยเดียว (AAL 1)",
        description_en="Thai citizen, not yet proofed, self-asserted data (IAL 1.1), "
                       "single-factor login (AAL 1)",
        claims={
            "title": "Ms.",
            "title#th": "นางสาว",
            "given_name": "Malee",
            "family_name": "Srisuk",
            "name": "Malee Srisuk",
            "given_name#th": "มาลี",
            "family_name#th": "ศรีสุข",
            "name#th": "มาลี ศรีสุข",
            "birthdate": "1998-11-03",
            "gender": "female",
            "email": "malee.srisuk@example.com",
            "email_verified": False,
            "phone_number": "+66898765432",
            "phone_number_verified": False,
            "address": _address(
                "88/12 หมู่บ้านสวนสน ถนนรัตนาธิเบศร์ ตำบลบางกระสอ",
                "อำเภอเมืองนนทบุรี",
                "นนทบุรี",
                "11000",
            ),
            "locale": "th-TH",
            # Self-asserted, unverified: the provider must not release it as verified.
            "th_citizen_id": "1234567890121",
        },
    ),
    Persona(
        id="wichai",
        kind="citizen",
        ial="3",
        aal="3",
        name_th="นายวิชัย รักษ์ไทย",
        name_en="Mr. Wichai Rakthai",
        description_th="ข้าราชการ ยืนยันตัวตนต่อหน้าเจ้าหน้าที่พร้อมชีวมิติ (IAL 3) "
                       "เข้าสู่ระบบด้วยกุญแจความปลอดภัยแบบฮาร์ดแวร์ (AAL 3)",
        description_en="Civil servant proofed in person with biometrics (IAL 3), "
                       "logs in with a hardware security key (AAL 3)",
        claims={
            "title": "Mr.",
            "title#th": "นาย",
            "given_name": "Wichai",
            "family_name": "Rakthai",
            "name": "Wichai Rakthai",
            "given_name#th": "วิชัย",
            "family_name#th": "รักษ์ไทย",
            "name#th": "วิชัย รักษ์ไทย",
            "birthdate": "1979-07-28",
            "gender": "male",
            "email": "wichai.r@example.go.th",
            "email_verified": True,
            "phone_number": "+66823456789",
            "phone_number_verified": True,
            "address": _address(
                "9/1 ถนนพิษณุโลก แขวงจิตรลดา",
                "เขตดุสิต",
                "กรุงเทพมหานคร",
                "10300",
            ),
            "locale": "th-TH",
            "th_citizen_id": "1103700456783",
        },
    ),
    Persona(
        id="john",
        kind="foreigner",
        ial="2.1",
        aal="2.1",
        name_th="นายจอห์น สมิธ",
        name_en="Mr. John Michael Smith",
        description_th="ชาวต่างชาติ ยืนยันตัวตนด้วยหนังสือเดินทาง (IAL 2.1) "
                       "ไม่มีเลขประจำตัวประชาชนไทย เข้าสู่ระบบสองปัจจัย (AAL 2.1)",
        description_en="Foreigner proofed with a passport (IAL 2.1), no Thai citizen ID, "
                       "two-factor login (AAL 2.1)",
        claims={
            "title": "Mr.",
            "title#th": "นาย",
            "given_name": "John",
            "middle_name": "Michael",
            "family_name": "Smith",
            "name": "John Michael Smith",
            "given_name#th": "จอห์น",
            "family_name#th": "สมิธ",
            "name#th": "จอห์น สมิธ",
            "birthdate": "1990-02-14",
            "gender": "male",
            "email": "john.smith@example.org",
            "email_verified": True,
            "phone_number": "+66934567890",
            "phone_number_verified": True,
            "address": _address(
                "55 ถนนนิมมานเหมินท์ ตำบลสุเทพ",
                "อำเภอเมืองเชียงใหม่",
                "เชียงใหม่",
                "50200",
            ),
            "locale": "en-GB",
            # OpenID Connect for Identity Assurance: ISO 3166-1 alpha-3 country codes.
            "nationalities": ["GBR"],
        },
        passport=("GBR", "925076473"),
    ),
    Persona(
        id="boonmee",
        kind="citizen",
        ial="2.3",
        aal="2.1",
        name_th="นางบุญมี มีทรัพย์สมบูรณ์",
        name_en="Mrs. Boonmee Meesupsomboon",
        description_th="ผู้สูงอายุ อายุกว่า 80 ปี ยืนยันตัวตนด้วยบัตรประชาชนแบบเสียบบัตร (IAL 2.3) "
                       "ไม่มีอีเมล ที่อยู่ต่างจังหวัดแบบยาว เข้าสู่ระบบด้วย OTP (AAL 2.1)",
        description_en="Elderly citizen over 80, proofed by reading her ID card chip (IAL 2.3), "
                       "no e-mail, long rural address, logs in with an OTP (AAL 2.1)",
        claims={
            "title": "Mrs.",
            "title#th": "นาง",
            "given_name": "Boonmee",
            "family_name": "Meesupsomboon",
            "name": "Boonmee Meesupsomboon",
            "given_name#th": "บุญมี",
            "family_name#th": "มีทรัพย์สมบูรณ์",
            "name#th": "บุญมี มีทรัพย์สมบูรณ์",
            "birthdate": "1941-09-05",
            "gender": "female",
            "phone_number": "+66856789012",
            "phone_number_verified": True,
            "address": _address(
                "บ้านเลขที่ 199/3 หมู่ที่ 7 บ้านหนองไผ่ล้อมพัฒนา ซอยวัดป่าสามัคคีธรรม "
                "ถนนมิตรภาพ-หนองคาย ตำบลบ้านเกาะ",
                "อำเภอเมืองนครราชสีมา",
                "นครราชสีมา",
                "30000",
            ),
            "locale": "th-TH",
            "th_citizen_id": "3100500123458",
        },
    ),
]

_BY_ID: dict[str, Persona] = {p.id: p for p in PERSONAS}


def get_persona(persona_id: str) -> Persona | None:
    """The persona with this id, or None; ids come from a form, so unknown ones are normal."""
    return _BY_ID.get(persona_id)


# How each proofed persona is said to have been proven (sandbox evidence, invented).
_EVIDENCE = {
    "somchai": lambda at: ndid_bank_evidence("Sandbox Bank A", "sandbox_bank_a",
                                             "sandbox-somchai", at),
    "wichai": id_card_chip_evidence,
    "boonmee": id_card_chip_evidence,
    "john": lambda at: passport_evidence("GBR", at),
}


def verified_part(claims: dict[str, Any]) -> dict[str, Any]:
    """The claims a proofing can vouch for: names, birthdate, gender, address (with their
    language-tagged forms) and the citizen ID; never e-mail, phone or locale."""
    return {k: v for k, v in claims.items()
            if k.split("#")[0] in VERIFIABLE_CLAIMS or k == "th_citizen_id"}


def persona_proofing(persona: Persona, person_id: str, at: datetime) -> ProofingEvent | None:
    """The sandbox proofing event that gives a persona its IAL; None for the unproofed."""
    evidence = _EVIDENCE.get(persona.id)
    if evidence is None or Decimal(persona.ial) <= Decimal("1.1"):
        return None
    return ProofingEvent(
        person_id=person_id, source="sandbox", ial=Decimal(persona.ial),
        aal=Decimal(persona.aal), evidence=[evidence(at)],
        claims=verified_part(persona.claims), verification_process=f"sandbox-{persona.id}",
        time=at, expires_at=default_expiry(at))
