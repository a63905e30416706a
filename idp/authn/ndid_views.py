"""Proving identity through a bank over NDID: the person's pages and the node's callbacks."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("ndid", __name__)
