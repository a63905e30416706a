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

from datetime import UTC, datetime, timedelta, timezone

THAILAND_TIME = timezone(timedelta(hours=7), "ICT")
"""Times on pages are shown as people in Thailand read them (UTC+7, no daylight saving)."""


def shown_time(at: datetime | str) -> str:
    """A stored time (UTC; naive ones are UTC; or RFC 3339 text, as in a JSON report) as a
    page shows it: Thailand time, to the minute."""
    if isinstance(at, str):
        at = datetime.fromisoformat(at.replace("Z", "+00:00"))
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return aware.astimezone(THAILAND_TIME).strftime("%Y-%m-%d %H:%M")


def shown_date(at: datetime | str) -> str:
    """A stored time's date in Thailand."""
    return shown_time(at)[:10]


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
        "th": "ขณะนี้ไม่มีช่องทางอื่นในการยืนยันตัวตน หากคุณยังไม่มีพาสคีย์ โปรดลองใหม่อีกครั้งภายหลัง",
        "en": "No other way to prove who you are is available right now. "
        "If you have no passkey yet, please try again later.",
    },
    "continue": {"th": "ดำเนินการต่อ", "en": "Continue"},
    "back_to_agency": {"th": "กลับไปยัง{agency}", "en": "Back to {agency}"},
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
    "ndid_method_title": {
        "th": "ยืนยันตัวตนผ่านแอปธนาคาร (NDID)",
        "en": "Prove who you are with your bank (NDID)",
    },
    "ndid_method_intro": {
        "th": "ใช้แอปของธนาคารที่คุณเคยยืนยันตัวตนไว้ ระบบจะส่งคำขอผ่านเครือข่าย NDID "
        "ให้คุณกดยืนยันในแอปธนาคาร",
        "en": "Use the app of a bank that already knows you. We send a request over the NDID "
        "network, and you approve it in your bank app.",
    },
    "ndid_method_start": {"th": "ยืนยันตัวตนผ่านธนาคาร", "en": "Continue with my bank"},
    "ndid_sandbox_note": {
        "th": "นี่คือ NDID จำลอง ไม่มีธนาคารจริงเกี่ยวข้อง ห้ามกรอกเลขประจำตัวประชาชนจริง",
        "en": "This is a simulated NDID with no real bank behind it; "
        "do not enter a real citizen ID number.",
    },
    "ndid_id_title": {"th": "กรอกเลขประจำตัวประชาชน", "en": "Enter your citizen ID number"},
    "ndid_id_intro": {
        "th": "{agency} ต้องการการยืนยันตัวตนระดับ IAL {ial} และ AAL {aal} "
        "เราจะใช้เลขประจำตัวประชาชนเพื่อค้นหาธนาคารที่ยืนยันตัวตนคุณได้",
        "en": "{agency} needs identity proven to IAL {ial} and AAL {aal}. We use your "
        "citizen ID number to find the banks that can prove who you are.",
    },
    "ndid_id_label": {
        "th": "เลขประจำตัวประชาชน 13 หลัก",
        "en": "13-digit citizen ID number",
    },
    "ndid_id_help": {
        "th": "พิมพ์เว้นวรรคหรือขีดกลางได้ เลขนี้ส่งไปยังเครือข่าย NDID เท่านั้น "
        "และจะไม่ส่งให้หน่วยงานหากคุณไม่ยินยอม",
        "en": "Spaces and dashes are fine. The number goes only to the NDID network, and "
        "never to the agency unless you consent.",
    },
    "ndid_id_submit": {"th": "ค้นหาธนาคารของฉัน", "en": "Find my banks"},
    "ndid_id_invalid": {
        "th": "เลขประจำตัวประชาชนไม่ถูกต้อง ต้องมี 13 หลักและหลักสุดท้ายต้องตรงกับเลขตรวจสอบ "
        "โปรดตรวจดูเลขบนบัตรประชาชนแล้วพิมพ์ใหม่",
        "en": "That citizen ID number is not valid: it must have 13 digits, and the last one "
        "must match the check digit. Check the number on your ID card and type it again.",
    },
    "ndid_other_method": {"th": "เลือกวิธีเข้าสู่ระบบอื่น", "en": "Choose another way to log in"},
    "ndid_banks_title": {"th": "เลือกธนาคาร", "en": "Choose your bank"},
    "ndid_banks_intro": {
        "th": "ธนาคารต่อไปนี้ยืนยันตัวตนคุณได้ถึงระดับที่ {agency} ต้องการ "
        "(IAL {ial}, AAL {aal}) เลือกธนาคารที่คุณมีแอปอยู่",
        "en": "These banks can prove who you are to the level {agency} needs "
        "(IAL {ial}, AAL {aal}). Choose one whose app you have.",
    },
    "ndid_banks_legend": {"th": "ธนาคาร", "en": "Banks"},
    "ndid_bank_levels": {
        "th": "ยืนยันตัวตนได้สูงสุด IAL {ial} · AAL {aal}",
        "en": "Proves up to IAL {ial} · AAL {aal}",
    },
    "ndid_banks_help": {
        "th": "เมื่อส่งคำขอแล้ว โปรดเปิดแอปของธนาคารนั้นเพื่อกดยืนยัน",
        "en": "After you send the request, open that bank's app to approve it.",
    },
    "ndid_bank_required": {
        "th": "โปรดเลือกธนาคารหนึ่งแห่งจากรายการ",
        "en": "Please choose one bank from the list.",
    },
    "ndid_send_request": {"th": "ส่งคำขอไปยังธนาคาร", "en": "Send the request to my bank"},
    "ndid_other_id": {"th": "ใช้เลขประจำตัวอื่น", "en": "Use another ID number"},
    "ndid_no_bank_title": {
        "th": "ไม่มีธนาคารที่ยืนยันตัวตนได้ถึงระดับที่ต้องการ",
        "en": "No bank can prove who you are to the level needed",
    },
    "ndid_no_bank": {
        "th": "ไม่มีธนาคารใดที่คุณลงทะเบียนไว้กับ NDID ยืนยันตัวตนได้ถึงระดับ IAL {ial} "
        "และ AAL {aal} ที่ {agency} ต้องการ คุณสามารถยกระดับการยืนยันตัวตนที่สาขาธนาคาร "
        "ลองใช้วิธีอื่น หรือกลับไปยังหน่วยงาน",
        "en": "None of the banks where you are registered with NDID can prove who you are to "
        "IAL {ial} and AAL {aal}, which {agency} needs. You can raise your level at a bank "
        "branch, try another way to log in, or go back to the agency.",
    },
    "ndid_not_registered_title": {
        "th": "ไม่พบข้อมูลของคุณในเครือข่าย NDID",
        "en": "Your identity is not registered with NDID",
    },
    "ndid_not_registered": {
        "th": "ไม่มีธนาคารใดในเครือข่าย NDID ที่รู้จักเลขประจำตัวประชาชนนี้ "
        "โปรดตรวจสอบเลขอีกครั้ง หรือลงทะเบียน NDID ผ่านแอปหรือสาขาของธนาคารก่อน "
        "แล้วกลับมาลองใหม่",
        "en": "No bank on the NDID network knows this citizen ID number. Check the number, or "
        "register for NDID in your bank's app or at a branch first, then try again.",
    },
    "ndid_bank_unqualified_title": {
        "th": "ธนาคารนี้ยืนยันตัวตนคุณไม่ได้ในขณะนี้",
        "en": "This bank cannot prove who you are right now",
    },
    "ndid_bank_unqualified": {
        "th": "ธนาคารที่เลือกไม่สามารถรับคำขอนี้ได้แล้ว โปรดเลือกธนาคารอื่น",
        "en": "The bank you chose can no longer take this request. Please choose another bank.",
    },
    "ndid_wait_title": {"th": "ยืนยันคำขอในแอปธนาคาร", "en": "Approve the request in your bank app"},
    "ndid_wait_intro": {
        "th": "เปิดแอปของ{bank} แล้วกดยืนยันคำขอยืนยันตัวตนจากบริการยืนยันตัวตนดิจิทัลภาครัฐ "
        "หน้านี้จะอัปเดตเอง",
        "en": "Open the {bank} app and approve the identity request from Government Digital "
        "ID. This page updates by itself.",
    },
    "ndid_status_pending": {
        "th": "สถานะ: รอให้คุณกดยืนยันในแอปธนาคาร",
        "en": "Status: waiting for you to approve in your bank app.",
    },
    "ndid_status_confirmed": {
        "th": "สถานะ: ธนาคารยืนยันแล้ว กำลังดำเนินการต่อ",
        "en": "Status: your bank has approved; finishing.",
    },
    "ndid_time_left": {
        "th": "เหลือเวลาอีก {minutes}:{seconds} นาที",
        "en": "Time left: {minutes}:{seconds}",
    },
    "ndid_wait_refresh": {
        "th": "หน้านี้ตรวจสอบสถานะทุก {seconds} วินาที หรือกดปุ่มด้านล่างเพื่อตรวจสอบทันที",
        "en": "This page checks every {seconds} seconds; use the button below to check now.",
    },
    "ndid_check_now": {"th": "ตรวจสอบสถานะตอนนี้", "en": "Check now"},
    "ndid_cancel": {"th": "ยกเลิกคำขอ", "en": "Cancel the request"},
    "ndid_sandbox_bank_app": {
        "th": "เปิดแอปธนาคารจำลองเพื่อกดยืนยัน",
        "en": "Open the simulated bank app to approve",
    },
    "ndid_rejected_title": {"th": "คุณปฏิเสธคำขอ", "en": "You refused the request"},
    "ndid_rejected": {
        "th": "คุณปฏิเสธคำขอในแอปธนาคาร จึงยังไม่ได้เข้าสู่ระบบ หากกดผิด "
        "โปรดลองใหม่หรือเลือกธนาคารอื่น",
        "en": "You refused the request in your bank app, so you are not logged in. If that "
        "was a mistake, try again or choose another bank.",
    },
    "ndid_timed_out_title": {"th": "คำขอหมดเวลา", "en": "The request expired"},
    "ndid_timed_out": {
        "th": "ธนาคารไม่ได้รับการยืนยันจากคุณภายในเวลาที่กำหนด จึงยังไม่ได้เข้าสู่ระบบ "
        "โปรดลองใหม่และกดยืนยันในแอปธนาคารก่อนหมดเวลา",
        "en": "Your bank did not get your approval in time, so you are not logged in. Try "
        "again, and approve the request in your bank app before the time runs out.",
    },
    "ndid_errored_title": {
        "th": "ธนาคารตรวจสอบตัวตนไม่สำเร็จ",
        "en": "The bank could not complete the check",
    },
    "ndid_errored": {
        "th": "ธนาคารไม่สามารถยืนยันตัวตนของคุณได้ในครั้งนี้ จึงยังไม่ได้เข้าสู่ระบบ "
        "โปรดเลือกธนาคารอื่นหรือลองใหม่ภายหลัง",
        "en": "Your bank could not prove who you are this time, so you are not logged in. "
        "Choose another bank, or try again later.",
    },
    "ndid_closed_title": {"th": "คำขอถูกปิดแล้ว", "en": "The request was closed"},
    "ndid_closed": {
        "th": "คำขอนี้ถูกปิดก่อนเสร็จสิ้น จึงยังไม่ได้เข้าสู่ระบบ โปรดเริ่มใหม่อีกครั้ง",
        "en": "This request was closed before it finished, so you are not logged in. "
        "Please start again.",
    },
    "ndid_duplicate_title": {
        "th": "มีคำขอนี้อยู่ระหว่างดำเนินการแล้ว",
        "en": "This request is already in progress",
    },
    "ndid_duplicate": {
        "th": "เครือข่าย NDID มีคำขอสำหรับการเข้าสู่ระบบนี้ค้างอยู่ โปรดรอสักครู่แล้วลองใหม่ "
        "หรือเลือกธนาคารอื่น",
        "en": "The NDID network already has a request in progress for this login. Wait a "
        "moment and try again, or choose another bank.",
    },
    "ndid_invalid_id_title": {
        "th": "NDID ไม่รับเลขประจำตัวนี้",
        "en": "NDID did not accept this ID number",
    },
    "ndid_invalid_id": {
        "th": "เครือข่าย NDID แจ้งว่าเลขประจำตัวประชาชนนี้ไม่ถูกต้อง "
        "โปรดตรวจสอบเลขบนบัตรประชาชนแล้วลองใหม่",
        "en": "The NDID network says this citizen ID number is not valid. Check the number "
        "on your ID card and try again.",
    },
    "ndid_unavailable_title": {
        "th": "ติดต่อเครือข่าย NDID ไม่ได้",
        "en": "We cannot reach NDID",
    },
    "ndid_unavailable": {
        "th": "ขณะนี้เราติดต่อเครือข่าย NDID ไม่ได้ จึงยังไม่ได้ส่งคำขอใดไปยังธนาคาร "
        "โปรดลองใหม่ในอีกสักครู่ ลองวิธีอื่น หรือกลับไปยังหน่วยงาน",
        "en": "We cannot reach the NDID network right now, so no request went to any bank. "
        "Try again in a few minutes, try another way to log in, or go back to the agency.",
    },
    "ndid_failed_title": {
        "th": "NDID รับคำขอไม่ได้",
        "en": "NDID could not take the request",
    },
    "ndid_failed": {
        "th": "เครือข่าย NDID ไม่รับคำขอนี้ จึงยังไม่ได้เข้าสู่ระบบ โปรดลองใหม่ "
        "หรือลองวิธีอื่น",
        "en": "The NDID network refused this request, so you are not logged in. Try again, "
        "or try another way to log in.",
    },
    "ndid_other_bank": {"th": "เลือกธนาคารอื่น", "en": "Choose another bank"},
    "ndid_try_again": {"th": "ลองใหม่ด้วยเลขประจำตัว", "en": "Start again with my ID number"},
    "ndid_request_message": {
        "th": "ยืนยันตัวตนเพื่อเข้าใช้บริการของ {agency} ผ่านบริการยืนยันตัวตนดิจิทัลภาครัฐ",
        "en": "Prove your identity to use the services of {agency} through Government "
        "Digital ID",
    },
    # --- proving identity through an upstream OpenID provider (ThaID-style) ---------------
    "upstream_methods_title": {
        "th": "ยืนยันตัวตนผ่านผู้ให้บริการยืนยันตัวตน",
        "en": "Prove who you are with an identity provider",
    },
    "upstream_methods_help": {
        "th": "ระบบจะพาคุณไปยังผู้ให้บริการที่เลือกเพื่อยืนยันตัวตน แล้วพากลับมาที่นี่โดยอัตโนมัติ",
        "en": "We take you to the provider you choose to prove who you are, "
        "then bring you back here.",
    },
    "upstream_button": {
        "th": "ยืนยันตัวตนด้วย {provider}",
        "en": "Prove who you are with {provider}",
    },
    "upstream_unknown": {
        "th": "ไม่พบผู้ให้บริการยืนยันตัวตนที่เลือก โปรดย้อนกลับแล้วเลือกวิธีอื่น",
        "en": "We do not know the identity provider you chose. "
        "Please go back and choose another way.",
    },
    "upstream_state_invalid": {
        "th": "คำตอบจากผู้ให้บริการยืนยันตัวตนนี้ไม่ตรงกับการเข้าสู่ระบบที่กำลังดำเนินอยู่ หมดอายุ "
        "หรือถูกใช้ไปแล้ว เราจึงไม่ได้ใช้คำตอบนี้ โปรดกลับไปยังหน่วยงานแล้วเริ่มใหม่อีกครั้ง",
        "en": "This answer from the identity provider does not belong to a login in progress, "
        "has expired or was already used, so we did not use it. "
        "Please go back to the agency and start again.",
    },
    "upstream_error_title": {
        "th": "ยืนยันตัวตนไม่สำเร็จ",
        "en": "Your identity was not proven",
    },
    "upstream_cancelled_title": {
        "th": "ยกเลิกการยืนยันตัวตนแล้ว",
        "en": "You cancelled",
    },
    "upstream_cancelled": {
        "th": "คุณยกเลิกการยืนยันตัวตนที่ {provider} จึงไม่มีการส่งข้อมูลใดให้หน่วยงาน "
        "คุณสามารถลองอีกครั้ง เลือกวิธีอื่น หรือกลับไปยังหน่วยงาน",
        "en": "You cancelled at {provider}, so nothing was shared with the agency. "
        "You can try again, choose another way, or go back to the agency.",
    },
    "upstream_refused": {
        "th": "{provider} ไม่ได้ยืนยันตัวตนของคุณให้สำเร็จ (รหัส {code}) "
        "โปรดลองอีกครั้ง หรือเลือกวิธีอื่น",
        "en": "{provider} did not complete proving your identity (code {code}). "
        "Please try again, or choose another way.",
    },
    "upstream_unavailable": {
        "th": "ขณะนี้ไม่สามารถติดต่อ {provider} ได้ โปรดลองใหม่อีกครั้งในอีกสักครู่ หรือเลือกวิธีอื่น",
        "en": "We could not reach {provider} just now. Please try again in a few minutes, "
        "or choose another way.",
    },
    "upstream_token_invalid": {
        "th": "ไม่สามารถตรวจสอบคำตอบจาก {provider} ได้ เราจึงไม่ได้ใช้คำตอบนั้น "
        "โปรดลองอีกครั้ง หากยังเกิดขึ้นอีก โปรดแจ้งหน่วยงาน",
        "en": "The answer from {provider} could not be verified, so we did not use it. "
        "Please try again; if it happens again, tell the agency.",
    },
    "upstream_identity_incomplete": {
        "th": "{provider} ไม่ได้ส่งเลขประจำตัวประชาชนหรือระดับการยืนยันตัวตนของคุณมา "
        "จึงยืนยันตัวตนด้วยวิธีนี้ไม่ได้ โปรดเลือกวิธีอื่น",
        "en": "{provider} did not send your citizen ID number or how well it checked your "
        "identity, so this way cannot prove who you are. Please choose another way.",
    },
    "upstream_conflict": {
        "th": "ข้อมูลตัวตนที่ {provider} ส่งมาไม่ตรงกับบัญชีที่เคยเชื่อมโยงไว้ "
        "เพื่อความปลอดภัยของคุณ เราจึงหยุดไว้ที่นี่ โปรดติดต่อศูนย์บริการ",
        "en": "The identity {provider} sent does not match the account already linked to it. "
        "For your safety we stopped here; please contact the service desk.",
    },
    "upstream_retry": {"th": "ลองอีกครั้ง", "en": "Try again"},
    "upstream_other_way": {"th": "เลือกวิธีอื่น", "en": "Choose another way"},
    # --- verified claims and the citizen ID on the consent page ----------------------------
    "consent_includes": {"th": "ได้แก่", "en": "This includes:"},
    "consent_verified_intro": {
        "th": "ข้อมูลตัวตนที่ผ่านการตรวจสอบแล้ว โดย{source} เมื่อวันที่ {date} "
        "(ระดับการยืนยันตัวตน IAL {ial}) ซึ่งหน่วยงานจะได้รับพร้อมรายละเอียดการตรวจสอบ:",
        "en": "Identity details verified by {source} on {date} (identity assurance level "
        "IAL {ial}). The agency receives them with the details of that check:",
    },
    "verified_by_bank": {
        "th": "ธนาคาร {bank} ผ่านระบบ NDID",
        "en": "your bank, {bank}, through NDID",
    },
    "verified_by_id_card": {
        "th": "การอ่านชิปบัตรประจำตัวประชาชนของคุณ และตรวจสอบสถานะบัตรกับกรมการปกครอง",
        "en": "a read of your Thai ID card chip, with the card checked with the Department "
        "of Provincial Administration",
    },
    "verified_by_passport": {"th": "หนังสือเดินทางของคุณ", "en": "your passport"},
    "verified_by_provider": {
        "th": "ผู้ให้บริการยืนยันตัวตน {provider}",
        "en": "the identity provider {provider}",
    },
    "verified_by_other": {
        "th": "หน่วยงานยืนยันตัวตนที่เชื่อถือได้",
        "en": "a trusted identity service",
    },
    "claim_th_citizen_id": {
        "th": "เลขประจำตัวประชาชนของคุณ (13 หลัก)",
        "en": "Your national ID number (13 digits)",
    },
    "consent_citizen_id_note": {
        "th": "เลขประจำตัวประชาชนเป็นข้อมูลส่วนบุคคลที่อ่อนไหว "
        "จะส่งให้หน่วยงานนี้เฉพาะเมื่อคุณให้ความยินยอมเท่านั้น และคุณถอนความยินยอมได้ทุกเมื่อ",
        "en": "Your national ID number is sensitive personal data. It is shared with this "
        "agency only with your consent, which you can withdraw at any time.",
    },
    "consent_national_id_withheld": {
        "th": "หน่วยงานนี้ขอเลขประจำตัวประชาชนของคุณด้วย แต่จะไม่ได้รับ เพราะหน่วยงานยังไม่ได้"
        "ลงทะเบียนกุญแจสำหรับเข้ารหัสข้อมูล เลขประจำตัวประชาชนจะส่งให้เฉพาะหน่วยงานที่รับข้อมูล"
        "แบบเข้ารหัสเท่านั้น",
        "en": "This agency also asked for your national ID number, but will not receive it: "
        "it has not registered a key to encrypt it with. The number is sent only to agencies "
        "that receive it encrypted.",
    },
    "consent_verified_missing": {
        "th": "หน่วยงานขอข้อมูลที่ผ่านการตรวจสอบบางรายการที่ไม่มีอยู่ในข้อมูลตัวตนที่คุณยืนยันไว้ "
        "ข้อมูลเหล่านั้นจะไม่ถูกส่งให้หน่วยงาน หากต้องการส่ง โปรดยืนยันตัวตนก่อน",
        "en": "The agency also asked for verified details that your proven identity does "
        "not include, so they will not be shared. To share them, prove your identity first.",
    },
    "claim_language_th": {"th": "ภาษาไทย", "en": "in Thai"},
    "claim_language_en": {"th": "ภาษาอังกฤษ", "en": "in English"},
    "claim_title": {"th": "คำนำหน้าชื่อ", "en": "Title"},
    "claim_middle_name": {"th": "ชื่อกลาง", "en": "Middle name"},
    "claim_locale": {"th": "ภาษาที่คุณใช้", "en": "Your preferred language"},
    "claim_email_verified": {
        "th": "สถานะการยืนยันอีเมล",
        "en": "Whether your email address is confirmed",
    },
    "claim_phone_number_verified": {
        "th": "สถานะการยืนยันหมายเลขโทรศัพท์",
        "en": "Whether your phone number is confirmed",
    },
    # --- passkeys (WebAuthn) -------------------------------------------------------------
    "passkey_method_title": {"th": "พาสคีย์", "en": "Passkey"},
    "passkey_method_intro": {
        "th": "เข้าสู่ระบบโดยไม่ต้องพิมพ์อะไร เพียงปลดล็อกโทรศัพท์หรือคอมพิวเตอร์ของคุณ "
        "หรือแตะกุญแจความปลอดภัย",
        "en": "Log in without typing anything: just unlock your phone or computer, "
        "or touch your security key.",
    },
    "passkey_login_button": {"th": "เข้าสู่ระบบด้วยพาสคีย์", "en": "Log in with a passkey"},
    "passkey_autofill_label": {"th": "พาสคีย์ที่บันทึกไว้", "en": "Saved passkeys"},
    "passkey_autofill_help": {
        "th": "คลิกหรือแตะช่องนี้ แล้วเลือกพาสคีย์ของคุณจากรายการที่เบราว์เซอร์แสดง "
        "ไม่ต้องพิมพ์อะไร",
        "en": "Click or tap this field and pick your passkey from the list your browser "
        "shows; there is nothing to type.",
    },
    "passkey_needs_script": {
        "th": "การใช้พาสคีย์ต้องเปิด JavaScript ในเบราว์เซอร์ คุณยังใช้วิธีอื่นด้านล่างได้",
        "en": "Passkeys need JavaScript turned on in your browser. "
        "You can still use another way below.",
    },
    "passkey_unsupported": {
        "th": "เบราว์เซอร์นี้ใช้พาสคีย์ไม่ได้ โปรดใช้วิธีอื่นด้านล่าง "
        "หรือเปิดหน้านี้ด้วยเบราว์เซอร์รุ่นใหม่",
        "en": "This browser cannot use passkeys. Please use another way below, "
        "or open this page in an up-to-date browser.",
    },
    "passkey_waiting": {
        "th": "กำลังรออุปกรณ์ของคุณ โปรดทำตามที่หน้าจอแจ้ง",
        "en": "Waiting for your device; please follow what it asks.",
    },
    "passkey_checking": {"th": "กำลังตรวจสอบพาสคีย์…", "en": "Checking your passkey…"},
    "passkey_cancelled": {
        "th": "คำขอใช้พาสคีย์ถูกยกเลิกหรือหมดเวลา คุณลองใหม่ได้ หรือใช้วิธีอื่น",
        "en": "The passkey request was cancelled or timed out. "
        "You can try again, or use another way.",
    },
    "passkey_network": {
        "th": "ติดต่อระบบไม่ได้ โปรดตรวจสอบการเชื่อมต่ออินเทอร์เน็ตแล้วลองใหม่",
        "en": "We could not reach the service. Check your connection and try again.",
    },
    "passkey_invalid": {
        "th": "เราตรวจสอบพาสคีย์ของคุณไม่ผ่าน โปรดลองใหม่ หากยังไม่ได้ ให้ใช้วิธีอื่น",
        "en": "We could not verify your passkey. Please try again; "
        "if it keeps failing, use another way.",
    },
    "passkey_bad_request": {
        "th": "ข้อมูลพาสคีย์ที่เบราว์เซอร์ส่งมาไม่ครบหรือใหญ่เกินไป โปรดลองใหม่อีกครั้ง",
        "en": "The passkey answer from your browser was incomplete or too large. "
        "Please try again.",
    },
    "passkey_challenge_expired": {
        "th": "คำขอใช้พาสคีย์นี้หมดอายุหรือถูกใช้ไปแล้ว โปรดลองใหม่อีกครั้ง",
        "en": "This passkey request has expired or was already used. Please try again.",
    },
    "passkey_unknown": {
        "th": "เราไม่รู้จักพาสคีย์นี้ อาจถูกลบไปแล้ว โปรดเข้าสู่ระบบด้วยวิธีอื่น "
        "แล้วลงทะเบียนพาสคีย์ใหม่",
        "en": "We do not know this passkey; it may have been removed. "
        "Please log in another way and register it again.",
    },
    "passkey_uv_required": {
        "th": "อุปกรณ์ไม่ได้ยืนยันว่าเป็นคุณ (ลายนิ้วมือ ใบหน้า หรือรหัส PIN) "
        "โปรดลองใหม่และปลดล็อกอุปกรณ์เมื่อระบบขอ",
        "en": "Your device did not confirm it was you (fingerprint, face or PIN). "
        "Please try again and unlock your device when asked.",
    },
    "passkey_clone_suspected": {
        "th": "เพื่อความปลอดภัย เราไม่รับพาสคีย์นี้เพราะดูเหมือนถูกคัดลอก "
        "โปรดเข้าสู่ระบบด้วยวิธีอื่นแล้วลบพาสคีย์นี้ออกจากบัญชี",
        "en": "For your safety we refused this passkey: it looks like it may have been "
        "copied. Log in another way and remove this passkey from your account.",
    },
    "passkey_flags_changed": {
        "th": "เพื่อความปลอดภัย เราไม่รับพาสคีย์นี้ เพราะกุญแจที่ลงทะเบียนไว้ว่าอยู่บนอุปกรณ์เดียว"
        "กลับแจ้งว่าสำรองข้อมูลได้ โปรดเข้าสู่ระบบด้วยวิธีอื่นแล้วลงทะเบียนใหม่",
        "en": "For your safety we refused this passkey: it was registered as a key that "
        "never leaves its device, but now says it can be copied. Log in another way and "
        "register it again.",
    },
    "passkey_level_too_low_aal": {
        "th": "พาสคีย์นี้ใช้ได้ แต่หน่วยงานต้องการการเข้าสู่ระบบระดับ AAL {aal} "
        "เช่น กุญแจความปลอดภัยรุ่นที่ระบบรับรอง โปรดใช้วิธีอื่น",
        "en": "This passkey works, but the agency needs a stronger login (AAL {aal}), "
        "such as a security key of an approved model. Please use another way.",
    },
    "passkey_level_too_low_ial": {
        "th": "พาสคีย์ของคุณใช้ได้ แต่หน่วยงานต้องการให้ยืนยันตัวตนถึงระดับ IAL {ial} "
        "โปรดยืนยันตัวตนผ่านธนาคาร (NDID) หรือผู้ให้บริการยืนยันตัวตนด้านล่าง",
        "en": "Your passkey works, but the agency needs your identity proven to IAL {ial}. "
        "Please prove who you are through your bank (NDID) or an identity provider below.",
    },
    "passkey_ial_too_low": {
        "th": "ก่อนลงทะเบียนพาสคีย์ ต้องยืนยันตัวตนให้ถึงระดับ IAL 2.1 ขึ้นไปก่อน "
        "เช่น ผ่านธนาคาร (NDID) หรือแอป ThaID ขณะนี้ตัวตนของคุณอยู่ที่ระดับ IAL {ial}",
        "en": "Before you can register a passkey, your identity must be proven to IAL 2.1 "
        "or higher, for example through your bank (NDID) or the ThaID app. "
        "Your identity is now at IAL {ial}.",
    },
    "passkey_login_required": {
        "th": "โปรดเข้าสู่ระบบบัญชีของคุณก่อน (/account/login) แล้วกลับมาที่หน้านี้เพื่อจัดการพาสคีย์",
        "en": "Please log in to your account first (/account/login), "
        "then come back to this page to manage your passkeys.",
    },
    "passkey_registered": {"th": "ลงทะเบียนพาสคีย์แล้ว", "en": "Your passkey is registered."},
    "passkey_already_registered": {
        "th": "พาสคีย์นี้ลงทะเบียนไว้แล้ว ไม่ต้องลงทะเบียนซ้ำ",
        "en": "This passkey is already registered; there is no need to add it again.",
    },
    "passkey_registration_failed": {
        "th": "ลงทะเบียนพาสคีย์ไม่สำเร็จ โปรดลองใหม่อีกครั้ง",
        "en": "We could not register the passkey. Please try again.",
    },
    "passkey_register_button": {"th": "ลงทะเบียนพาสคีย์", "en": "Register a passkey"},
    "passkey_name_label": {"th": "ชื่อพาสคีย์ (ไม่บังคับ)", "en": "Passkey name (optional)"},
    "passkey_name_help": {
        "th": "ตั้งชื่อให้จำได้ว่าเป็นอุปกรณ์ใด เช่น \"โทรศัพท์ของฉัน\"",
        "en": "A name that tells you which device it is, such as \"My phone\".",
    },
    "passkey_name_invalid": {
        "th": "โปรดตั้งชื่อพาสคีย์ความยาว 1 ถึง 100 ตัวอักษร",
        "en": "Please give the passkey a name of 1 to 100 characters.",
    },
    "passkey_user_fallback": {"th": "ผู้ใช้บริการดิจิทัลไอดี", "en": "Digital ID user"},
    "passkey_offer_title": {
        "th": "ครั้งหน้าเข้าสู่ระบบได้เร็วขึ้น",
        "en": "Log in faster next time",
    },
    "passkey_offer_intro": {
        "th": "ลงทะเบียนพาสคีย์ไว้ ครั้งหน้าคุณเพียงปลดล็อกโทรศัพท์ก็เข้าสู่ระบบได้",
        "en": "Register a passkey so next time you just unlock your phone.",
    },
    "passkey_offer_help": {
        "th": "พาสคีย์เก็บไว้บนอุปกรณ์ของคุณและปลดล็อกด้วยลายนิ้วมือ ใบหน้า หรือรหัส PIN "
        "ไม่ต้องจำรหัสผ่าน และไม่ต้องยืนยันตัวตนผ่านธนาคารทุกครั้ง",
        "en": "A passkey stays on your device and is unlocked with your fingerprint, face "
        "or PIN: no password to remember, and no bank check every time.",
    },
    "passkey_not_now": {"th": "ไว้ภายหลัง", "en": "Not now"},
    "passkey_offer_continue_to": {
        "th": "ไม่ว่าคุณจะเลือกแบบใด ระบบจะพาคุณกลับไปยัง {agency} ต่อ",
        "en": "Either way, we then take you on to {agency}.",
    },
    "passkey_account_title": {"th": "พาสคีย์ของคุณ", "en": "Your passkeys"},
    "passkey_account_intro": {
        "th": "พาสคีย์ที่ใช้เข้าสู่ระบบบัญชีของคุณได้ คุณเปลี่ยนชื่อหรือลบพาสคีย์ที่ไม่ใช้แล้วได้",
        "en": "The passkeys that can log in to your account. "
        "You can rename them, or remove the ones you no longer use.",
    },
    "passkey_account_none": {
        "th": "คุณยังไม่มีพาสคีย์",
        "en": "You have no passkeys yet.",
    },
    "passkey_notice_added": {"th": "เพิ่มพาสคีย์แล้ว", "en": "The passkey was added."},
    "passkey_notice_renamed": {"th": "เปลี่ยนชื่อพาสคีย์แล้ว", "en": "The passkey was renamed."},
    "passkey_notice_removed": {
        "th": "ลบพาสคีย์แล้ว พาสคีย์นี้ใช้เข้าสู่ระบบไม่ได้อีก "
        "คุณอาจลบออกจากอุปกรณ์ด้วยก็ได้",
        "en": "The passkey was removed and can no longer log you in. "
        "You may also delete it from your device.",
    },
    "passkey_kind_passkey": {"th": "พาสคีย์", "en": "Passkey"},
    "passkey_kind_passkey-device-bound": {
        "th": "พาสคีย์บนอุปกรณ์เครื่องเดียว",
        "en": "Passkey on one device",
    },
    "passkey_kind_security-key": {
        "th": "กุญแจความปลอดภัยรุ่นที่รับรอง",
        "en": "Security key (approved model)",
    },
    "passkey_kind_security-key-pin": {
        "th": "กุญแจความปลอดภัยรุ่นที่รับรอง",
        "en": "Security key (approved model)",
    },
    "passkey_gives_aal": {"th": "ระดับการเข้าสู่ระบบ AAL {aal}", "en": "Login level AAL {aal}"},
    "passkey_added_on": {"th": "เพิ่มเมื่อ {date}", "en": "Added on {date}"},
    "passkey_last_used": {"th": "ใช้ล่าสุด {date}", "en": "Last used {date}"},
    "passkey_never_used": {"th": "ยังไม่เคยใช้", "en": "Not used yet"},
    "passkey_rename_label": {"th": "ชื่อ", "en": "Name"},
    "passkey_rename_button": {"th": "บันทึกชื่อ", "en": "Save name"},
    "passkey_remove_button": {"th": "ลบ {name}", "en": "Remove {name}"},
    "passkey_remove_help": {
        "th": "พาสคีย์ที่ลบแล้วจะใช้เข้าสู่ระบบไม่ได้อีก",
        "en": "A removed passkey can no longer log you in.",
    },
    "passkey_add_title": {"th": "เพิ่มพาสคีย์", "en": "Add a passkey"},
    "passkey_not_found": {
        "th": "ไม่พบพาสคีย์นี้ในบัญชีของคุณ อาจถูกลบไปแล้ว",
        "en": "This passkey is not in your account; it may have been removed already.",
    },
    "rate_limited": {
        "th": "มีการลองหลายครั้งเกินไป เพื่อความปลอดภัยของคุณ "
        "โปรดรอประมาณ {minutes} นาทีแล้วลองใหม่อีกครั้ง",
        "en": "Too many attempts. For your safety, please wait about {minutes} minutes "
        "and try again.",
    },
    # --- account page --------------------------------------------------------------------
    "account_client_name": {"th": "บัญชีดิจิทัลไอดีของฉัน", "en": "My Digital ID account"},
    "account_title": {"th": "บัญชีของฉัน", "en": "My account"},
    "account_signed_in_as": {"th": "คุณเข้าสู่ระบบในชื่อ {name}", "en": "You are logged in as {name}."},
    "account_levels": {
        "th": "ตัวตนของคุณยืนยันแล้วถึงระดับ IAL {ial} การเข้าสู่ระบบครั้งนี้อยู่ที่ระดับ AAL {aal} "
        "เมื่อ {time} (เวลาประเทศไทย)",
        "en": "Your identity is proven to IAL {ial}. This login is at AAL {aal}, "
        "made at {time} (Thailand time).",
    },
    "account_sections_label": {"th": "ส่วนต่าง ๆ ของหน้านี้", "en": "Sections of this page"},
    "account_section_passkeys": {"th": "พาสคีย์ของฉัน", "en": "My passkeys"},
    "account_section_consents": {
        "th": "หน่วยงานที่ฉันให้ความยินยอม",
        "en": "Agencies I consented to",
    },
    "account_section_activity": {"th": "กิจกรรมของฉัน", "en": "My activity"},
    "account_section_proofing": {"th": "การยืนยันตัวตนของฉัน", "en": "My proofing"},
    "account_logout": {"th": "ออกจากระบบ", "en": "Log out"},
    "account_login_required_title": {
        "th": "เข้าสู่ระบบเพื่อดูบัญชีของคุณ",
        "en": "Log in to see your account",
    },
    "account_login_required": {
        "th": "คุณยังไม่ได้เข้าสู่ระบบในเบราว์เซอร์นี้ เข้าสู่ระบบเพื่อดูพาสคีย์ หน่วยงานที่คุณให้ความยินยอม "
        "กิจกรรมในบัญชี และการยืนยันตัวตนของคุณ",
        "en": "You are not logged in on this browser. Log in to see your passkeys, the agencies "
        "you consented to, your account's activity and how your identity was proven.",
    },
    "account_login_button": {"th": "เข้าสู่ระบบ", "en": "Log in"},
    "account_login_again": {"th": "เข้าสู่ระบบอีกครั้ง", "en": "Log in again"},
    "account_page_invalid": {
        "th": "ไม่มีหน้าที่ขอ หน้ากิจกรรมมีเลขหน้า 1 ถึง {pages} โปรดกลับไปที่หน้าบัญชีของคุณ",
        "en": "There is no such page: activity pages are numbered 1 to {pages}. "
        "Please go back to your account page.",
    },
    "account_activity_intro": {
        "th": "สิ่งที่เกิดขึ้นกับบัญชีของคุณ รายการล่าสุดอยู่บนสุด มีเพียงคุณที่เห็นรายการนี้ "
        "หากพบรายการที่คุณไม่ได้ทำ ให้ลบพาสคีย์ที่ไม่รู้จักและถอนความยินยอมที่ไม่ต้องการ",
        "en": "What happened in your account, newest first; only you see this list. If you "
        "see something you did not do, remove passkeys you do not know and withdraw consents "
        "you do not want.",
    },
    "account_activity_none": {
        "th": "ยังไม่มีกิจกรรมในบัญชีของคุณ",
        "en": "Nothing has happened in your account yet.",
    },
    "account_activity_pages": {"th": "หน้ากิจกรรม", "en": "Activity pages"},
    "account_activity_newer": {"th": "กิจกรรมที่ใหม่กว่า", "en": "Newer activity"},
    "account_activity_older": {"th": "กิจกรรมที่เก่ากว่า", "en": "Older activity"},
    "account_activity_page": {"th": "หน้า {page}", "en": "Page {page}"},
    "account_activity_time_note": {
        "th": "เวลาทั้งหมดเป็นเวลาประเทศไทย",
        "en": "All times are Thailand time.",
    },
    "account_proofing_intro": {
        "th": "วิธีที่ตัวตนของคุณได้รับการยืนยัน ระดับของบัญชีคือระดับสูงสุดที่ยังไม่หมดอายุ "
        "ขณะนี้คือ IAL {ial}",
        "en": "How your identity was proven. Your account's level is the highest one that has "
        "not expired: now IAL {ial}.",
    },
    "account_proofing_none": {
        "th": "ตัวตนของคุณยังไม่ได้รับการยืนยัน ยืนยันได้ผ่านธนาคาร (NDID) หรือแอป ThaID "
        "เมื่อเข้าสู่ระบบครั้งถัดไป",
        "en": "Your identity has not been proven yet. You can prove it through your bank "
        "(NDID) or the ThaID app when you next log in.",
    },
    "account_proofing_level": {"th": "ระดับ IAL {ial}", "en": "IAL {ial}"},
    "account_proofing_current": {"th": "ระดับของบัญชีตอนนี้", "en": "Your level now"},
    "account_proofing_expired_tag": {"th": "หมดอายุแล้ว", "en": "Expired"},
    "account_proofing_date": {"th": "ยืนยันเมื่อ {date}", "en": "Proven on {date}"},
    "account_proofing_expires": {"th": "ใช้ได้ถึง {date}", "en": "Valid until {date}"},
    "account_proofing_expired": {"th": "หมดอายุเมื่อ {date}", "en": "Expired on {date}"},
    "account_proofing_no_expiry": {"th": "ไม่มีวันหมดอายุ", "en": "Does not expire"},
    "proofing_source_ndid": {"th": "ธนาคารผ่าน NDID ({bank})", "en": "Bank over NDID ({bank})"},
    "proofing_source_ndid_unnamed": {"th": "ธนาคารผ่าน NDID", "en": "A bank over NDID"},
    "proofing_source_upstream": {"th": "{provider} (ผู้ให้บริการยืนยันตัวตน)",
                                 "en": "{provider} (identity provider)"},
    "proofing_source_sandbox": {
        "th": "ระบบทดสอบ (บุคคลทดสอบ ไม่ใช่การยืนยันตัวตนจริง)",
        "en": "Sandbox (a test persona, not a real proofing)",
    },
    "proofing_how_bank_record": {
        "th": "ตรวจกับข้อมูลลูกค้าที่ธนาคารยืนยันไว้",
        "en": "Checked against the bank's verified customer record",
    },
    "proofing_how_idcard": {
        "th": "อ่านชิปบัตรประชาชน ตรวจสถานะบัตรกับกรมการปกครอง และเปรียบเทียบใบหน้า",
        "en": "ID card chip read, card checked with DOPA, face compared",
    },
    "proofing_how_passport": {
        "th": "อ่านและตรวจสอบชิปหนังสือเดินทาง",
        "en": "Passport chip read and verified",
    },
    "passkey_last_warning": {
        "th": "นี่คือพาสคีย์เดียวของคุณ หากลบ คุณจะต้องยืนยันตัวตนใหม่ผ่านธนาคาร (NDID) หรือแอป ThaID "
        "เพื่อเข้าสู่ระบบ แล้วจึงลงทะเบียนพาสคีย์ใหม่ได้",
        "en": "This is your only passkey. If you remove it, you will log in by proving who you "
        "are again through your bank (NDID) or the ThaID app, and can then register a new one.",
    },
    "passkey_login_again": {
        "th": "เพื่อความปลอดภัย เพิ่มพาสคีย์ได้ภายใน {minutes} นาทีหลังเข้าสู่ระบบเท่านั้น "
        "โปรดเข้าสู่ระบบอีกครั้งแล้วจึงเพิ่มพาสคีย์",
        "en": "For your safety, a passkey can only be added within {minutes} minutes of "
        "logging in. Please log in again, then add it.",
    },
    "passkey_session_too_weak": {
        "th": "คุณเข้าสู่ระบบครั้งนี้ด้วยวิธีที่อ่อนกว่าพาสคีย์ที่แข็งแรงที่สุดของคุณ (AAL {aal}) "
        "จึงเพิ่มพาสคีย์ไม่ได้ โปรดเข้าสู่ระบบอีกครั้งด้วยพาสคีย์นั้น หรือยืนยันตัวตนใหม่ผ่านธนาคาร "
        "(NDID) หรือแอป ThaID ที่ระดับ IAL {ial} ขึ้นไป",
        "en": "You logged in this time a weaker way than your strongest passkey (AAL {aal}), "
        "so you cannot add a passkey now. Log in again with that passkey, or prove who you are "
        "again through your bank (NDID) or the ThaID app at IAL {ial} or higher.",
    },
    "activity_login": {
        "th": "เข้าสู่ระบบเพื่อใช้บริการของ {agency} ด้วย{method}",
        "en": "Logged in to {agency} with {method}",
    },
    "activity_login_account": {
        "th": "เข้าสู่ระบบหน้าบัญชีของคุณด้วย{method}",
        "en": "Logged in to your account page with {method}",
    },
    "activity_method_sandbox_persona": {"th": "บุคคลทดสอบ (ระบบทดสอบ)",
                                        "en": "a sandbox test persona"},
    "activity_method_ndid": {"th": "ธนาคารผ่าน NDID", "en": "your bank over NDID"},
    "activity_method_passkey": {"th": "พาสคีย์", "en": "a passkey"},
    "activity_method_security_key": {"th": "กุญแจความปลอดภัย", "en": "a security key"},
    "activity_method_upstream": {"th": "บัญชี {provider}", "en": "{provider}"},
    "activity_method_other": {"th": "วิธีอื่น", "en": "another way"},
    "activity_this_account": {"th": "หน้าบัญชีของคุณ", "en": "your account page"},
    "activity_agency_gone": {"th": "หน่วยงานที่ไม่ได้ลงทะเบียนแล้ว",
                             "en": "an agency no longer registered"},
    "activity_bank_unnamed": {"th": "ธนาคารของคุณ", "en": "your bank"},
    "activity_consent_granted": {
        "th": "ยินยอมให้ {agency} ได้รับข้อมูลของคุณ",
        "en": "Allowed {agency} to receive your information",
    },
    "activity_consent_denied": {
        "th": "ไม่ยินยอมให้ {agency} ได้รับข้อมูลของคุณ",
        "en": "Did not allow {agency} to receive your information",
    },
    "activity_consent_withdrawn": {
        "th": "ถอนความยินยอมจาก {agency} และยกเลิกโทเค็นของหน่วยงานนั้น",
        "en": "Withdrew your consent from {agency}; its tokens were revoked",
    },
    "activity_token_issued": {
        "th": "{agency} ได้รับโทเค็นเพื่อใช้ข้อมูลของคุณ",
        "en": "{agency} received tokens to use your information",
    },
    "activity_token_refreshed": {
        "th": "{agency} ต่ออายุโทเค็น",
        "en": "{agency} renewed its tokens",
    },
    "activity_token_revoked": {
        "th": "โทเค็นของ {agency} ถูกยกเลิก",
        "en": "The tokens of {agency} were revoked",
    },
    "activity_logout": {"th": "ออกจากระบบ", "en": "Logged out"},
    "activity_passkey_registered": {"th": "เพิ่มพาสคีย์ ({passkey})",
                                    "en": "Added a passkey ({passkey})"},
    "activity_passkey_renamed": {"th": "เปลี่ยนชื่อพาสคีย์ ({passkey})",
                                 "en": "Renamed a passkey ({passkey})"},
    "activity_passkey_removed": {"th": "ลบพาสคีย์ ({passkey})",
                                 "en": "Removed a passkey ({passkey})"},
    "activity_passkey_login_failed": {
        "th": "การเข้าสู่ระบบด้วยพาสคีย์ของคุณไม่สำเร็จ",
        "en": "A login with one of your passkeys failed",
    },
    "activity_passkey_clone_suspected": {
        "th": "ระบบไม่รับพาสคีย์ของคุณอันหนึ่ง เพราะดูเหมือนถูกคัดลอก",
        "en": "One of your passkeys was refused: it looks like it may have been copied",
    },
    "activity_passkey_registration_failed": {
        "th": "เพิ่มพาสคีย์ไม่สำเร็จ",
        "en": "Adding a passkey failed",
    },
    "activity_ndid_accepted": {
        "th": "ยืนยันตัวตนผ่าน {bank} ทาง NDID (IAL {ial})",
        "en": "Proved your identity through {bank} over NDID (IAL {ial})",
    },
    "activity_upstream_accepted": {
        "th": "ยืนยันตัวตนผ่าน {provider} (IAL {ial})",
        "en": "Proved your identity through {provider} (IAL {ial})",
    },
    "activity_cert_issued": {"th": "มีการออกใบรับรองในชื่อของคุณ",
                             "en": "A certificate was issued in your name"},
    "activity_cert_revoked": {"th": "ใบรับรองในชื่อของคุณถูกเพิกถอน",
                              "en": "A certificate in your name was revoked"},
    "activity_other": {"th": "กิจกรรมอื่น ({type})", "en": "Other activity ({type})"},
    # --- signing certificate ---
    "signing_cert_title": {"th": "ใบรับรองสำหรับลงลายมือชื่อของฉัน", "en": "My signing certificate"},
    "signing_cert_intro": {
        "th": "ใบรับรองนี้ให้คุณลงลายมือชื่ออิเล็กทรอนิกส์บนเอกสารด้วยชื่อที่ยืนยันแล้วของคุณ "
        "ต้องยืนยันตัวตนถึงระดับ IAL {ial} และเข้าสู่ระบบครั้งนี้ที่ระดับ AAL {aal} ขึ้นไป",
        "en": "This certificate lets you sign documents electronically in your verified "
        "name. You need identity proven to IAL {ial} and this login at AAL {aal} or higher.",
    },
    "signing_cert_none": {"th": "คุณยังไม่มีใบรับรองสำหรับลงลายมือชื่อ",
                          "en": "You have no signing certificate yet."},
    "signing_cert_status": {"th": "สถานะ", "en": "Status"},
    "signing_cert_status_active": {"th": "ใช้งานได้", "en": "Active"},
    "signing_cert_status_revoked": {"th": "เพิกถอนแล้ว", "en": "Revoked"},
    "signing_cert_serial": {"th": "หมายเลขใบรับรอง", "en": "Serial number"},
    "signing_cert_issuer": {"th": "ผู้ออกใบรับรอง", "en": "Issued by"},
    "signing_cert_valid_until": {"th": "ใช้ได้ถึง", "en": "Valid until"},
    "signing_cert_revoked_on": {"th": "เพิกถอนเมื่อ", "en": "Revoked on"},
    "signing_cert_get": {"th": "ขอใบรับรองสำหรับลงลายมือชื่อ", "en": "Get a signing certificate"},
    "signing_cert_pnoth": {
        "th": "ใส่เลขประจำตัวประชาชนของฉันในใบรับรอง (ผู้ที่ได้รับเอกสารที่ลงนามจะเห็นเลขนี้)",
        "en": "Put my citizen ID number in the certificate (anyone who receives a document "
        "I sign will see it)",
    },
    "signing_cert_revoke": {"th": "เพิกถอน", "en": "Revoke"},
    "signing_cert_revoke_confirm": {
        "th": "ฉันเข้าใจว่าเมื่อเพิกถอนแล้ว จะใช้ใบรับรองนี้ลงลายมือชื่อไม่ได้อีก และย้อนกลับไม่ได้",
        "en": "I understand that once revoked, this certificate can never sign again; "
        "this cannot be undone",
    },
    "signing_cert_notice_issued": {
        "th": "ออกใบรับรองสำหรับลงลายมือชื่อให้คุณแล้ว",
        "en": "Your signing certificate has been issued.",
    },
    "signing_cert_notice_revoked": {
        "th": "เพิกถอนใบรับรองแล้ว ลายมือชื่อใหม่ด้วยใบรับรองนี้จะไม่ได้รับการยอมรับ",
        "en": "Your certificate has been revoked. New signatures with it will not be accepted.",
    },
    "signing_cert_error_ial_too_low": {
        "th": "ตัวตนของคุณยังยืนยันไม่ถึงระดับ IAL {ial} โปรดยืนยันตัวตนผ่านธนาคาร (NDID) "
        "หรือ ThaID แล้วลองอีกครั้ง",
        "en": "Your identity is not yet proven to IAL {ial}. Prove it through your bank "
        "(NDID) or ThaID, then try again.",
    },
    "signing_cert_error_aal_too_low": {
        "th": "การเข้าสู่ระบบครั้งนี้ต่ำกว่าระดับ AAL {aal} โปรดออกจากระบบแล้วเข้าสู่ระบบใหม่ด้วยพาสคีย์ "
        "แล้วลองอีกครั้ง",
        "en": "This login is below AAL {aal}. Log in again with a passkey, then try again.",
    },
    "signing_cert_error_no_verified_names": {
        "th": "ยังไม่มีชื่อของคุณที่ได้รับการยืนยัน โปรดยืนยันตัวตนผ่านธนาคารหรือ ThaID ก่อน",
        "en": "We hold no verified name for you. Prove your identity through your bank "
        "or ThaID first.",
    },
    "signing_cert_error_no_citizen_id": {
        "th": "ยังไม่มีเลขประจำตัวประชาชนที่ได้รับการยืนยันของคุณ จึงใส่ในใบรับรองไม่ได้ "
        "โปรดขอใหม่โดยไม่เลือกช่องนี้",
        "en": "We hold no verified citizen ID for you, so it cannot go in the certificate. "
        "Ask again without ticking that box.",
    },
    "signing_cert_error_confirm_needed": {
        "th": "โปรดทำเครื่องหมายยืนยันก่อนเพิกถอน ใบรับรองของคุณยังใช้งานได้",
        "en": "Tick the confirmation box to revoke. Your certificate is still active.",
    },
    "activity_signing_credential_issued": {
        "th": "ออกใบรับรองสำหรับลงลายมือชื่อให้คุณ",
        "en": "Your signing certificate was issued",
    },
    "activity_signing_credential_revoked": {
        "th": "ใบรับรองสำหรับลงลายมือชื่อของคุณถูกเพิกถอน",
        "en": "Your signing certificate was revoked",
    },
    "activity_signing_signed": {
        "th": "คุณลงลายมือชื่อในเอกสาร PDF", "en": "You signed a PDF document",
    },
    "activity_account_closed": {"th": "คุณปิดบัญชี", "en": "You closed your account"},
    # --- the signing page ------------------------------------------------------------------
    "csc_confirm_title": {"th": "ยืนยันการลงลายมือชื่อ", "en": "Confirm a signature"},
    "csc_confirm_intro": {
        "th": "{agency} ขอให้คุณลงลายมือชื่อด้วยใบรับรองของคุณ จำนวน {n} รายการ "
              "ยืนยันเฉพาะเมื่อคุณเพิ่งส่งเอกสารให้หน่วยงานนี้ลงลายมือชื่อ",
        "en": "{agency} asks you to sign {n} item(s) with your signing certificate. "
              "Confirm only if you have just asked this agency to sign documents for you.",
    },
    "csc_confirm_hashes": {
        "th": "ลายนิ้วมือ ({algorithm}) ของสิ่งที่จะลงลายมือชื่อ ตรงกับที่หน่วยงานแสดงให้คุณเห็น:",
        "en": "The fingerprints ({algorithm}) of what will be signed, as the agency "
              "showed them to you:",
    },
    "csc_confirm_warning": {
        "th": "เมื่อยืนยันด้วยพาสคีย์ หน่วยงานจะลงลายมือชื่อได้เฉพาะรายการเหล่านี้ ครั้งเดียวเท่านั้น",
        "en": "Once you confirm with your passkey, the agency can sign these items only, "
              "and only once.",
    },
    "csc_confirm_button": {"th": "ยืนยันด้วยพาสคีย์", "en": "Confirm with passkey"},
    "csc_working": {"th": "กำลังยืนยัน…", "en": "Confirming…"},
    "csc_confirm_failed": {
        "th": "ยืนยันไม่สำเร็จ หรือคำขอนี้ถูกใช้ไปแล้ว กรุณาเปิดหน้านี้ใหม่แล้วลองอีกครั้ง",
        "en": "The confirmation failed or was already used. Reload this page and try again.",
    },
    "csc_confirm_gone": {
        "th": "ไม่พบคำขอลงลายมือชื่อนี้ หรือหมดอายุแล้ว กรุณากลับไปที่หน่วยงานแล้วเริ่มใหม่",
        "en": "This signing request does not exist or has expired. Go back to the agency "
              "and start again.",
    },
    "csc_confirmed_title": {"th": "ยืนยันแล้ว", "en": "Confirmed"},
    "csc_confirmed_text": {
        "th": "คุณยืนยันการลงลายมือชื่อแล้ว กลับไปที่หน่วยงานเพื่อทำรายการต่อ",
        "en": "You confirmed the signature. Go back to the agency to finish.",
    },
    "sign_title": {"th": "ลงลายมือชื่อในเอกสาร PDF", "en": "Sign a PDF document"},
    "sign_intro": {
        "th": "เลือกไฟล์ PDF ที่จะลงลายมือชื่อ คุณจะเห็นเอกสารก่อน แล้วยืนยันด้วยพาสคีย์",
        "en": "Choose the PDF to sign. You will see it first, then confirm with your passkey.",
    },
    "sign_link": {"th": "ลงลายมือชื่อในเอกสาร PDF", "en": "Sign a PDF document"},
    "sign_no_credential": {
        "th": "คุณยังไม่มีใบรับรองสำหรับลงลายมือชื่อ ขอรับได้ที่หน้าบัญชีของคุณ แล้วกลับมาที่นี่",
        "en": "You do not have a signing certificate yet. Get one on your account page, "
              "then come back here.",
    },
    "sign_get_credential": {"th": "ไปที่หน้าบัญชี", "en": "Go to my account"},
    "sign_file_label": {"th": "ไฟล์ PDF", "en": "PDF file"},
    "sign_file_help": {
        "th": "เลือกได้ครั้งละไม่เกิน {files} ไฟล์ รวมกันไม่เกิน {mb} MB "
              "แต่ละไฟล์ไม่เกิน {pages} หน้า ไม่ใส่รหัสผ่าน",
        "en": "Up to {files} files at once, {mb} MB in all, each at most {pages} pages and "
              "not password-protected.",
    },
    "sign_level_label": {"th": "ระดับลายมือชื่อ", "en": "Signature level"},
    "sign_level_b_b": {"th": "B-B: ลายมือชื่ออย่างเดียว", "en": "B-B: the signature only"},
    "sign_level_b_t": {"th": "B-T: พร้อมเวลาที่รับรอง", "en": "B-T: with a trusted time"},
    "sign_level_b_lt": {
        "th": "B-LT: พร้อมเวลาและข้อมูลตรวจสอบระยะยาว (แนะนำ)",
        "en": "B-LT: with a trusted time and long-term validation data (recommended)",
    },
    "sign_level_b_lta": {
        "th": "B-LTA: เหมือน B-LT และประทับเวลาเอกสารเพื่อเก็บรักษานาน",
        "en": "B-LTA: as B-LT, plus a document time-stamp for archiving",
    },
    "sign_visible_label": {
        "th": "แสดงลายมือชื่อบนหน้าแรก (ชื่อ เวลา และคิวอาร์โค้ดสำหรับตรวจสอบ)",
        "en": "Show the signature on the first page (name, time and a QR code to verify it)",
    },
    "sign_keep_label": {
        "th": "เก็บเอกสารไว้จนกว่าฉันจะออกจากระบบ (ถ้าไม่เลือก จะลบทันทีหลังดาวน์โหลด)",
        "en": "Keep the document until I log out (otherwise it is deleted once downloaded)",
    },
    "sign_upload_button": {"th": "อัปโหลดและดูเอกสาร", "en": "Upload and preview"},
    "sign_certificate_used": {
        "th": "จะลงลายมือชื่อด้วยใบรับรองของคุณ: {name} (เลขที่ {serial})",
        "en": "Your certificate will be used: {name} (serial {serial})",
    },
    "sign_preview_title": {"th": "ตรวจดูเอกสารก่อนลงลายมือชื่อ", "en": "Check before you sign"},
    "sign_preview_intro": {
        "th": "นี่คือเอกสารที่จะถูกลงลายมือชื่อ ตรวจสอบให้แน่ใจว่าถูกต้อง",
        "en": "This is the document that will be signed. Make sure it is the right one.",
    },
    "sign_preview_intro_many": {
        "th": "นี่คือเอกสาร {n} ฉบับที่จะถูกลงลายมือชื่อ ตรวจสอบให้แน่ใจว่าถูกต้องทุกฉบับ",
        "en": "These are the {n} documents that will be signed. Make sure each is the right "
              "one.",
    },
    "sign_document_name": {"th": "ชื่อไฟล์", "en": "File name"},
    "sign_document_size": {"th": "ขนาด", "en": "Size"},
    "sign_document_pages": {"th": "จำนวนหน้า", "en": "Pages"},
    "sign_bytes": {"th": "{n} ไบต์", "en": "{n} bytes"},
    "sign_certificate": {"th": "ใบรับรองที่ใช้", "en": "Certificate used"},
    "sign_page_alt": {"th": "หน้า {n} ของเอกสาร", "en": "Page {n} of the document"},
    "sign_more_pages": {
        "th": "และอีก {n} หน้าที่ไม่ได้แสดงที่นี่ เปิดไฟล์ของคุณเพื่อดูทั้งหมด",
        "en": "and {n} more pages not shown here; open your file to see them all",
    },
    "sign_confirm_title": {"th": "ยืนยันด้วยพาสคีย์", "en": "Confirm with your passkey"},
    "sign_confirm_intro": {
        "th": "การยืนยันนี้ใช้ได้กับเอกสารนี้เท่านั้น และใช้ได้ครั้งเดียว",
        "en": "This confirmation is for this document only, and works once.",
    },
    "sign_confirm_intro_many": {
        "th": "ยืนยันครั้งเดียวเพื่อลงลายมือชื่อในเอกสารทั้ง {n} ฉบับนี้ "
              "ใช้ได้กับเอกสารเหล่านี้เท่านั้น และใช้ได้ครั้งเดียว",
        "en": "One confirmation signs all {n} of these documents; it is for these documents "
              "only, and works once.",
    },
    "sign_confirm_button": {"th": "ยืนยันและลงลายมือชื่อ", "en": "Confirm and sign"},
    "sign_working": {"th": "กำลังลงลายมือชื่อ…", "en": "Signing…"},
    "sign_discard_button": {"th": "ยกเลิกและลบเอกสาร", "en": "Cancel and delete the document"},
    "sign_confirmation_invalid": {
        "th": "การยืนยันนี้ไม่ตรงกับเอกสาร หรือถูกใช้ไปแล้ว กรุณาเปิดหน้าเอกสารใหม่แล้วยืนยันอีกครั้ง",
        "en": "This confirmation does not match the document or was already used. "
              "Reload the document page and confirm again.",
    },
    "sign_no_passkey": {
        "th": "คุณยังไม่มีพาสคีย์ เพิ่มพาสคีย์ที่หน้าบัญชีของคุณก่อน แล้วกลับมาลงลายมือชื่อ",
        "en": "You have no passkey yet. Add one on your account page, then come back to sign.",
    },
    "sign_failed": {
        "th": "ลงลายมือชื่อไม่สำเร็จในขณะนี้ (บริการเวลาหรือการตรวจสอบใบรับรองไม่ตอบ) "
              "ไม่มีการลงลายมือชื่อใด ๆ กรุณาลองใหม่ภายหลัง",
        "en": "The signature could not be made just now (the time-stamp or certificate "
              "status service did not answer). Nothing was signed; please try again later.",
    },
    "sign_document_gone": {
        "th": "ไม่พบเอกสารนี้แล้ว (หมดเวลา ดาวน์โหลดไปแล้ว หรือออกจากระบบ) กรุณาอัปโหลดใหม่",
        "en": "This document is no longer here (it expired, was downloaded, or you logged "
              "out). Please upload it again.",
    },
    "sign_done_title": {"th": "ลงลายมือชื่อแล้ว", "en": "Signed"},
    "sign_done_intro": {
        "th": "ลงลายมือชื่อใน {name} แล้ว ดาวน์โหลดเอกสารที่ลงลายมือชื่อได้ด้านล่าง",
        "en": "{name} is signed. Download the signed document below.",
    },
    "sign_done_intro_many": {
        "th": "ลงลายมือชื่อในเอกสารทั้ง {n} ฉบับแล้ว ดาวน์โหลดได้ด้านล่าง",
        "en": "All {n} documents are signed. Download them below.",
    },
    "sign_download_all": {
        "th": "ดาวน์โหลดทั้งหมดเป็นไฟล์ ZIP", "en": "Download them all as a ZIP file",
    },
    "sign_downloaded": {
        "th": "ดาวน์โหลดแล้ว และลบออกจากระบบแล้ว", "en": "Downloaded, and deleted here.",
    },
    "sign_signed_sha256": {"th": "SHA-256 ของไฟล์ที่ลงลายมือชื่อ", "en": "SHA-256 of the signed file"},
    "sign_download_button": {"th": "ดาวน์โหลด PDF ที่ลงลายมือชื่อ", "en": "Download the signed PDF"},
    "sign_kept": {
        "th": "เราเก็บเอกสารนี้ไว้จนกว่าคุณจะออกจากระบบ แล้วจะลบทิ้ง",
        "en": "We keep this document until you log out, then it is deleted.",
    },
    "sign_not_kept": {
        "th": "เมื่อดาวน์โหลดแล้ว เราจะลบเอกสารนี้ทันที",
        "en": "Once you download it, we delete this document.",
    },
    "sign_another": {"th": "ลงลายมือชื่อเอกสารอื่น", "en": "Sign another document"},
    "sign_error_no_file": {"th": "กรุณาเลือกไฟล์ PDF", "en": "Please choose a PDF file."},
    "sign_error_too_many_files": {
        "th": "เลือกได้ครั้งละไม่เกิน {files} ไฟล์", "en": "Choose at most {files} files at once.",
    },
    "sign_error_too_large": {
        "th": "ไฟล์ใหญ่เกิน {mb} MB (รวมทุกไฟล์) กรุณาลดขนาดหรือส่งทีละน้อยลงแล้วลองใหม่",
        "en": "The upload is over {mb} MB (all files together). Make it smaller or send fewer "
              "files at once, and try again.",
    },
    "sign_error_not_pdf": {
        "th": "ไฟล์นี้ไม่ใช่เอกสาร PDF กรุณาเลือกไฟล์ PDF",
        "en": "This file is not a PDF document. Please choose a PDF.",
    },
    "sign_error_damaged": {
        "th": "ไฟล์ PDF นี้เสียหายหรือไม่ครบ กรุณาบันทึกหรือส่งออกใหม่แล้วลองอีกครั้ง",
        "en": "This PDF is damaged or incomplete. Save or export it again and retry.",
    },
    "sign_error_encrypted": {
        "th": "ไฟล์ PDF นี้มีรหัสผ่านหรือเข้ารหัสไว้ กรุณาเอาการป้องกันออกแล้วลองใหม่",
        "en": "This PDF is password-protected or encrypted. Remove the protection and retry.",
    },
    "sign_error_too_many_pages": {
        "th": "เอกสารมีมากกว่า {pages} หน้า กรุณาแบ่งเอกสารแล้วลองใหม่",
        "en": "The document has more than {pages} pages. Split it and try again.",
    },
    "sign_error_text_too_long": {
        "th": "ข้อความยาวเกินไป", "en": "The text is too long.",
    },
    "sign_error_preview": {
        "th": "แสดงหน้านี้ไม่ได้ แต่เอกสารยังลงลายมือชื่อได้ เปิดไฟล์ของคุณเพื่อตรวจดู",
        "en": "This page cannot be shown, but the document can still be signed; open your "
              "file to check it.",
    },
    # --- closing an account (/account#close) ---------------------------------------------
    "account_close_title": {"th": "ปิดบัญชีของฉัน", "en": "Close my account"},
    "account_close_intro": {
        "th": "การปิดบัญชีจะเพิกถอนใบรับรองสำหรับลงลายมือชื่อ ยกเลิกความยินยอมที่ให้ทุกหน่วยงาน "
              "(หน่วยงานจะเข้าถึงข้อมูลไม่ได้ทันที) ลบพาสคีย์ และออกจากระบบทุกเครื่อง",
        "en": "Closing your account revokes your signing certificate, withdraws your consent "
              "from every agency (they lose access at once), removes your passkeys and logs "
              "you out everywhere.",
    },
    "account_close_kept": {
        "th": "ตามกฎหมาย เรายังเก็บประวัติการยืนยันตัวตนและบันทึกการใช้งานไว้ "
              "หากคุณยืนยันตัวตนเข้าสู่ระบบอีกครั้งภายหลัง จะเริ่มบัญชีใหม่โดยไม่มีสิ่งใดจากบัญชีเดิมที่ยังใช้งานอยู่",
        "en": "As the law requires, we keep the record of how you proved your identity and "
              "the audit trail. If you prove who you are and log in again later, a fresh "
              "account starts, with nothing of the old one active.",
    },
    "account_close_confirm": {
        "th": "ฉันเข้าใจและต้องการปิดบัญชี", "en": "I understand, close my account",
    },
    "account_close_button": {"th": "ปิดบัญชี", "en": "Close my account"},
    "account_close_login_again": {
        "th": "ต้องเข้าสู่ระบบภายใน {minutes} นาทีก่อนปิดบัญชี: เข้าสู่ระบบอีกครั้ง",
        "en": "Closing needs a login less than {minutes} minutes old: log in again",
    },
    "account_close_error_confirm_needed": {
        "th": "กรุณาทำเครื่องหมายยืนยันก่อนปิดบัญชี", "en": "Tick the box to confirm first.",
    },
    "account_close_error_login_again": {
        "th": "เพื่อความปลอดภัย กรุณาเข้าสู่ระบบอีกครั้ง (ภายใน {minutes} นาที) แล้วปิดบัญชี",
        "en": "For your safety, log in again (within {minutes} minutes), then close the "
              "account.",
    },
    "account_closed_title": {"th": "ปิดบัญชีแล้ว", "en": "Your account is closed"},
    "account_closed_certificates": {
        "th": "เพิกถอนใบรับรองสำหรับลงลายมือชื่อ {n} ใบ", "en": "Signing certificates revoked: {n}",
    },
    "account_closed_agencies": {
        "th": "ยกเลิกความยินยอมของหน่วยงาน {n} แห่ง", "en": "Agencies whose access ended: {n}",
    },
    "account_closed_passkeys": {"th": "ลบพาสคีย์ {n} รายการ", "en": "Passkeys removed: {n}"},
    # --- verification (/verify) ------------------------------------------------------------
    "verify_title": {"th": "ตรวจสอบเอกสารที่ลงลายมือชื่อ", "en": "Check a signed document"},
    "verify_intro": {
        "th": "อัปโหลดไฟล์ PDF ที่ได้รับ เช่น ใบอนุญาต ใบรับรอง หรือแบบฟอร์มที่ลงลายมือชื่อแล้ว "
              "เพื่อดูว่าเป็นของจริงหรือไม่ ใครลงลายมือชื่อ ถูกแก้ไขหรือไม่ และยังใช้ได้อยู่หรือไม่",
        "en": "Upload a PDF you received, such as a license, a certificate or a signed form, "
              "to see whether it is genuine, who signed it, whether it was changed, and "
              "whether it is still valid.",
    },
    "verify_file_label": {"th": "ไฟล์ PDF ที่จะตรวจสอบ", "en": "PDF file to check"},
    "verify_file_help": {"th": "ไม่เกิน {mb} MB", "en": "At most {mb} MB."},
    "verify_button": {"th": "ตรวจสอบ", "en": "Check"},
    "verify_privacy": {
        "th": "เราไม่เก็บไฟล์ของคุณ ผลการตรวจสอบเก็บไว้ให้ดาวน์โหลดเพียงไม่กี่นาทีแล้วลบทิ้ง",
        "en": "We do not keep your file. The report stays downloadable for a few minutes, "
              "then it is deleted.",
    },
    "verify_api_hint": {"th": "สำหรับโปรแกรมของหน่วยงาน:", "en": "For agencies' programs:"},
    "verify_error_no_file": {"th": "กรุณาเลือกไฟล์ PDF", "en": "Please choose a PDF file."},
    "verify_result_title": {"th": "ผลการตรวจสอบ", "en": "Verification result"},
    "verify_verdict_valid": {
        "th": "ลายมือชื่อถูกต้อง และเอกสารไม่ถูกแก้ไขหลังลงลายมือชื่อ",
        "en": "The signatures are valid and the document was not changed after signing",
    },
    "verify_verdict_invalid": {
        "th": "ลายมือชื่อไม่ถูกต้อง อย่าเชื่อถือเอกสารนี้",
        "en": "The signature is not valid: do not rely on this document",
    },
    "verify_verdict_indeterminate": {
        "th": "ยังบอกไม่ได้ว่าลายมือชื่อถูกต้องหรือไม่",
        "en": "We cannot tell whether the signature is valid",
    },
    "verify_verdict_unsigned": {
        "th": "เอกสารนี้ไม่มีลายมือชื่ออิเล็กทรอนิกส์", "en": "This document has no electronic signature",
    },
    "verify_verdict_refused": {"th": "ตรวจสอบไฟล์นี้ไม่ได้", "en": "This file cannot be checked"},
    "verify_verdict_revoked": {
        "th": "เอกสารนี้ถูกเพิกถอนแล้ว โดยหน่วยงานที่ออก",
        "en": "The issuing agency has revoked this document",
    },
    "verify_verdict_suspended": {
        "th": "เอกสารนี้ถูกระงับชั่วคราวโดยหน่วยงานที่ออก",
        "en": "The issuing agency has suspended this document",
    },
    "verify_verdict_expired": {"th": "เอกสารนี้หมดอายุแล้ว", "en": "This document has expired"},
    "verify_verdict_not_yet_valid": {
        "th": "เอกสารนี้ยังไม่เริ่มมีผล", "en": "This document is not valid yet",
    },
    "verify_verdict_not_issued": {
        "th": "ไฟล์นี้ไม่ใช่ฉบับที่หน่วยงานออกให้ (เนื้อหาไม่ตรงกับที่บันทึกไว้)",
        "en": "This file is not the one the agency issued (its content does not match the "
              "record)",
    },
    "verify_refused_not_pdf": {
        "th": "ไฟล์นี้ไม่ใช่เอกสาร PDF", "en": "This file is not a PDF document.",
    },
    "verify_refused_encrypted": {
        "th": "ไฟล์ PDF นี้มีรหัสผ่านหรือเข้ารหัสไว้ จึงตรวจสอบไม่ได้",
        "en": "This PDF is password-protected or encrypted, so it cannot be checked.",
    },
    "verify_refused_too_large": {
        "th": "ไฟล์ใหญ่เกินกว่าที่ตรวจสอบได้", "en": "The file is larger than we can check.",
    },
    "verify_refused_damaged": {
        "th": "ไฟล์ PDF นี้เสียหายหรือไม่ครบ จึงอ่านไม่ได้",
        "en": "This PDF is damaged or incomplete, so it cannot be read.",
    },
    "verify_refused_timeout": {
        "th": "การตรวจสอบไฟล์นี้ใช้เวลานานเกินกำหนด จึงหยุดไว้ (ไฟล์อาจมีโครงสร้างผิดปกติ)",
        "en": "Checking this file took longer than allowed, so we stopped (its structure may "
              "be abnormal).",
    },
    "verify_sub_HASH_FAILURE": {
        "th": "เนื้อหาที่ลงลายมือชื่อถูกเปลี่ยนหลังจากลงลายมือชื่อ",
        "en": "The signed content was changed after it was signed.",
    },
    "verify_sub_SIG_CRYPTO_FAILURE": {
        "th": "ค่าลายมือชื่อไม่ตรงกับกุญแจของผู้ลงลายมือชื่อ (ลายมือชื่อถูกปลอมหรือเสียหาย)",
        "en": "The signature value does not match the signer's key (forged or damaged).",
    },
    "verify_sub_REVOKED": {
        "th": "ใบรับรองของผู้ลงลายมือชื่อถูกเพิกถอนก่อนการลงลายมือชื่อ",
        "en": "The signer's certificate was revoked before the signature was made.",
    },
    "verify_sub_REVOKED_NO_POE": {
        "th": "ใบรับรองของผู้ลงลายมือชื่อถูกเพิกถอนแล้ว และไม่มีหลักฐานว่าลงลายมือชื่อก่อนการเพิกถอน",
        "en": "The signer's certificate is revoked, and nothing proves the signature was "
              "made before that.",
    },
    "verify_sub_REVOKED_CA_NO_POE": {
        "th": "ใบรับรองของผู้ออกใบรับรองในสายถูกเพิกถอนแล้ว",
        "en": "A certificate authority in the chain is revoked.",
    },
    "verify_sub_NO_CERTIFICATE_CHAIN_FOUND": {
        "th": "ใบรับรองของผู้ลงลายมือชื่อไม่ได้ออกโดยผู้ออกใบรับรองที่เราเชื่อถือ",
        "en": "The signer's certificate does not lead to a certificate authority we trust.",
    },
    "verify_sub_OUT_OF_BOUNDS_NO_POE": {
        "th": "ใบรับรองของผู้ลงลายมือชื่อหมดอายุแล้ว และไม่มีการประทับเวลาที่พิสูจน์ว่าลงลายมือชื่อขณะใบรับรองยังใช้ได้",
        "en": "The signer's certificate has expired, and no time-stamp proves the signature "
              "was made while it was valid.",
    },
    "verify_sub_OUT_OF_BOUNDS_NOT_REVOKED": {
        "th": "ใบรับรองหมดอายุแล้ว แต่ไม่ได้ถูกเพิกถอน",
        "en": "The certificate has expired, though it was not revoked.",
    },
    "verify_sub_TRY_LATER": {
        "th": "ตรวจสถานะใบรับรองไม่ได้ในขณะนี้ (บริการตรวจสถานะไม่ตอบ) กรุณาลองใหม่ภายหลัง",
        "en": "The certificate's status could not be checked just now (the status service "
              "did not answer). Try again later.",
    },
    "verify_sub_FORMAT_FAILURE": {
        "th": "ลายมือชื่อมีรูปแบบไม่ถูกต้องตามมาตรฐาน จึงอ่านไม่ได้",
        "en": "The signature is not in a valid format, so it cannot be read.",
    },
    "verify_sub_EXPIRED": {"th": "ใบรับรองหมดอายุแล้ว", "en": "The certificate has expired."},
    "verify_sub_NOT_YET_VALID": {
        "th": "ใบรับรองยังไม่เริ่มมีผลในเวลาที่ลงลายมือชื่อ",
        "en": "The certificate was not yet valid when the signature was made.",
    },
    "verify_sub_SIG_CONSTRAINTS_FAILURE": {
        "th": "ลายมือชื่อไม่เป็นไปตามข้อกำหนดที่ต้องมี", "en": "The signature breaks a required rule.",
    },
    "verify_sub_CHAIN_CONSTRAINTS_FAILURE": {
        "th": "สายใบรับรองไม่เป็นไปตามข้อกำหนด (เช่น การใช้งานกุญแจหรือนโยบาย)",
        "en": "The certificate chain breaks a rule (such as key usage or policy).",
    },
    "verify_sub_CERTIFICATE_CHAIN_GENERAL_FAILURE": {
        "th": "ตรวจสายใบรับรองไม่ผ่าน", "en": "The certificate chain did not check out.",
    },
    "verify_sub_CRYPTO_CONSTRAINTS_FAILURE": {
        "th": "ลายมือชื่อใช้วิธีเข้ารหัสที่ไม่ปลอดภัยแล้ว",
        "en": "The signature uses an algorithm that is no longer safe.",
    },
    "verify_sub_NO_SIGNING_CERTIFICATE_FOUND": {
        "th": "ไม่พบใบรับรองของผู้ลงลายมือชื่อในลายมือชื่อ",
        "en": "The signer's certificate is not in the signature.",
    },
    "verify_sub_NO_POE": {
        "th": "ไม่มีหลักฐานเวลาเพียงพอที่จะตัดสิน", "en": "There is no proof of time to decide on.",
    },
    "verify_sub_FORBIDDEN_CHANGES": {
        "th": "มีการแก้ไขเอกสารหลังลงลายมือชื่อในแบบที่ไม่อนุญาต (เช่น เพิ่มหน้าหรือเปลี่ยนเนื้อหา)",
        "en": "The document was changed after signing in a way that is not allowed (such as "
              "pages added or content changed).",
    },
    "verify_signer": {
        "th": "ผู้ลงลายมือชื่อ",
        "en": "Signer",
    },
    "verify_code_digest_mismatch": {
        "th": "ค่าแฮชของเนื้อหาไม่ตรงกับที่ลงลายมือชื่อไว้",
        "en": "The content's hash does not match what was signed.",
    },
    "verify_code_signature_invalid": {
        "th": "ค่าลายมือชื่อตรวจสอบไม่ผ่าน",
        "en": "The signature value does not verify.",
    },
    "verify_code_format_failure": {
        "th": "โครงสร้างลายมือชื่อไม่ถูกต้อง",
        "en": "The signature's structure is not valid.",
    },
    "verify_code_forbidden_modification": {
        "th": "มีการแก้ไขที่ไม่อนุญาตหลังลงลายมือชื่อ",
        "en": "The document was changed after signing in a way that is not allowed.",
    },
    "verify_code_partial_coverage": {
        "th": "ลายมือชื่อครอบคลุมไฟล์เพียงบางส่วน",
        "en": "The signature covers only part of the file.",
    },
    "verify_code_docmdp_violation": {
        "th": "การแก้ไขขัดกับสิทธิ์ที่ผู้รับรองเอกสารกำหนดไว้",
        "en": "A change breaks the permissions the certifying signature set.",
    },
    "verify_code_certificate_revoked": {
        "th": "ใบรับรองของผู้ลงลายมือชื่อถูกเพิกถอน",
        "en": "The signer's certificate is revoked.",
    },
    "verify_code_ca_certificate_revoked": {
        "th": "ใบรับรองของผู้ออกใบรับรองถูกเพิกถอน",
        "en": "A certificate authority's certificate is revoked.",
    },
    "verify_code_untrusted_chain": {
        "th": "ไม่ถึงผู้ออกใบรับรองที่เชื่อถือ",
        "en": "The chain does not reach a trusted authority.",
    },
    "verify_code_no_signing_certificate": {
        "th": "ไม่พบใบรับรองของผู้ลงลายมือชื่อ",
        "en": "The signer's certificate is missing.",
    },
    "verify_code_certificate_expired": {
        "th": "ใบรับรองหมดอายุแล้ว",
        "en": "The certificate has expired.",
    },
    "verify_code_certificate_not_yet_valid": {
        "th": "ใบรับรองยังไม่เริ่มมีผล",
        "en": "The certificate was not yet valid.",
    },
    "verify_code_revocation_unavailable": {
        "th": "ตรวจสถานะใบรับรองไม่ได้",
        "en": "The certificate's status could not be checked.",
    },
    "verify_code_weak_algorithm": {
        "th": "ใช้วิธีเข้ารหัสที่ไม่ปลอดภัยแล้ว",
        "en": "An algorithm that is no longer safe is used.",
    },
    "verify_code_chain_constraints": {
        "th": "สายใบรับรองไม่เป็นไปตามข้อกำหนด",
        "en": "The certificate chain breaks a rule.",
    },
    "verify_code_chain_invalid": {
        "th": "สายใบรับรองไม่ถูกต้อง",
        "en": "The certificate chain is not valid.",
    },
    "verify_code_signature_constraints": {
        "th": "ลายมือชื่อไม่เป็นไปตามข้อกำหนด",
        "en": "The signature breaks a required rule.",
    },
    "verify_code_timestamp_order": {
        "th": "ลำดับเวลาของการประทับเวลาไม่ถูกต้อง",
        "en": "The time-stamps are out of order.",
    },
    "verify_code_no_proof_of_existence": {
        "th": "ไม่มีหลักฐานว่าลงลายมือชื่อเมื่อใด",
        "en": "Nothing proves when the signature was made.",
    },
    "verify_code_byte_range_invalid": {
        "th": "ช่วงข้อมูลที่ลงลายมือชื่อไม่ถูกต้อง",
        "en": "The signed byte range is not valid.",
    },
    "verify_code_signature_unreadable": {
        "th": "อ่านลายมือชื่อไม่ได้",
        "en": "The signature cannot be read.",
    },
    "verify_code_no_revocation_data": {
        "th": "ไฟล์ไม่มีข้อมูลสถานะใบรับรอง",
        "en": "The file carries no certificate status data.",
    },
    "verify_code_revoked_after_signing": {
        "th": "ใบรับรองถูกเพิกถอนหลังจากลงลายมือชื่อแล้ว (ลายมือชื่อยังใช้ได้)",
        "en": "The certificate was revoked after the signature was made (the signature stands).",
    },
    "verify_code_visible_changes_after_signing": {
        "th": "บางหน้าดูต่างไปจากตอนที่ลงลายมือชื่อ (ตรวจดูว่าเป็นการกรอกแบบฟอร์มตามปกติหรือไม่)",
        "en": "Some pages look different now than when this was signed (check that it is "
              "ordinary form filling).",
    },
    "verify_changed_pages": {"th": "หน้าที่ดูต่างไป", "en": "Pages that look different"},
    "verify_code_annotations_added": {
        "th": "มีการเพิ่มหมายเหตุหลังลงลายมือชื่อ",
        "en": "Annotations were added after signing.",
    },
    "verify_code_signature_timestamp_invalid": {
        "th": "การประทับเวลาของลายมือชื่อตรวจสอบไม่ผ่าน",
        "en": "The signature's time-stamp does not verify.",
    },
    "verify_kind_signature": {"th": "ลายมือชื่อ", "en": "Signature"},
    "verify_kind_doc_timestamp": {"th": "การประทับเวลาเอกสาร", "en": "Document time-stamp"},
    "verify_indication_TOTAL_PASSED": {"th": "ถูกต้อง", "en": "Valid"},
    "verify_indication_TOTAL_FAILED": {"th": "ไม่ถูกต้อง", "en": "Not valid"},
    "verify_indication_INDETERMINATE": {"th": "ยังบอกไม่ได้", "en": "Cannot tell"},
    "verify_indication": {"th": "ผล (ETSI EN 319 102-1)", "en": "Result (ETSI EN 319 102-1)"},
    "verify_format": {"th": "รูปแบบ", "en": "Format"},
    "verify_trust_anchor": {"th": "ผู้ออกใบรับรองต้นทางที่เชื่อถือ", "en": "Trust anchor reached"},
    "verify_none": {"th": "ไม่มี", "en": "none"},
    "verify_chain": {"th": "สายใบรับรอง", "en": "Certificate chain"},
    "verify_cert_valid": {"th": "ใช้ได้ {start} ถึง {end}", "en": "valid {start} to {end}"},
    "verify_claimed_time": {
        "th": "เวลาที่ผู้ลงลายมือชื่อระบุ", "en": "Signing time (as the signer claims)",
    },
    "verify_timestamp": {"th": "เวลาที่รับรองโดยการประทับเวลา", "en": "Time-stamp"},
    "verify_revocation": {"th": "สถานะใบรับรอง", "en": "Certificate status"},
    "verify_revocation_good": {"th": "ไม่ถูกเพิกถอน", "en": "not revoked"},
    "verify_revocation_revoked": {"th": "ถูกเพิกถอน", "en": "revoked"},
    "verify_revocation_unknown": {"th": "ไม่ทราบ", "en": "unknown"},
    "verify_revocation_not_checked": {"th": "ไม่ได้ตรวจ", "en": "not checked"},
    "verify_source_embedded": {"th": "จากข้อมูลในไฟล์", "en": "from the data in the file"},
    "verify_source_online": {"th": "ตรวจออนไลน์", "en": "checked online"},
    "verify_coverage": {"th": "ส่วนที่ลงลายมือชื่อ", "en": "What the signature covers"},
    "verify_coverage_entire_file": {"th": "ทั้งไฟล์", "en": "the whole file"},
    "verify_coverage_entire_revision": {
        "th": "ทั้งเอกสาร ณ เวลาที่ลงลายมือชื่อ (มีการเพิ่มข้อมูลภายหลัง)",
        "en": "the whole document as it was when signed (more was added later)",
    },
    "verify_coverage_partial": {"th": "บางส่วนเท่านั้น", "en": "only part of the file"},
    "verify_modifications": {"th": "การเปลี่ยนแปลงหลังลงลายมือชื่อ", "en": "Changes after signing"},
    "verify_modifications_none": {"th": "ไม่มี", "en": "none"},
    "verify_modifications_lta_updates": {
        "th": "เพิ่มข้อมูลตรวจสอบระยะยาวและการประทับเวลาเท่านั้น (อนุญาต)",
        "en": "only long-term validation data and time-stamps added (allowed)",
    },
    "verify_modifications_form_filling": {
        "th": "กรอกแบบฟอร์มหรือลงลายมือชื่อเพิ่ม (อนุญาต)",
        "en": "form filling or more signatures (allowed)",
    },
    "verify_modifications_annotations": {
        "th": "เพิ่มหมายเหตุหรือคำอธิบายประกอบ", "en": "annotations added",
    },
    "verify_modifications_forbidden": {
        "th": "มีการเปลี่ยนแปลงที่ไม่อนุญาต", "en": "changes that are not allowed",
    },
    "verify_error": {"th": "ปัญหา", "en": "Problem"},
    "verify_warning": {"th": "ข้อสังเกต", "en": "Note"},
    "verify_signature_count": {"th": "จำนวนลายมือชื่อ", "en": "Signatures"},
    "verify_download_report": {
        "th": "ดาวน์โหลดรายงาน (JSON)", "en": "Download the report (JSON)",
    },
    "verify_another": {"th": "ตรวจสอบไฟล์อื่น", "en": "Check another file"},
    "verify_details": {"th": "รายละเอียด", "en": "Details"},
    "verify_report_gone": {
        "th": "รายงานนี้หมดเวลาดาวน์โหลดแล้ว กรุณาตรวจสอบไฟล์ใหม่อีกครั้ง",
        "en": "This report is no longer available. Check the file again.",
    },
    "verify_registry_document": {"th": "เอกสารที่ออกโดยหน่วยงาน", "en": "Document issued"},
    "verify_registry_issuer": {"th": "หน่วยงานที่ออก", "en": "Issued by"},
    "verify_registry_status": {"th": "สถานะในทะเบียน", "en": "Status in the register"},
    "verify_registry_match_exact": {
        "th": "ไฟล์นี้ตรงกับฉบับที่หน่วยงานออกให้ทุกไบต์",
        "en": "This file is, byte for byte, the one the agency issued.",
    },
    "verify_registry_match_extended": {
        "th": "ไฟล์นี้คือฉบับที่หน่วยงานออกให้ พร้อมข้อมูลที่เพิ่มภายหลัง (ตรวจการเปลี่ยนแปลงได้ในรายละเอียด)",
        "en": "This file is the one the agency issued, with data added later (the details "
              "say what was added).",
    },
    "verify_registry_match_different": {
        "th": "ไฟล์นี้ไม่ใช่ฉบับที่หน่วยงานออกให้ แม้จะอ้างถึงเอกสารนี้",
        "en": "This file is not the one the agency issued, though it names this document.",
    },
    "verify_registry_valid": {"th": "ระยะเวลาที่มีผล", "en": "Valid"},
    "verify_registry_no_end": {"th": "ไม่มีกำหนดสิ้นสุด", "en": "no end date"},
    "verify_registry_holder": {"th": "ผู้ถือ", "en": "Holder"},
    "verify_registry_id": {"th": "เลขที่อ้างอิงในทะเบียน", "en": "Register reference"},
    "verify_registry_unknown": {
        "th": "ไม่พบเอกสารนี้ในทะเบียน ตรวจสอบลิงก์หรือคิวอาร์โค้ดอีกครั้ง",
        "en": "There is no such document in the register. Check the link or the QR code.",
    },
    "verify_registry_intro": {
        "th": "ข้อมูลจากทะเบียนของหน่วยงานที่ออกเอกสาร ณ ขณะนี้",
        "en": "What the issuing agency's register says of this document now.",
    },
    "verify_registry_title_active": {"th": "เอกสารนี้ใช้ได้", "en": "This document is valid"},
    "verify_registry_title_suspended": {
        "th": "เอกสารนี้ถูกระงับชั่วคราว", "en": "This document is suspended",
    },
    "verify_registry_title_revoked": {
        "th": "เอกสารนี้ถูกเพิกถอนแล้ว", "en": "This document has been revoked",
    },
    "verify_registry_title_expired": {"th": "เอกสารนี้หมดอายุแล้ว", "en": "This document has expired"},
    "verify_registry_title_not_yet_valid": {
        "th": "เอกสารนี้ยังไม่เริ่มมีผล", "en": "This document is not valid yet",
    },
    "verify_registry_check_title": {
        "th": "ตรวจไฟล์ที่คุณได้รับ", "en": "Check the file you received",
    },
    "verify_registry_check_intro": {
        "th": "อัปโหลดไฟล์ PDF เพื่อตรวจว่าเป็นฉบับนี้จริงและลายมือชื่อถูกต้อง",
        "en": "Upload the PDF to check that it is this document and that its seal is valid.",
    },
    "registry_status_active": {"th": "ใช้ได้", "en": "active"},
    "registry_status_suspended": {"th": "ระงับชั่วคราว", "en": "suspended"},
    "registry_status_revoked": {"th": "เพิกถอนแล้ว", "en": "revoked"},
    "registry_status_expired": {"th": "หมดอายุ", "en": "expired"},
    "registry_status_not_yet_valid": {"th": "ยังไม่เริ่มมีผล", "en": "not yet valid"},
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
