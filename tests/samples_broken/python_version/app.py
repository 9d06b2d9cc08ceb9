from flask import Flask

type Vector = list[float]

app = Flask(__name__)
