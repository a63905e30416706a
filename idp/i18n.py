"""Thai and English texts for every page and error message people see.

Plain Python with no Flask import, so the CLI, the domain packages and tests can translate
without a request. Thai is the default language of the service; English is there for
foreigners and for agencies' developers. Each text is written for a person, not for a
developer: it says what happened and what to do next, and never shows a stack trace,
a token or an identifier.

Texts may contain ``{name}`` placeholders filled by :func:`translate`; the values come
from callers and are HTML-escaped by Jinja when shown, never here.
"""

from __future__ import annotations

SUPPORTED_LOCALES: tuple[str, ...] = ("th", "en")
DEFAULT_LOCALE = "th"

#: Each language's own name, for the language switch (always shown in that language).
LANGUAGE_NAMES: dict[str, str] = {"th": "ภาษาไทย", "en": "English"}

MESSAGES: dict[str, dict[str, str]] = {
    # --- page frame --------------------------------------------------------------------
    "app_name": {
        "th": "บริการยืนยันตัวตนดิจิทัลภาครัฐ",
        "en": "Government Digital ID",
    },
    "skip_to_content": {"th": "ข้ามไปยังเนื้อหาหลัก", "en": "Skip to main content"},
    "switch_language": {"th": "เปลี่ยนภาษา", "en": "Change language"},
    "agency_unknown": {"th": "หน่วยงาน", "en": "The agency"},
    "sandbox_label": {"th": "SANDBOX / ทดสอบ", "en": "SANDBOX / ทดสอบ"},
    "sandbox_banner": {
        "th": "นี่คือระบบทดสอบ บุคคลในรายการเป็นบุคคลสมมติ ห้ามกรอกข้อมูลส่วนบุคคลจริง",
        "en": "This is a test system. The people listed are fictional; "
        "do not enter real personal data.",
    },
    # --- login ---------------------------------------------------------------------------
    "login_title": {"th": "เข้าสู่ระบบ", "en": "Log in"},
    "login_intro": {
        "th": "{agency} ขอให้คุณยืนยันตัวตนก่อนใช้บริการ",
        "en": "{agency} asks you to prove who you are before you continue.",
    },
    "choose_persona": {"th": "เลือกบุคคลทดสอบ", "en": "Choose a test person"},
    "persona_assurance": {
        "th": "ระดับความน่าเชื่อถือ IAL {ial} · AAL {aal}",
        "en": "Assurance level IAL {ial} · AAL {aal}",
    },
    "persona_required": {
        "th": "โปรดเลือกบุคคลทดสอบหนึ่งคนก่อนดำเนินการต่อ",
        "en": "Please choose one test person before you continue.",
    },
    "no_login_method": {
        "th": "ขณะนี้ยังไม่มีวิธีเข้าสู่ระบบที่ใช้ได้ โปรดลองใหม่อีกครั้งภายหลัง",
        "en": "No way to log in is available right now. Please try again later.",
    },
    "continue": {"th": "ดำเนินการต่อ", "en": "Continue"},
    "login_needs_level": {
        "th": "บริการนี้ต้องการการยืนยันตัวตนระดับ IAL {ial} และการเข้าสู่ระบบระดับ AAL {aal} "
        "ขึ้นไป โปรดยืนยันตัวตนด้วยวิธีที่ถึงระดับนี้",
        "en": "This service needs identity proven to IAL {ial} and a login of AAL {aal} or "
        "higher. Please prove who you are with a method that reaches it.",
    },
    # --- consent -------------------------------------------------------------------------
    "consent_title": {"th": "ยินยอมให้ใช้ข้อมูล", "en": "Share your information"},
    "consent_intro": {
        "th": "{agency} ขอเข้าถึงข้อมูลต่อไปนี้ของคุณ",
        "en": "{agency} is asking for the following information about you:",
    },
    "consent_claims_intro": {
        "th": "และข้อมูลเพิ่มเติมดังนี้",
        "en": "and these additional details:",
    },
    "consent_note": {
        "th": "หากคุณไม่ยินยอม จะไม่มีการส่งข้อมูลใดให้หน่วยงาน และคุณสามารถดูหรือถอนความยินยอมได้ทุกเมื่อ",
        "en": "If you deny, nothing is shared with the agency. "
        "You can review or withdraw your consent at any time.",
    },
    "allow": {"th": "ยินยอม", "en": "Allow"},
    "deny": {"th": "ไม่ยินยอม", "en": "Deny"},
    "scope_openid": {
        "th": "รหัสอ้างอิงตัวคุณที่ใช้เฉพาะกับหน่วยงานนี้",
        "en": "Your identifier for this agency",
    },
    "scope_profile": {
        "th": "ชื่อ-นามสกุล วันเกิด และเพศ ทั้งภาษาไทยและภาษาอังกฤษ",
        "en": "Your name, date of birth and gender, in Thai and English",
    },
    "scope_email": {"th": "ที่อยู่อีเมลของคุณ", "en": "Your email address"},
    "scope_phone": {"th": "หมายเลขโทรศัพท์ของคุณ", "en": "Your phone number"},
    "scope_address": {"th": "ที่อยู่ของคุณ", "en": "Your postal address"},
    "scope_offline_access": {
        "th": "ให้หน่วยงานเชื่อมต่อกับบัญชีของคุณต่อไปได้ แม้ในขณะที่คุณไม่ได้ใช้งาน",
        "en": "Stay connected when you are away: the agency keeps this access "
        "while you are not using its service",
    },
    "claim_name": {"th": "ชื่อ-นามสกุล", "en": "Full name"},
    "claim_given_name": {"th": "ชื่อ", "en": "Given name"},
    "claim_family_name": {"th": "นามสกุล", "en": "Family name"},
    "claim_birthdate": {"th": "วันเกิด", "en": "Date of birth"},
    "claim_gender": {"th": "เพศ", "en": "Gender"},
    "claim_email": {"th": "อีเมล", "en": "Email address"},
    "claim_phone_number": {"th": "หมายเลขโทรศัพท์", "en": "Phone number"},
    "claim_address": {"th": "ที่อยู่", "en": "Postal address"},
    "claim_verified_claims": {
        "th": "ข้อมูลตัวตนที่ผ่านการตรวจสอบแล้ว",
        "en": "Verified identity details",
    },
    # --- logout --------------------------------------------------------------------------
    "logout_title": {"th": "ออกจากระบบ", "en": "Log out"},
    "logout_question": {
        "th": "คุณต้องการออกจากระบบหรือไม่",
        "en": "Do you want to log out?",
    },
    "logout_question_client": {
        "th": "{agency} ขอให้คุณออกจากระบบ คุณต้องการออกจากระบบหรือไม่",
        "en": "{agency} asked to log you out. Do you want to log out?",
    },
    "logout_explain": {
        "th": "เมื่อออกจากระบบแล้ว คุณจะต้องเข้าสู่ระบบใหม่เมื่อใช้บริการของหน่วยงานใดก็ตาม",
        "en": "After you log out, you will need to log in again to use any agency's service.",
    },
    "logout_button": {"th": "ออกจากระบบ", "en": "Log out"},
    "stay_logged_in": {"th": "อยู่ในระบบต่อ", "en": "Stay logged in"},
    "logged_out_title": {"th": "ออกจากระบบแล้ว", "en": "Logged out"},
    "logged_out_message": {
        "th": "คุณออกจากระบบเรียบร้อยแล้ว",
        "en": "You have been logged out.",
    },
    "logged_out_hint": {
        "th": "หากใช้เครื่องร่วมกับผู้อื่น โปรดปิดเบราว์เซอร์ด้วย",
        "en": "If you share this device with others, close the browser as well.",
    },
    # --- proving identity through a bank over NDID ---------------------------------------
    # --- proving identity through an upstream OpenID provider (ThaID-style) ---------------
    # --- verified claims and the citizen ID on the consent page ----------------------------
    # --- error page ----------------------------------------------------------------------
    "error_title": {"th": "ไม่สามารถดำเนินการต่อได้", "en": "We could not continue"},
    "error_code_label": {"th": "รหัสข้อผิดพลาด", "en": "Error code"},
    "error_help": {
        "th": "หากปัญหายังเกิดขึ้นอีก โปรดแจ้งรหัสข้อผิดพลาดนี้แก่หน่วยงานที่คุณใช้บริการ",
        "en": "If this keeps happening, give this error code to the agency "
        "whose service you were using.",
    },
    # --- error messages (keys double as OAuth error codes where one exists) ---------------
    "invalid_request": {
        "th": "คำขอไม่ถูกต้องหรือข้อมูลไม่ครบ โปรดกลับไปยังหน่วยงานแล้วเริ่มใหม่อีกครั้ง",
        "en": "The request was incomplete or not valid. "
        "Please go back to the agency and start again.",
    },
    "unauthorized_client": {
        "th": "หน่วยงานนี้ไม่ได้รับอนุญาตให้ใช้วิธีเข้าสู่ระบบแบบนี้",
        "en": "This agency is not allowed to use this way of logging in.",
    },
    "access_denied": {
        "th": "การเข้าถึงถูกปฏิเสธ จึงไม่มีการส่งข้อมูลใดให้หน่วยงาน",
        "en": "Access was denied, so nothing was shared with the agency.",
    },
    "unsupported_response_type": {
        "th": "หน่วยงานขอรูปแบบการเข้าสู่ระบบที่ระบบนี้ไม่รองรับ",
        "en": "The agency asked for a kind of login that we do not support.",
    },
    "invalid_scope": {
        "th": "หน่วยงานขอข้อมูลที่ระบบไม่รู้จักหรือหน่วยงานไม่ได้รับอนุญาตให้ขอ",
        "en": "The agency asked for information that is unknown or not allowed for it.",
    },
    "server_error": {
        "th": "เกิดข้อผิดพลาดในระบบของเรา โปรดลองใหม่อีกครั้งในภายหลัง",
        "en": "Something went wrong on our side. Please try again later.",
    },
    "temporarily_unavailable": {
        "th": "ระบบไม่พร้อมให้บริการชั่วคราว โปรดลองใหม่อีกครั้งในอีกสักครู่",
        "en": "The service is temporarily unavailable. Please try again in a few minutes.",
    },
    "invalid_redirect_uri": {
        "th": "ที่อยู่ที่หน่วยงานขอให้ส่งคุณกลับไปไม่ได้ลงทะเบียนไว้ เราจึงหยุดไว้ที่นี่เพื่อความปลอดภัยของคุณ",
        "en": "The address this agency asked us to return you to is not registered, "
        "so we stopped here for your safety.",
    },
    "unknown_client": {
        "th": "ไม่พบหน่วยงานที่ส่งคุณมา เนื่องจากยังไม่ได้ลงทะเบียนกับระบบนี้",
        "en": "We do not know the agency that sent you here; it is not registered with us.",
    },
    "login_required": {
        "th": "คุณต้องเข้าสู่ระบบก่อน โปรดกลับไปยังหน่วยงานแล้วเริ่มใหม่อีกครั้ง",
        "en": "You need to log in first. Please go back to the agency and start again.",
    },
    "consent_required": {
        "th": "ต้องได้รับความยินยอมจากคุณก่อน โปรดกลับไปยังหน่วยงานแล้วเริ่มใหม่อีกครั้ง",
        "en": "Your consent is needed first. Please go back to the agency and start again.",
    },
    "interaction_expired": {
        "th": "การเข้าสู่ระบบครั้งนี้ใช้เวลานานเกินไปหรือเสร็จสิ้นไปแล้ว โปรดกลับไปยังหน่วยงานแล้วเริ่มใหม่อีกครั้ง",
        "en": "This login took too long or was already finished; "
        "go back to the agency and start again.",
    },
    "request_not_supported": {
        "th": "หน่วยงานส่งคำขอมาในรูปแบบที่ระบบนี้ไม่รองรับ",
        "en": "The agency sent its request in a form we do not support.",
    },
    "csrf": {
        "th": "แบบฟอร์มหมดอายุหรือถูกส่งซ้ำ โปรดย้อนกลับแล้วลองใหม่อีกครั้ง",
        "en": "The form expired or was sent twice; please go back and try again.",
    },
    "too_large": {
        "th": "คำขอมีขนาดใหญ่เกินกว่าที่ระบบรับได้",
        "en": "The request is too large for us to accept.",
    },
    "not_found": {
        "th": "ไม่พบหน้าที่คุณต้องการ",
        "en": "We could not find that page.",
    },
    "method_not_allowed": {
        "th": "ไม่สามารถใช้หน้านี้ด้วยวิธีนี้ได้ โปรดย้อนกลับแล้วลองใหม่อีกครั้ง",
        "en": "This page cannot be used that way. Please go back and try again.",
    },
    "unauthorized": {
        "th": "ต้องยืนยันตัวตนก่อนจึงจะใช้งานส่วนนี้ได้",
        "en": "Authentication is required to use this.",
    },
    "forbidden": {
        "th": "คุณไม่มีสิทธิ์ใช้งานส่วนนี้",
        "en": "You are not allowed to use this.",
    },
    "too_many_requests": {
        "th": "มีคำขอมากเกินไป โปรดรอสักครู่แล้วลองใหม่อีกครั้ง",
        "en": "Too many requests. Please wait a moment and try again.",
    },
    "missing_client_id": {
        "th": "คำขอไม่ได้ระบุหน่วยงาน (client_id) เราจึงไม่สามารถดำเนินการต่อได้",
        "en": "The request does not name an agency (client_id), so we cannot continue.",
    },
    "invalid_id_token_hint": {
        "th": "คำขอออกจากระบบมีโทเค็นที่ไม่ได้ออกโดยระบบนี้ เราจึงไม่ส่งคุณกลับไปยังหน่วยงาน",
        "en": "The logout request carries a token we did not issue, so we will not send you "
        "back to the agency.",
    },
    "invalid_post_logout_redirect_uri": {
        "th": "ที่อยู่ที่หน่วยงานขอให้ส่งคุณกลับหลังออกจากระบบไม่ได้ลงทะเบียนไว้ "
        "เราจึงหยุดไว้ที่นี่เพื่อความปลอดภัยของคุณ",
        "en": "The address this agency asked us to return you to after logout is not "
        "registered, so we stopped here for your safety.",
    },
    "level_too_low": {
        "th": "หน่วยงานนี้ต้องการระดับการยืนยันตัวตนที่สูงกว่าที่บุคคลนี้มี โปรดเลือกบุคคลอื่น",
        "en": "This agency needs a higher assurance level than this person has; "
        "choose another person.",
    },
    "consents_title": {"th": "หน่วยงานที่คุณให้ความยินยอม", "en": "Agencies you consented to"},
    "consents_intro": {
        "th": "หน่วยงานเหล่านี้ได้รับข้อมูลของคุณตามที่คุณยินยอม "
        "การถอนความยินยอมจะยกเลิกโทเค็นทั้งหมดที่หน่วยงานนั้นถืออยู่",
        "en": "These agencies receive the information you allowed. Withdrawing consent also "
        "revokes every token the agency holds.",
    },
    "consents_none": {
        "th": "คุณยังไม่ได้ให้ความยินยอมแก่หน่วยงานใด",
        "en": "You have not consented to any agency.",
    },
    "consent_granted_at": {"th": "ให้ความยินยอมเมื่อ", "en": "Consented on"},
    "withdraw": {"th": "ถอนความยินยอม", "en": "Withdraw consent"},
    "consent_withdrawn": {
        "th": "ถอนความยินยอมแล้ว หน่วยงานไม่สามารถใช้โทเค็นเดิมได้อีก",
        "en": "Consent withdrawn; the agency's tokens no longer work.",
    },
}


def has_message(key: str) -> bool:
    """Whether ``key`` has a text, so pages can show a raw name (an unknown scope or
    claim) instead of the bare key when no translation exists."""
    return key in MESSAGES


def translate(key: str, locale: str, **fmt: object) -> str:
    """The text for ``key`` in ``locale``, falling back to English, then to the key itself.

    Falling back instead of raising keeps a missing translation from turning a page into
    a 500; the key shown in its place is easy to spot in review. Placeholders are filled
    from ``fmt``; a text whose placeholders do not match is returned unformatted rather
    than failing, for the same reason.
    """
    texts = MESSAGES.get(key)
    if texts is None:
        return key
    text = texts.get(locale) or texts.get("en") or key
    if not fmt:
        return text
    try:
        return text.format(**fmt)
    except (KeyError, IndexError, ValueError):
        return text
