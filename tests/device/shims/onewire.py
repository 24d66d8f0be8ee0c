"""Shim of MicroPython's ``onewire``: a bus object only."""


class OneWireError(Exception):
    pass


class OneWire:
    def __init__(self, pin):
        self.pin = pin
