# Read by gunicorn through `-c`: its settings and hooks reach the app.
raw_env = ["FROM_CONF=yes"]
workers = 2


def on_starting(server):
    server.log.info("gunicorn.conf.py hook: on_starting")


def post_request(worker, req, environ, resp):
    worker.log.info("gunicorn.conf.py hook: served %s", req.path)
