import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    built = Path("built.txt")
    return {
        "file": "application.py",
        "built": built.read_text() if built.exists() else "",
        "from_conf": os.environ.get("FROM_CONF", ""),
    }
