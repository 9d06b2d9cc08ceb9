import os

from flask import Flask, request

app = Flask(__name__)
VERSION = "v1"


@app.route("/")
def hello():
    return {
        "version": VERSION,
        "hostname": os.environ.get("WEBSITE_HOSTNAME", ""),
        "greeting": os.environ.get("GREETING", ""),
        "host": request.host,
        "cwd": os.getcwd(),
    }
