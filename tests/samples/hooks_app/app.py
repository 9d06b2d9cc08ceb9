import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return {
        "built": Path("built.txt").read_text() if Path("built.txt").exists() else "",
        "from_conf": os.environ.get("FROM_CONF", ""),
        "greeting": os.environ.get("GREETING", ""),
    }
