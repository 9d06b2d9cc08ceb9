"""The built-in default site: what a web app shows before any content is deployed.

It answers every path (including App Service's warm-up ping,
/robots933456.txt) with 200, so the platform sees a healthy container and the
user sees a page that says what to do next.
"""

import os

from flask import Flask, render_template

app = Flask(__name__)


@app.route("/", defaults={"path": ""})
@app.route("/<path:path>")
def hostingstart(path: str):
    return render_template(
        "hostingstart.html",
        site_name=os.environ.get("WEBSITE_SITE_NAME", ""),
        python_version=os.environ.get("BERTH_PYTHON_VERSION", ""),
    )
