"""Production settings for gunicorn: `gunicorn -c gunicorn.conf.py wsgi:app`.

Every number can be set from the environment, so one file serves a small court program on one
server and a state-wide deployment on many. The benchmarks (bench/load.py) start gunicorn with
this same file, so their figures describe what a deployment runs.

- Workers are processes: one per core plus one is a good start on a server that only serves
  Intervention (`WEB_CONCURRENCY`). Each keeps its own copy of the rendered curriculum (a few
  MB) and stays well under 150 MB RSS (bench/RESULTS.md).
- Threads per worker (`GUNICORN_THREADS`) overlap the time a request waits on the database.
  Each thread holds at most one database connection, so PostgreSQL needs
  workers x threads connections per app server (INTERVENTION_DB_POOL_SIZE defaults to 4 =
  the thread count here; keep them equal).
- Certificates are rendered while the facilitator waits (about a quarter of a second each), so
  the timeout leaves room for a slow PDF.
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle a worker now and then so a slow leak cannot grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# Each worker builds its own app and connection pool; sharing a pool across fork is unsafe.
preload_app = False
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-") or None
errorlog = "-"
