"""Connects to its database at start-up. The database of this sample is
simulated (CI has no SSL-only server the container can reach): it refuses the
connection the way Azure Database for PostgreSQL does without sslmode."""

import os
import sys

from flask import Flask

dsn = os.environ.get("POSTGRESQLCONNSTR_db", "")
if "sslmode=require" not in dsn:
    print(
        'psycopg.OperationalError: connection failed: connection to server at "db.example.internal" '
        '(10.0.0.4), port 5432 failed: FATAL:  SSL connection is required. Please specify SSL options and retry.',
        file=sys.stderr,
        flush=True,
    )
    raise SystemExit(1)

app = Flask(__name__)
