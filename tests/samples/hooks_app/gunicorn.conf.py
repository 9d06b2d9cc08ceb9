# Read by gunicorn through `-c`: proves the app's own config is honoured.
raw_env = ["FROM_CONF=yes"]
workers = 1
