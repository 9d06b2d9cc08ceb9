from importlib.metadata import version

from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return {"flask": version("flask"), "werkzeug": version("werkzeug")}
