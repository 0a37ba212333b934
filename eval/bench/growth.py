"""Growth: FAISS index types through index.stores.sqlite.vectors.DenseIndex at 10k, 100k and 1M chunk vectors.

The vectors are synthetic but shaped like sentence embeddings: 384-d, unit length, a weak common
direction shared by all (real embeddings are anisotropic), topics of uneven size and spread inside
super-topics, and inside a topic variation along a few directions of its own (a low intrinsic
dimension, as text embeddings have), so an approximate index meets the kind of neighbourhoods it
would meet on real chunks (uniform random vectors make every ANN index look either perfect or
hopeless; `--growth-data isotropic` gives Gaussian-ball topics, a harder case for HNSW). Queries are corpus points
perturbed by noise (cosine ~0.9 to their origin), searched one at a time as the service does.
Recall@10 is measured against exact search (a Flat index over the same vectors).

For each index: build time (DenseIndex.build: train + add), memory (serialized size, and the RSS
growth of this process over the build), single-query p50/p95, recall@10, the cost of a small
update (remove + add of 10 vectors, what HybridIndex.apply does on a write when the index
supports removal; an HNSW index does not, so every write rebuilds it), and a sweep of the search
knob (HNSW efSearch, IVF nprobe).
"""
from __future__ import annotations

import gc
import math
import time

import faiss
import numpy as np

from eval.bench.common import Clock, mib, ms_stats, rss_bytes, system_load
from index.stores.sqlite.vectors import DenseIndex

DIM = 384
K = 10
TARGETS = {"p50_ms": 10.0, "recall_at_10": 0.95, "memory_gb": 0.6}
EF_SWEEP = (16, 32, 64, 128, 256)
NPROBE_SWEEP = (4, 8, 16, 32, 64)


