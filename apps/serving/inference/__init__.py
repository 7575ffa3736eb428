"""The inference service: scores requests to deployed endpoints in its own gunicorn processes.

No Django here (``manage.py inference`` wires Django in): routes.py says what is served, choosing.py
which arm answers, cache.py keeps models loaded, payload.py reads bodies safely, app.py is the WSGI
application, shadows.py scores shadow arms off the request path, metrics.py exposes Prometheus
metrics and server.py runs gunicorn.
"""
