"""Passkeys (WebAuthn): registering them and logging in with them."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("passkey", __name__)
