"""Shim of MicroPython's ``esp``."""

calls = []


def osdebug(level):
    calls.append(("osdebug", level))
