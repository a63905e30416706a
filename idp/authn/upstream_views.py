"""Logging in through an upstream OpenID provider (ThaID-style): start and callback."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("upstream", __name__)
