"""The `citeqa` command: ingest, serve, ask, eval, bench."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path

EXIT_OK, EXIT_ERROR, EXIT_SKIPPED = 0, 2, 3


def _settings(args: argparse.Namespace):
    from service.config import Settings

    overrides = {}
    if getattr(args, "index_dir", None):
        overrides["index_dir"] = Path(args.index_dir)
    if getattr(args, "workers", None):
        overrides["workers"] = args.workers
    return Settings(**overrides)


def _fail(msg: str) -> int:
    print(f"citeqa: error: {msg}", file=sys.stderr)
    return EXIT_ERROR


def open_for_ingest(settings, embedder, rebuild: bool):
    """Open (or create) the index for writing, and the documents carried over from a corrupt store.
    With --rebuild a corrupt store is set aside, never deleted, and every document still readable
    in it is kept (those added through the API live nowhere else)."""
    from index.stores.errors import IndexCorrupt
    from index.stores.factory import local_file, open_index, set_aside

    cfg = settings.store_config()
    try:
        return open_index(cfg, embedder, create=True, for_writing=True, rebuild=rebuild), []
    except IndexCorrupt:
        if not rebuild or local_file(cfg) is None:
            raise
        carried, error, aside = set_aside(cfg)
        print(f"citeqa: the old index was unreadable; moved it to {aside}; {len(carried)} documents read from it "
              f"are kept" + (f" (reading stopped at: {error})" if error else ""), file=sys.stderr)
        return open_index(cfg, embedder, create=True, for_writing=True, rebuild=True), carried


def cmd_ingest(args: argparse.Namespace) -> int:
    from index.embedding.embedder import Embedder
    from index.ingest import ingest
    from index.stores.manifest import IndexMismatch
    from index.stores.errors import IndexCorrupt, IndexUnavailable, StoreFull, StoreReadOnly

    from index.ingest_workers import WorkersRefused, check_parallel, ingest_parallel

    settings = _settings(args)
    paths = [Path(p) for p in args.paths] or [settings.seeds_dir]
    try:
        check_parallel(settings.store_config(), args.workers)
    except WorkersRefused as exc:
        return _fail(str(exc))
    embedder = Embedder.from_config(settings.embedder_config())
    try:
        index, carried = open_for_ingest(settings, embedder, args.rebuild)
        if args.workers > 1:
            report = ingest_parallel(settings.store_config(), settings.embedder_config(), index, paths, args.workers,
                                     rebuild=args.rebuild, max_file_bytes=int(settings.max_file_mb * 1e6))
        else:
            report = ingest(index, paths, rebuild=args.rebuild, carried=carried,
                            max_file_bytes=int(settings.max_file_mb * 1e6))
    except (IndexCorrupt, IndexMismatch, IndexUnavailable) as exc:
        return _fail(str(exc))
    except (StoreFull, StoreReadOnly) as exc:
        return _fail(exc.strerror)
    print(report.summary())
    return EXIT_SKIPPED if report.skipped else EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from service.server.app import serve

    return serve(_settings(args), host=args.host, port=args.port, ingest_first=args.ingest)


def cmd_ask(args: argparse.Namespace) -> int:
    from service.engine import Engine, EngineError

    settings = _settings(args)
    try:
        engine = Engine.load(settings)
        result = engine.ask(args.question, top_k=args.top_k)
    except (EngineError, ValueError) as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(result.model_dump(), indent=2, ensure_ascii=False))
        return EXIT_OK
    print(result.answer)
    if result.short_answer:
        print(f"\nShort answer: {result.short_answer}")
    sources = result.citations or []
    if sources:
        print("\nSources:")
        for c in sources:
            print(f"  [{c.n}] {c.title} ({c.date or 'undated'}) — {c.doc_id} chars {c.start}-{c.end}")
            print(f"      \u201c{c.quote}\u201d")
    elif result.passages:
        print("\nClosest passages:")
        for p in result.passages[:3]:
            print(f"  - {p.title} ({p.date or 'undated'}): {p.text[:200]}…")
    return EXIT_OK


def _delegated(sub, name: str, help: str, module: str, with_index_config: bool = False) -> None:
    """A sub-command whose options and work live in `module` (add_arguments, main), imported only
    here, inside the CLI; `with_index_config`: main also gets the store's and the embedder's values
    from the settings (index/ never reads the settings)."""
    p = sub.add_parser(name, help=help)
    importlib.import_module(module).add_arguments(p)

    def run(args):
        if not with_index_config:
            return importlib.import_module(module).main(args)
        settings = _settings(args)
        return importlib.import_module(module).main(args, settings.store_config(), settings.embedder_config())

    p.set_defaults(func=run)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="citeqa", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("ingest", help="build or update the index from article files")
    p.add_argument("paths", nargs="*", help="files or folders (default: the seeds folder)")
    p.add_argument("--index-dir")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything (after a model or settings change)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes embedding and writing in parallel (a Milvus server store only)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("serve", help="serve the API and the chat page")
    p.add_argument("--host", default=None)
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--index-dir")
    p.add_argument("--ingest", action="store_true", help="build or update the index from the seeds folder first")
    p.add_argument("--workers", type=int, default=None,
                   help="server processes, each with its own model (default: CITEQA_WORKERS, else 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ask", help="answer one question from the command line")
    p.add_argument("question")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--index-dir")
    p.add_argument("--json", action="store_true", help="print the API's JSON object")
    p.set_defaults(func=cmd_ask)

    _delegated(sub, "check", "check the index (store, vectors, FAISS cache); --repair fixes what it finds",
               "index.check", with_index_config=True)
    _delegated(sub, "milvus-server", "run Milvus' engine (milvus-lite) as a gRPC server for replicas and ingest "
               "workers, until SIGTERM", "index.stores.milvus.server")
    _delegated(sub, "eval", "run the evaluation question set and write a report", "eval.harness")
    _delegated(sub, "bench", "run the benchmarks", "eval.bench.run")
    _delegated(sub, "train-reader", "fine-tune the extractive reader on SQuAD (resumable)", "training.reader.train")
    return parser


def main(argv: list[str] | None = None) -> int:
    import signal

    # `citeqa ask ... | head` ends quietly; only as the program itself (argv None): called in-process
    # (tests, other tools) a default SIGPIPE would kill the host on any write to a closed socket
    if argv is None and hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
