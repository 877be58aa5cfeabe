"""Reverse proxies: trust exactly ``TRUSTED_PROXIES`` hops of ``X-Forwarded-*``.

Behind a load balancer every request comes from the balancer's address, so
the console's per-address sign-in limit would lock all staff out together
and the audit log would name the balancer. Werkzeug's ``ProxyFix`` takes
the client's address, scheme and host from the headers the trusted proxies
added: the last ``TRUSTED_PROXIES`` values of each, counted from the right,
so a value the client forged further left is never read. With the default
0 nothing is installed and those headers are ignored.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def init_app(app: Flask, hops: int) -> None:
    """Wrap the WSGI app in ``ProxyFix`` for ``hops`` proxies (none when 0)."""
    if hops > 0:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
