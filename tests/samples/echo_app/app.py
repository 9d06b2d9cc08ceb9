# No requirements.txt: Flask and gunicorn come with the runtime image.
import os
from pathlib import Path

from flask import Flask, request

app = Flask(__name__)
VERSION = "v1"


@app.route("/")
def hello():
    return {
        "version": VERSION,
        "headers": dict(request.headers),
        "hostname": os.environ.get("WEBSITE_HOSTNAME", ""),
        "cwd": os.getcwd(),
        "files": sorted(p.name for p in Path(".").iterdir()),
    }
