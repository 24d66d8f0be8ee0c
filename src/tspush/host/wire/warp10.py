"""Warp 10 GTS input format: the core's encoder is the host's too (no faster path yet)."""

from __future__ import annotations

from tspush.core.warp10 import CONTENT_TYPE, batches, encode

NAME = "warp10"
RECORDS = False

__all__ = ["CONTENT_TYPE", "NAME", "RECORDS", "batches", "encode"]
