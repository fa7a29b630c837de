"""The least a WSGI app can do (bench/floor.py serves it with gunicorn): what a request then costs is the
server's own share of every request."""
BODY = b'{"status":"ok"}'


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]
