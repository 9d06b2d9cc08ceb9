from flask import Flask

from helpers import missing_name  # noqa: F401

app = Flask(__name__)
