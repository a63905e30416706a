"""The signing page for people: upload a PDF, see it, confirm with a passkey, download it."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sign", __name__)
