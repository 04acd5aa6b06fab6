"""Benchmark: how latency grows with the data. Serves a small and a large data set side by
side (one gunicorn each, gunicorn.conf.py, production settings) and drives every page of
load.py on both in turn, several rounds, so that both sizes see the same machine; prints each
page's p95 latency at both sizes and their ratio (the issue's target: at most 1.5x). The
queries per request at each size come from bench/query_counts.py.

    .venv/bin/python bench/growth.py \\
        --small-url URL --small-manifest PATH --large-url URL --large-manifest PATH \\
        [--rounds 3] [--duration 5] [--connections 8] [--threads 2] [--port 8775] [--out x.json]

Both data sets come from `flask --app intervention seed-demo --scale N --manifest PATH`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._common import RssSampler, machine  # noqa: E402
from bench.load import (  # noqa: E402
    Server,
    app_pages,
    current_drafts,
    gunicorn_settings,
    run_wrk,
    running,
    server_env,
    worker_memory,
    wrk_version,
)


def serve(label: str, url: str, port: int, workdir: Path) -> Server:
    env = server_env(SimpleNamespace(database_url=url), f"http://127.0.0.1:{port}")
    return Server(label, "wsgi:app", port, env, workdir / f"{label}.log")


def errors(row: dict) -> str:
    """Responses other than 2xx, and socket errors (timeouts), over both sizes."""
    sizes = (row["small"], row["large"])
    return f"{sum(s['non2xx'] for s in sizes)}/{sum(s['socket_errors'] for s in sizes)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-url", required=True)
    parser.add_argument("--small-manifest", required=True, type=Path)
    parser.add_argument("--large-url", required=True)
    parser.add_argument("--large-manifest", required=True, type=Path)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per page and round")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--port", type=int, default=8775, help="small; large: +1")
    parser.add_argument("--only", help="measure only the pages whose name contains this")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: make bench-deps")
    manifests = {
        "small": json.loads(args.small_manifest.read_text()),
        "large": json.loads(args.large_manifest.read_text()),
    }
    workdir = Path(tempfile.mkdtemp(prefix="bench-growth-"))
    servers = {
        "small": serve("small", args.small_url, args.port, workdir),
        "large": serve("large", args.large_url, args.port + 1, workdir),
    }
    print(f"gunicorn logs in {workdir}", flush=True)
    samples: dict[str, dict[str, list[dict]]] = {}
    with running(*servers.values(), ready_paths=("/healthz", "/healthz")):
        pages = {
            size: app_pages(servers[size].port, manifests[size], args.connections)[0]
            for size in servers
        }
        with contextlib.ExitStack() as stack:
            samplers = {
                size: stack.enter_context(RssSampler(servers[size].workers, interval=0.1))
                for size in servers
            }
            for round_ in range(1, args.rounds + 1):
                for index, small_page in enumerate(pages["small"]):
                    if args.only and args.only not in small_page.name:
                        continue
                    # Alternate which size goes first, so neither always follows the other.
                    order = ("small", "large") if (round_ + index) % 2 else ("large", "small")
                    for size in order:
                        page = pages[size][index]
                        if round_ == 1:
                            page.check(servers[size].port)
                        if page.drafts:
                            page.drafts = current_drafts(servers[size].port, page.drafts)
                        row = run_wrk(page, servers[size].port, args, workdir)
                        samples.setdefault(small_page.name, {}).setdefault(size, []).append(row)
                print(f"  round {round_} of {args.rounds} done", flush=True)
        memory = {size: worker_memory(servers[size], samplers[size]) for size in servers}

    rows = []
    for name, by_size in samples.items():
        row = {"page": name}
        for size, runs in by_size.items():
            row[size] = {
                "p50_ms": statistics.median(r["p50_us"] for r in runs) / 1000,
                "p95_ms": statistics.median(r["p95_us"] for r in runs) / 1000,
                "rps": statistics.median(r["rps"] for r in runs),
                "non2xx": sum(r["non2xx"] for r in runs),
                "socket_errors": sum(r["socket_errors"] for r in runs),  # e.g. wrk's 2 s timeout
            }
        row["p95_growth"] = row["large"]["p95_ms"] / row["small"]["p95_ms"]
        rows.append(row)
    result = {
        "machine": machine(),
        "gunicorn": gunicorn_settings(servers["small"].env),
        "wrk": f"{wrk_version()}, {args.threads} threads, {args.connections} connections, "
        f"{args.duration} s per page, {args.rounds} rounds; medians over the rounds",
        "database": args.small_url.split("://", 1)[0],
        "data": {size: manifests[size].get("counts", {}) for size in manifests},
        "pages": rows,
        "memory": memory,
        "command": " ".join(sys.argv),
    }
    print(f"\nmachine: {result['machine']}\ngunicorn: {result['gunicorn']}\nwrk: {result['wrk']}")
    scale = {size: manifests[size].get("scale") for size in manifests}
    print(
        f"\n{'page':<24}{'p95 ' + str(scale['small']):>12}{'p95 ' + str(scale['large']):>12}"
        f"{'growth':>9}{'req/s small':>13}{'req/s large':>13}{'non-2xx/sock':>14}"
    )
    for row in rows:
        print(
            f"{row['page']:<24}{row['small']['p95_ms']:>10.1f}ms{row['large']['p95_ms']:>10.1f}ms"
            f"{row['p95_growth']:>8.2f}x{row['small']['rps']:>13.0f}{row['large']['rps']:>13.0f}"
            f"{errors(row):>12}"
        )
    for size in servers:
        print(f"{size} workers: highest RSS {memory[size]['peak_mb']:.0f} MB")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
