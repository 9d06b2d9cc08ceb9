# Answers the health check, then crashes a few seconds later, every time it
# starts: a worker leaving with gunicorn's "failed to boot" code (3) makes the
# gunicorn master halt, so the container exits and the engine restarts it.
import os
import threading
import time

from flask import Flask

app = Flask(__name__)
CRASH_AFTER = float(os.environ.get("CRASH_AFTER", "5"))


def _crash_later() -> None:
    time.sleep(CRASH_AFTER)
    print(f"crashloop_app: crashing on purpose after {CRASH_AFTER} s", flush=True)
    os._exit(3)


threading.Thread(target=_crash_later, daemon=True).start()


@app.route("/")
def hello():
    return {"app": "crashloop", "pid": os.getpid()}
