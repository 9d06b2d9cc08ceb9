from flask import Flask

# Loads a "model" much bigger than the container may hold.
MODEL = bytearray(512 * 1024 * 1024)

app = Flask(__name__)
