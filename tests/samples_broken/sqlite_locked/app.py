"""Two connections to one SQLite file, as two gunicorn workers would have:
the second cannot write while the first holds the write lock."""

import sqlite3

from flask import Flask

first = sqlite3.connect("/tmp/data.sqlite3", timeout=0)
first.execute("CREATE TABLE IF NOT EXISTS visits (n INTEGER)")
first.execute("BEGIN EXCLUSIVE")
second = sqlite3.connect("/tmp/data.sqlite3", timeout=0)
second.execute("INSERT INTO visits VALUES (1)")

app = Flask(__name__)
