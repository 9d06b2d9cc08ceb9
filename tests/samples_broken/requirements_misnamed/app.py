import dotenv  # noqa: F401
from flask import Flask

app = Flask(__name__)
