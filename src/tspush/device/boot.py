# Runs first at every start, copied to the board's /boot.py. Kept tiny:
# quiet the ESP8266's debug output; nothing here can lock mpremote out.
try:
    import esp

    esp.osdebug(None)
except (ImportError, AttributeError):
    pass
