import os

from flask import Flask, redirect, render_template, request, send_from_directory, url_for

app = Flask(__name__)


@app.route("/")
def index():
    print("index page requested")
    return render_template("index.html")


@app.route("/favicon.ico")
def favicon():
    return send_from_directory(
        os.path.join(app.root_path, "static"), "favicon.ico", mimetype="image/vnd.microsoft.icon"
    )


@app.route("/hello", methods=["POST"])
def hello():
    name = request.form.get("name")
    if not name:
        print("hello page requested without a name: back to the index")
        return redirect(url_for("index"))
    print(f"hello page requested for {name}")
    return render_template("hello.html", name=name)


if __name__ == "__main__":
    app.run()
