"""`citeqa milvus-server --data-dir DIR [--host H] [--port P]`: Milvus' engine (milvus-lite 2.5.1, the
C++ engine in its wheel) serving gRPC on TCP in the foreground, for the replicas and ingest workers of
one host (CITEQA_MILVUS_URI=http://H:P). A Milvus standalone or cluster is reached the same way.

The engine is a child process: this one holds the data file's lock (one engine per file), stops the
engine on SIGTERM or SIGINT, and the engine dies with it if this process is killed (PR_SET_PDEATHSIG),
so a supervisor that kills `citeqa milvus-server` never leaves an engine holding the port.
"""
from __future__ import annotations

import argparse
import ctypes
import errno
import fcntl
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DB_NAME = "milvus.db"
EXIT_ERROR = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", required=True, type=Path, help="where the engine keeps its data (DIR/milvus.db)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=19530, help="gRPC port (default 19530)")


def _die_with_parent() -> None:  # runs in the child between fork and exec
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _port_free(host: str, port: int) -> str | None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the engine binds: TIME_WAIT is no obstacle
        try:
            s.bind((host, port))
        except OSError as exc:
            return ("is already in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound: {exc.strerror}")
    return None


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host if host not in ("0.0.0.0", "::") else "127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def serve(data_dir: Path, host: str, port: int, out=sys.stdout) -> int:
    import warnings

    with warnings.catch_warnings():  # milvus_lite/__init__ imports pkg_resources, which warns
        warnings.simplefilter("ignore", UserWarning)
        from milvus_lite.server import BIN_PATH

    from index.stores.milvus.client import StoreUnreachable, check_local_uri

    if not 0 < port < 65536:
        print(f"citeqa milvus-server: --port {port} is not a TCP port", file=sys.stderr)
        return EXIT_ERROR
    try:
        db = check_local_uri(str(data_dir / DB_NAME))
    except StoreUnreachable as exc:
        print(f"citeqa milvus-server: {exc}", file=sys.stderr)
        return EXIT_ERROR
    engine = Path(BIN_PATH) / "milvus"
    if not engine.exists():
        print("citeqa milvus-server: the milvus-lite engine binary is missing (reinstall milvus-lite)", file=sys.stderr)
        return EXIT_ERROR
    data_dir.mkdir(parents=True, exist_ok=True)
    # milvus_lite.server.Server's command line and lock file, not the class: its start() does not stop
    # the engine with this process, and its __del__ deletes the lock file (another process's lock too)
    args = [str(engine), str(db), f"{host}:{port}", os.environ.get("LOG_LEVEL", "ERROR")]
    lock = open(data_dir / f".{DB_NAME}.lock", "a")  # milvus-lite's own lock file: an embedded open sees it too
    try:
        fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        print(f"citeqa milvus-server: {data_dir / DB_NAME} is open in another process (one engine per data "
              "file)", file=sys.stderr)
        return EXIT_ERROR
    busy = _port_free(host, port)
    if busy:
        print(f"citeqa milvus-server: {host}:{port} {busy}", file=sys.stderr)
        return EXIT_ERROR
    env = {**os.environ, "LD_LIBRARY_PATH": f"{engine.parent}:{os.environ.get('LD_LIBRARY_PATH', '')}"}
    proc = subprocess.Popen(args, env=env, cwd=str(data_dir), preexec_fn=_die_with_parent)
    stopping = []

    def stop(signum, _frame):
        stopping.append(signum)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    deadline = time.monotonic() + 60
    while not _listening(host, port):
        if proc.poll() is not None or time.monotonic() > deadline:
            if proc.poll() is None:
                proc.kill()
            print(f"citeqa milvus-server: the engine did not start (exit status {proc.wait()})", file=sys.stderr)
            return EXIT_ERROR
        time.sleep(0.1)
    print(f"citeqa milvus-server: listening on http://{host}:{port} (data in {data_dir}); stop with SIGTERM",
          file=out, flush=True)
    try:
        while proc.poll() is None:
            try:
                proc.wait(timeout=10 if stopping else 1)
            except subprocess.TimeoutExpired:
                if stopping:  # asked to stop and still running after 10 s
                    proc.kill()
    finally:
        lock.close()
    if stopping:
        return 0
    print(f"citeqa milvus-server: the engine exited (status {proc.returncode})", file=sys.stderr)
    return EXIT_ERROR


def main(args: argparse.Namespace) -> int:
    return serve(args.data_dir, args.host, args.port)


__all__ = ["add_arguments", "main", "serve"]
