"""The layout's rules, read from the source (issue 24): lower floors do not import upper ones, the
runtime never imports the measuring or training code, one module knows the store kind, and no
module outgrows a reader's attention."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _modules(package: str):
    return sorted(p for p in (ROOT / package).rglob("*.py") if ".venv" not in p.parts)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            out.add(node.module)
    return out


def _offenders(package: str, banned: tuple[str, ...], allow: tuple[str, ...] = ()) -> list[str]:
    return [f"{p.relative_to(ROOT)} imports {m}" for p in _modules(package) if str(p.relative_to(ROOT)) not in allow
            for m in sorted(_imports(p)) if m.split(".")[0] in banned]


def test_index_imports_nothing_above_it():
    assert _offenders("index", ("service", "eval", "training")) == []


def test_the_runtime_never_imports_eval_or_training():
    # the CLI dispatches `citeqa eval` / `train-reader` to them lazily; nothing else of service/ may
    assert _offenders("service", ("eval", "training"), allow=("service/cli.py",)) == []


def test_only_the_factory_reads_the_store_kind():
    kind = re.compile(r"\.store\s*(==|!=|in\b)|\bstore\s*(==|!=)\s*[\"'](milvus|embedded)")
    readers = sorted({str(p.relative_to(ROOT)) for pkg in ("index", "service", "eval", "training")
                      for p in _modules(pkg) if kind.search(p.read_text(encoding="utf-8"))})
    assert readers == ["index/stores/factory.py"]


def test_index_takes_values_not_the_apps_settings():
    """index/ is built from index/config.py's values; only service/config.py turns settings into them."""
    reads = re.compile(r"\bsettings\.[a-z_]+")
    offenders = [f"{p.relative_to(ROOT)}:{n}" for p in _modules("index")
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
                 if reads.search(line.split("#", 1)[0])]
    assert offenders == []


def test_no_module_over_400_lines():
    long = [(str(p.relative_to(ROOT)), n) for pkg in ("index", "service", "eval", "training", "tests") for p in _modules(pkg)
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400]
    assert long == []
