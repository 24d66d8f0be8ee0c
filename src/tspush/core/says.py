"""The board's rarer log lines and error messages, read from flash only when one is needed.

Each string constant of a module loaded from ROMFS holds heap (its header) for as long as
the module is loaded; these lines live in one constant of a module that is loaded for one
line and dropped at once. ``errors.words`` gives the line, or its number and arguments
when the heap is full. Lines 1-49 and 67-69: the board (``device``); 50-66:
``core.httpread``; 70 on: ``core.http``.
"""

import sys


def text(code):
    """Line number ``code``; the module drops itself (its RAM comes back at the next GC).

    The numbers are ints, not names: a short string constant would be interned (RAM).
    One line per message, "number text" (a trailing backslash joins the next line); one
    constant, one header on the heap, and a local: no name interned.
    """
    t = """
1 PWRON_RESET:power on|HARD_RESET:reset button or power glitch|WDT_RESET:the watchdog: something \
hung too long|DEEPSLEEP_RESET:waking from deep sleep|SOFT_RESET:a soft reset (a crash restart, \
machine.reset or Ctrl-D)
2 boot: last reset: %s
3 TLS: none: plain HTTP to %s (for a tspush serve relay on your LAN)
4 network: connect and TLS waits cut to 4 s (the ESP8266 watchdog resets after 5 s)
5 sensor: left out: %s
6 config: %d sensor(s), every %s s, push every %d sample(s) to %s%s
7 spool: %d reading(s) kept from before, to send
8 memory: %d bytes free, %d in use at rest
9 opening the spool
10 spool: readings are kept in RAM only
11 watchdog: %d s
12 watchdog: not available (%s)
13 sampling: %d reading time(s) missed (the board was busy %d ms); back on schedule
14 %s: %s (%s): check its wiring and power
15 sensor: %s; this reading is skipped, the other sensors go on (%d error(s) so far)
16 sensor: %s: reading dropped: %s
17 writing readings to flash
18 spool: %d reading(s) of this cycle are lost (counted)
19 time: no NTP time; asking the server for its clock (Date header)
20 time: the server's answer has no usable Date header
21 asking the server for the time
22 time: not set yet: %d reading(s) wait with their RTC time; nothing is sent until the time is \
known
23 time: readings taken before the clock was set get RTC time + %d s%s
24 warning: time: %d reading(s) taken before a power cut, while the clock was never set, cannot \
be dated: not sent, kept in the dead-letter file (%d so far)
25 warning: %d reading(s) lost so far: the oldest go when the spool (spool_max_bytes) or RAM \
(queue_max) is full, or a flash write fails
26 sleep: deep sleep %d ms, until the next reading
27 memory: %d time(s) so far; the readings taken are kept; batches now at most %d points; going on
28 memory: %d bytes free, %d in use after the last cycle
29 fix config.json (tspush deploy, or mpremote); Ctrl-C gives the REPL
30 starting in %d s (Ctrl-C for the REPL)
31 restarting in %d s (Ctrl-C for the REPL)
32 Wi-Fi: not joined; readings are kept and sent later
33 Wi-Fi: cannot start joining (%s): set ssid in config.json
34 Wi-Fi: failed: %s
35 Wi-Fi: no link after %d s
36 STAT_WRONG_PASSWORD:wrong password|STAT_NO_AP_FOUND:network not found: check the ssid|\
STAT_CONNECT_FAIL:the access point refused the board
37 Wi-Fi: this MicroPython build has no WPS; skipping it
38 Wi-Fi: WPS: press the router's WPS button
39 Wi-Fi: WPS failed to start (%s)
40 Wi-Fi: link lost; re-joining
41 warning: TLS: this MicroPython cannot read the server certificate: the fingerprint is not \
checked, the CA check is
42 error: output board: THE TOKEN IS REJECTED (HTTP %d): nothing is sent until it is fixed; \
%d point(s) kept; retrying every %ds
43 warning: output board: %d point(s) refused, written to the dead-letter file: %s
44 output board: the token is accepted again
45 one point encodes to %d bytes, over max_bytes %d
47 warning: NTP %s did not answer (%s): asking again in %d s at most%s
48 ; readings wait on flash with their RTC time
49 the server's Date header (%s)
50 HTTP line of %d bytes is too long
51 the server closed the connection without answering
52 the status line was cut short
53 not an HTTP/1.x answer: %r
54 bad HTTP status %r
55 bad HTTP status %d
56 the answer's headers were cut short
57 more than %d header lines
58 folded header lines are not allowed
59 bad header line %r
60 header %r is not text
61 the server closed the connection in the middle of the body
62 a chunk size line was cut short
63 bad chunk size %r
64 chunk data is longer than its size
65 too many 1xx interim answers
66 bad Content-Length %r
67 taken at RTC %s s before a power cut that came before any clock sync: its time cannot be known
70 https://%s: no CA certificate, no fingerprint and not insecure: set tls_ca, fingerprint, \
or tls_verify = none
71 %s: the host name did not resolve: check the URL and the network's DNS
72 %s: connect timed out after %ss: is the server up?
73 %s: connect failed (%s): is the server up and the port right?
74 %s: the connection keeps dropping
75 %s: no progress for %ss while %s
76 %s: connection lost while %s (%s)
77 reading the answer
"""
    mods = sys.modules
    mods.pop(__name__, None)
    try:
        delattr(mods["tspush.core"], "says")
    except (KeyError, AttributeError):
        pass
    key = "\n" + str(code) + " "
    i = t.find(key)
    if i < 0:
        return key[1:]
    i += len(key)
    return t[i : t.find("\n", i)]
