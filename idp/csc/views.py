"""The CSC API v2 endpoints under /csc/v2/, and the agency seal API."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("csc", __name__)
