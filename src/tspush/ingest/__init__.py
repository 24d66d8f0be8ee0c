"""What a server does with an OpenTSDB ``/api/put`` request, without a web framework.

Shared by the receiver (``tspush serve``, Starlette) and the agent's
``http_listener`` source (http.server), so both refuse, check and answer
the same way: body bounds and gzip (``body``), the points' rules with one
series memo (``check``), the token in an Authorization header (``tokens``)
and the error answered as OpenTSDB's error object (``errors``). CPython only;
imports nothing above ``core`` (tests/test_layering.py).
"""