# ---- data ------------------------------------------------------------------------------------
def _normalize(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def synthetic(n: int, dim: int = DIM, seed: int = 7, kind: str = "manifold", block: int = 100_000) -> np.ndarray:
    """n clustered unit vectors (float32), deterministic for (n, dim, seed, kind).

    "manifold" (the default): topics inside super-topics; inside a topic the points vary along a
    few directions of its own (rank 24, decaying variances) plus a little isotropic noise, so the
    data has a low intrinsic dimension, as text embeddings do, and neighbours are well defined.
    "isotropic": each topic is a Gaussian ball in all 384 directions; neighbours inside a topic are
    then near-ties (a harder, less realistic case for graph indexes such as HNSW).
    """
    rng = np.random.default_rng(seed)
    n_clusters = int(min(2000, max(20, n // 500)))
    common = rng.standard_normal(dim).astype(np.float32)
    common /= np.linalg.norm(common)
    # cluster sizes: uneven, as topics are (a Zipf-ish draw), summing to n
    weights = 1.0 / np.arange(1, n_clusters + 1) ** 0.6
    rng.shuffle(weights)
    assign_all = rng.choice(n_clusters, size=n, p=weights / weights.sum())
    spread = rng.uniform(0.7, 1.4, n_clusters).astype(np.float32)  # per-topic tightness
    out = np.empty((n, dim), dtype=np.float32)
    if kind == "isotropic":
        # centre = a random direction plus a shared one (random centres then meet at cosine ~0.14)
        centers = _normalize(rng.standard_normal((n_clusters, dim), dtype=np.float32) / math.sqrt(dim) + 0.4 * common)
        for s in range(0, n, block):
            e = min(n, s + block)
            a = assign_all[s:e]
            noise = rng.standard_normal((e - s, dim), dtype=np.float32) * (spread[a, None] / math.sqrt(dim))
            out[s:e] = _normalize(centers[a] + noise)
        return out
    if kind != "manifold":
        raise ValueError(f"unknown kind {kind!r}")
    rank = 24
    n_super = max(4, n_clusters // 25)
    supers = _normalize(rng.standard_normal((n_super, dim), dtype=np.float32) / math.sqrt(dim) + 0.4 * common)
    parent = rng.integers(0, n_super, n_clusters)
    centers = _normalize(supers[parent] + 0.9 * rng.standard_normal((n_clusters, dim), dtype=np.float32) / math.sqrt(dim))
    scales = (np.arange(1, rank + 1, dtype=np.float32) ** -0.7)
    scales /= np.linalg.norm(scales)  # E|B z|^2 = 1 before the topic's spread
    order = np.argsort(assign_all, kind="stable")
    bounds = np.searchsorted(assign_all[order], np.arange(n_clusters + 1))
    for c in range(n_clusters):
        members = order[bounds[c] : bounds[c + 1]]
        if len(members) == 0:
            continue
        basis, _ = np.linalg.qr(rng.standard_normal((dim, rank)).astype(np.float32))
        z = rng.standard_normal((len(members), rank), dtype=np.float32) * (scales * 0.85 * spread[c])
        iso = rng.standard_normal((len(members), dim), dtype=np.float32) * (0.25 / math.sqrt(dim))
        out[members] = centers[c] + z @ basis.T + iso
    return _normalize(out)


def perturbed_queries(corpus: np.ndarray, nq: int, noise: float = 0.5, seed: int = 11) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(corpus), size=nq, replace=False)
    q = corpus[pick] + rng.standard_normal((nq, corpus.shape[1]), dtype=np.float32) * (noise / math.sqrt(corpus.shape[1]))
    return _normalize(q.astype(np.float32))


def ground_truth(corpus: np.ndarray, queries: np.ndarray, ids: np.ndarray, k: int = K) -> np.ndarray:
    flat = faiss.IndexFlatIP(corpus.shape[1])
    flat.add(corpus)
    _, idx = flat.search(queries, k)
    del flat
    return ids[idx]


# ---- index choices -----------------------------------------------------------------------------
def ivf_nlist(n: int) -> int:
    """IVF lists ~ sqrt(N) as a power of two, 64..1024 (more lists cost k-means time on 2 cores)."""
    return int(min(1024, max(64, 2 ** round(math.log2(math.sqrt(n))))))


def default_factories(n: int) -> list[dict]:
    """The candidates: exact; HNSW (the current "auto" choice) and HNSW over 8-bit codes; IVF over
    8-bit codes and over PQ codes (no polysemous training: it costs minutes and no recall). HNSW is
    built with efConstruction 40, FAISS's default and what DenseIndex.build gives (1M: ~2 min per
    HNSW index on 2 idle cores)."""
    nl = ivf_nlist(n)
    efc = 40
    # in order of importance: the run skips the last ones if it runs out of its time budget
    return [
        {"label": "Flat", "factory": "Flat"},
        {"label": f"IVF{nl},SQ8", "factory": f"IVF{nl},SQ8", "family": "IVF,SQ8"},
        {"label": "HNSW32,Flat", "factory": "HNSW32,Flat", "efc": efc},
        {"label": f"IVF{nl},PQ48", "factory": f"IVF{nl},PQ48np", "family": "IVF,PQ48"},
        {"label": "HNSW32,SQ8", "factory": "HNSW32,SQ8", "efc": efc},
    ]


def _inner(dense: DenseIndex):
    return faiss.downcast_index(dense.index.index) if hasattr(dense.index, "index") else dense.index


def build(spec: dict, ids: np.ndarray, vecs: np.ndarray, ef_search: int = 64) -> DenseIndex:
    """DenseIndex.build, except that an HNSW efConstruction other than FAISS's default is set
    on the fresh index first (the same train + add_with_ids calls DenseIndex.build makes)."""
    efc = spec.get("efc")
    if efc is None or efc == 40 or "HNSW" not in spec["factory"].upper():
        return DenseIndex.build(vecs.shape[1], spec["factory"], ids, vecs, ef_search=ef_search)
    idx = DenseIndex(vecs.shape[1], spec["factory"], ef_search=ef_search)
    _inner(idx).hnsw.efConstruction = int(efc)
    if not idx.index.is_trained:
        idx.index.train(vecs)
    idx.index.add_with_ids(vecs, ids.astype(np.int64))
    return idx


def _search_all(dense: DenseIndex, queries: np.ndarray, gt: np.ndarray) -> tuple[list[float], float]:
    lat, hits = [], 0
    for q, truth in zip(queries, gt):
        t0 = time.perf_counter()
        _, got = dense.search(q, K)
        lat.append(time.perf_counter() - t0)
        hits += len(set(got.tolist()) & set(truth.tolist()))
    return lat, hits / (len(queries) * K)


def measure(spec: dict, ids: np.ndarray, vecs: np.ndarray, queries: np.ndarray, gt: np.ndarray,
            sweep: bool = True, update: bool = True) -> dict:
    gc.collect()
    rss0 = rss_bytes()
    with Clock() as cb:
        dense = build(spec, ids, vecs)
    rss1 = rss_bytes()
    size = int(faiss.serialize_index(dense.index).nbytes)
    for q in queries[:10]:  # warm-up
        dense.search(q, K)
    lat, recall = _search_all(dense, queries, gt)
    st = ms_stats(lat)
    # the same queries with FAISS's OpenMP limited to one thread: one query has little to split,
    # and on a busy machine the second thread's wake-ups cost more than they save
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        lat1, _ = _search_all(dense, queries, gt)
    finally:
        faiss.omp_set_num_threads(threads)
    st1 = ms_stats(lat1)
    res = {
        "label": spec["label"], "factory": spec["factory"], "family": spec.get("family", spec["label"]),
        "efConstruction": spec.get("efc") if "HNSW" in spec["factory"].upper() else None,
        "build_s": round(cb.wall, 3), "build_cpu_s": round(cb.cpu, 3),
        "serialized_mib": mib(size), "memory_gb": round(size / 1e9, 3),
        "rss_growth_mib": mib(rss1 - rss0) if rss0 is not None and rss1 is not None else None,
        "p50_ms": st["p50_ms"], "p95_ms": st["p95_ms"], "mean_ms": st["mean_ms"], "omp_threads": threads,
        "p50_ms_1thread": st1["p50_ms"], "p95_ms_1thread": st1["p95_ms"],
        "recall_at_10": round(recall, 4), "supports_remove": dense.supports_remove,
    }
    inner = _inner(dense)
    ivf = faiss.try_extract_index_ivf(dense.index)
    if hasattr(inner, "hnsw"):
        res["efSearch"] = inner.hnsw.efSearch
    if ivf is not None:
        res["nprobe"] = ivf.nprobe
    if sweep and (hasattr(inner, "hnsw") or ivf is not None):
        rows = []
        nq = min(len(queries), 200)
        faiss.omp_set_num_threads(1)  # the sweep is about recall; one thread keeps its latencies steady
        try:
            for v in (EF_SWEEP if hasattr(inner, "hnsw") else NPROBE_SWEEP):
                if hasattr(inner, "hnsw"):
                    inner.hnsw.efSearch = v
                else:
                    ivf.nprobe = v
                lat_v, rec_v = _search_all(dense, queries[:nq], gt[:nq])
                s = ms_stats(lat_v)
                rows.append({"value": v, "p50_ms": s["p50_ms"], "p95_ms": s["p95_ms"], "recall_at_10": round(rec_v, 4)})
        finally:
            faiss.omp_set_num_threads(threads)
        res["sweep"] = {"knob": "efSearch" if hasattr(inner, "hnsw") else "nprobe", "threads": 1, "rows": rows}
    if update:
        if dense.supports_remove:
            some = ids[:: max(1, len(ids) // 10)][:10]
            t0 = time.perf_counter()
            dense.remove(some)
            dense.add(some, vecs[:: max(1, len(ids) // 10)][:10])
            res["update_10_s"] = round(time.perf_counter() - t0, 4)
            res["write_path"] = "remove + add in place"
        else:
            res["update_10_s"] = res["build_s"]
            res["write_path"] = "full rebuild (no remove_ids): every HybridIndex.apply rebuilds"
    t = TARGETS
    res["meets_targets"] = (res["p50_ms"] <= t["p50_ms"] and res["recall_at_10"] >= t["recall_at_10"]
                            and res["memory_gb"] <= t["memory_gb"])
    del dense
    gc.collect()
    return res


def run(sizes=(10_000, 100_000, 1_000_000), nq: int = 300, seed: int = 7, factories=None,
        time_budget_s: float = 1500.0, sweep: bool = True, log=print, kind: str = "manifold") -> dict:
    """Measure every factory at every size; a factory is skipped (and said so) once the run has
    used its time budget, so the whole part stays bounded."""
    t_start = time.perf_counter()
    load_before = system_load()
    sizes_out = []
    for n in sizes:
        with Clock() as cg:
            vecs = synthetic(n, seed=seed, kind=kind)
            ids = np.arange(1, n + 1, dtype=np.int64)  # SQLite row ids start at 1
            queries = perturbed_queries(vecs, min(nq, n), seed=seed + 1)
            gt = ground_truth(vecs, queries, ids)
        stats = _data_stats(vecs, queries, gt, ids)
        entry = {"n": n, "queries": len(queries), "data_s": round(cg.wall, 2), "data": stats, "indexes": []}
        for spec in (factories(n) if callable(factories) else factories or default_factories(n)):
            elapsed = time.perf_counter() - t_start
            if elapsed > time_budget_s:
                entry["indexes"].append({"label": spec["label"], "factory": spec["factory"],
                                         "family": spec.get("family", spec["label"]),
                                         "skipped": f"time budget of {time_budget_s:.0f} s used"})
                log(f"  growth n={n:,} {spec['label']}: skipped (time budget)")
                continue
            log(f"  growth n={n:,} {spec['label']} ...")
            r = measure(spec, ids, vecs, queries, gt, sweep=sweep)
            log(f"    build {r['build_s']} s, p50 {r['p50_ms']} ms, recall@10 {r['recall_at_10']}, "
                f"{r['serialized_mib']} MiB")
            entry["indexes"].append(r)
        sizes_out.append(entry)
        del vecs, ids, queries, gt
        gc.collect()
    result = {"dim": DIM, "k": K, "data_kind": kind, "targets_at_1M": TARGETS, "sizes": sizes_out,
              "total_s": round(time.perf_counter() - t_start, 1), "load_before": load_before,
              "load_after": system_load()}
    result["recommendation"] = recommend(result)
    return result


def _data_stats(vecs: np.ndarray, queries: np.ndarray, gt: np.ndarray, ids: np.ndarray) -> dict:
    """How the synthetic neighbourhoods look: cosines of a query to its 1st and 10th neighbour, and
    between random pairs (MiniLM on news: roughly 0.6-0.8, 0.4-0.6 and 0.0-0.3)."""
    rng = np.random.default_rng(0)
    pos = gt - ids[0]
    c1 = np.einsum("ij,ij->i", queries, vecs[pos[:, 0]])
    c10 = np.einsum("ij,ij->i", queries, vecs[pos[:, -1]])
    a, b = rng.integers(0, len(vecs), 2000), rng.integers(0, len(vecs), 2000)
    rnd = np.einsum("ij,ij->i", vecs[a], vecs[b])
    return {"cos_query_nn1": round(float(c1.mean()), 3), "cos_query_nn10": round(float(c10.mean()), 3),
            "cos_random_pairs": round(float(rnd.mean()), 3)}


def recommend(res: dict, dense_budget_ms: float = 3.0) -> dict:
    """The "auto" policy the numbers support: Flat while its single-query p50 fits `dense_budget_ms`
    (Flat is linear in N: the crossing is interpolated; 3 ms is a fifth of a ~15 ms query embedding,
    which leaves room in the 1.5x query budget for BM25, fusion and the answer), then the best
    measured ANN index at the
    largest size (targets met; removable preferred, since HybridIndex.apply updates those in place)."""
    flat = [(s["n"], i["p50_ms"]) for s in res["sizes"] for i in s["indexes"] if i.get("family") == "Flat" and "p50_ms" in i]
    threshold = None
    if flat:
        per_vec = max(p / n for n, p in flat if n >= 10_000) if any(n >= 10_000 for n, _ in flat) else flat[-1][1] / flat[-1][0]
        threshold = int(round(dense_budget_ms / per_vec, -4)) if per_vec > 0 else None
    largest = max(res["sizes"], key=lambda s: s["n"]) if res["sizes"] else None
    choice, why = None, ""
    if largest:
        cands = [i for i in largest["indexes"] if "p50_ms" in i and i.get("family") != "Flat"]
        ok = [i for i in cands if i["meets_targets"]]
        ok.sort(key=lambda i: (not i["supports_remove"], -i["recall_at_10"], i["p50_ms"]))
        if ok:
            choice = ok[0]
            why = "meets every target at the largest size" + (", updates in place" if choice["supports_remove"] else "")
        elif cands:
            cands.sort(key=lambda i: (-(i["recall_at_10"] >= TARGETS["recall_at_10"]), not i["supports_remove"],
                                      i["p50_ms"]))
            choice = cands[0]
            why = "no candidate met every target; closest"
    out = {"dense_budget_ms": dense_budget_ms, "flat_below": threshold,
           "then": choice["factory"] if choice else None, "why": why}
    if choice:
        out["then_at_largest"] = {k: choice.get(k) for k in ("n", "p50_ms", "p95_ms", "recall_at_10", "memory_gb",
                                                             "build_s", "update_10_s", "supports_remove")}
        out["then_at_largest"]["n"] = largest["n"]
    return out


def report(res: dict) -> str:
    from eval.bench.common import table

    rows = []
    for s in res["sizes"]:
        for i in s["indexes"]:
            if "skipped" in i:
                rows.append([f"{s['n']:,}", i["label"], "skipped: " + i["skipped"]] + [None] * 10)
                continue
            knob = f"ef {i['efSearch']}" if "efSearch" in i else f"nprobe {i['nprobe']}" if "nprobe" in i else ""
            rows.append([f"{s['n']:,}", i["label"], knob, i["build_s"], i["serialized_mib"], i["rss_growth_mib"],
                         i["p50_ms"], i["p95_ms"], i["p50_ms_1thread"], i["p95_ms_1thread"], i["recall_at_10"],
                         i["update_10_s"], i["meets_targets"]])
    text = table(["N", "index", "knob", "build s", "size MiB", "RSS+ MiB", "p50 ms", "p95 ms", "p50 1thr",
                  "p95 1thr", "recall@10", "write s", "targets"], rows,
                 f"GROWTH  (384-d clustered unit vectors, single-query top-{res['k']}, recall vs exact; targets at 1M: "
                 f"p50 <= {TARGETS['p50_ms']} ms, recall@10 >= {TARGETS['recall_at_10']}, memory <= "
                 f"{TARGETS['memory_gb']} GB; p50/p95 with FAISS's default threads, '1thr' with one OpenMP thread; "
                 f"'write s' = remove+add of 10 vectors, or a full rebuild for HNSW)")
    sweeps = []
    for s in res["sizes"]:
        for i in s["indexes"]:
            for row in i.get("sweep", {}).get("rows", []):
                sweeps.append([f"{s['n']:,}", i["label"], f"{i['sweep']['knob']} {row['value']}", row["p50_ms"],
                               row["p95_ms"], row["recall_at_10"]])
    if sweeps:
        text += "\n\n" + table(["N", "index", "setting", "p50 ms", "p95 ms", "recall@10"], sweeps,
                               "search-knob sweep (one OpenMP thread)")
    rec = res.get("recommendation") or {}
    if rec.get("flat_below"):
        text += (f"\n\nsuggested auto policy: Flat below ~{rec['flat_below']:,} vectors (Flat p50 reaches "
                 f"{rec['dense_budget_ms']} ms there), then {rec['then']} ({rec['why']})")
    return text


def chart(res: dict, path) -> object:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fams: dict[str, list] = {}
    for s in res["sizes"]:
        for i in s["indexes"]:
            if "p50_ms" in i:
                fams.setdefault(i["family"], []).append((s["n"], i))
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for fam, pts in fams.items():
        pts.sort(key=lambda p: p[0])
        x = [p[0] for p in pts]
        line = axes[0].plot(x, [p[1]["p50_ms"] for p in pts], "o-", label=f"{fam} p50")[0]
        axes[0].plot(x, [p[1]["p95_ms"] for p in pts], "--", color=line.get_color(), alpha=0.6)
        axes[1].plot(x, [p[1]["recall_at_10"] for p in pts], "o-", color=line.get_color(), label=fam)
        axes[2].plot(x, [p[1]["serialized_mib"] for p in pts], "o-", color=line.get_color(), label=fam)
    axes[0].axhline(TARGETS["p50_ms"], color="grey", lw=0.8, ls=":")
    axes[1].axhline(TARGETS["recall_at_10"], color="grey", lw=0.8, ls=":")
    axes[2].axhline(TARGETS["memory_gb"] * 1e9 / 2**20, color="grey", lw=0.8, ls=":")
    for ax, ylabel, title in ((axes[0], "single-query latency (ms; dashed: p95)", "latency vs corpus size"),
                              (axes[1], "recall@10 vs exact", "recall"),
                              (axes[2], "index size (MiB)", "memory")):
        ax.set_xscale("log")
        ax.set_xlabel("vectors (384-d)")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_yscale("log")
    axes[2].set_yscale("log")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
