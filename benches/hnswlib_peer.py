#!/usr/bin/env python3
"""hnswlib peer benchmark for `cargo bench --bench hnsw`: same data, same parameters.

M=16, ef_construction=200, cosine as inner product on L2-normalised vectors (space='ip'),
build on 2 threads, queries on 1 thread (set_num_threads(1), one batch call per repetition,
so no per-query Python overhead) over the same ef sweep. Recall@10 against the dataset's
ground truth. Appends rows to docs/bench/hnswlib-peer.csv (same columns as
hnsw-recall-qps.csv) and docs/bench/hnswlib-peer-build.csv; the Rust bench draws them
into docs/bench/hnsw-recall-qps.{svg,png} (re-plot alone with MNEMODB_HNSW_PLOT_ONLY=1).

    pip install hnswlib numpy
    python3 benches/hnswlib_peer.py ../shared/datasets/wordnet-minilm-50k
    python3 benches/hnswlib_peer.py /dev/shm/mnemodb-synthetic-1m-96 synthetic-1m-96
"""
import os
import sys
import time

import hnswlib
import numpy as np

EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512]
REPS = 3


def read_vecs(path, dtype):
    raw = np.fromfile(path, dtype=np.int32)
    if raw.size == 0:
        return np.zeros((0, 0), dtype=dtype)
    dim = int(raw[0])
    rows = raw.reshape(-1, dim + 1)
    return rows[:, 1:].copy().view(dtype)


def normalise(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    n[n == 0] = 1
    return (x / n).astype(np.float32)


def recall_at_10(labels, truth):
    hits = 0
    for got, want in zip(labels, truth[:, :10]):
        hits += len(set(got[:10].tolist()) & set(want.tolist()))
    return hits / (10 * len(truth))


DUEL_EFS = [10, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128]


def duel(data_dir, index_path, efs=None):
    """One round for the Rust bench's side-by-side mode: print `set,ef,recall,qps` lines."""
    base = normalise(read_vecs(os.path.join(data_dir, "base.fvecs"), np.float32))
    n, dim = base.shape
    index = hnswlib.Index(space="ip", dim=dim)
    if os.path.exists(index_path):
        index.load_index(index_path, max_elements=n)
    else:
        index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
        index.set_num_threads(2)
        index.add_items(base, np.arange(n))
        index.save_index(index_path)
    index.set_num_threads(1)
    print("set,ef,recall,qps")
    for set_name, q, t in [("query", "query.fvecs", "groundtruth.ivecs"),
                           ("ood", "ood_query.fvecs", "ood_groundtruth.ivecs")]:
        qp, tp = os.path.join(data_dir, q), os.path.join(data_dir, t)
        if not (os.path.exists(qp) and os.path.exists(tp)):
            continue
        queries, truth = normalise(read_vecs(qp, np.float32)), read_vecs(tp, np.int32)
        for ef in efs or DUEL_EFS:
            index.set_ef(ef)
            index.knn_query(queries[:50], k=10, num_threads=1)
            t0 = time.perf_counter()
            labels, _ = index.knn_query(queries, k=10, num_threads=1)
            secs = time.perf_counter() - t0
            print(f"{set_name},{ef},{recall_at_10(labels, truth):.5f},{len(queries) / secs:.1f}")


def build_time(data_dir):
    """One hnswlib build on 2 threads, for the Rust bench's side-by-side build timing."""
    base = normalise(read_vecs(os.path.join(data_dir, "base.fvecs"), np.float32))
    n, dim = base.shape
    index = hnswlib.Index(space="ip", dim=dim)
    index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
    index.set_num_threads(2)
    t = time.perf_counter()
    index.add_items(base, np.arange(n))
    print(f"build,{time.perf_counter() - t:.3f}")


def main():
    if sys.argv[1] == "--build-time":
        build_time(sys.argv[2])
        return
    if sys.argv[1] == "--duel":
        efs = [int(e) for e in sys.argv[4].split(",")] if len(sys.argv) > 4 else None
        duel(sys.argv[2], sys.argv[3], efs)
        return
    data_dir = sys.argv[1]
    name = sys.argv[2] if len(sys.argv) > 2 else os.path.basename(os.path.normpath(data_dir))
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs", "bench")
    os.makedirs(out_dir, exist_ok=True)
    base = normalise(read_vecs(os.path.join(data_dir, "base.fvecs"), np.float32))
    n, dim = base.shape
    sets = []
    for set_name, q, t in [("query", "query.fvecs", "groundtruth.ivecs"),
                           ("ood", "ood_query.fvecs", "ood_groundtruth.ivecs")]:
        qp, tp = os.path.join(data_dir, q), os.path.join(data_dir, t)
        if os.path.exists(qp) and os.path.exists(tp):
            sets.append((set_name, normalise(read_vecs(qp, np.float32)), read_vecs(tp, np.int32)))

    builds = []
    for _ in range(2 if n <= 200_000 else 1):
        index = hnswlib.Index(space="ip", dim=dim)
        index.init_index(max_elements=n, M=16, ef_construction=200, random_seed=100)
        index.set_num_threads(2)
        t = time.perf_counter()
        index.add_items(base, np.arange(n))
        builds.append(time.perf_counter() - t)
    build_s = sorted(builds)[len(builds) // 2] if len(builds) > 2 else min(builds)
    print(f"{name}: hnswlib build (2 threads) {builds} s")
    index.set_num_threads(1)

    rows = []
    for set_name, queries, truth in sets:
        print(f"\n{name} / {set_name}: hnswlib recall@10 vs QPS (1 thread)")
        for ef in EFS:
            index.set_ef(ef)
            index.knn_query(queries, k=10, num_threads=1)  # warm
            times = []
            for _ in range(REPS):
                t = time.perf_counter()
                labels, _ = index.knn_query(queries, k=10, num_threads=1)
                times.append(time.perf_counter() - t)
            qps = len(queries) / sorted(times)[len(times) // 2]
            r = recall_at_10(labels, truth)
            print(f"{ef:>5} {r:8.4f} {qps:10.0f}")
            rows.append(f"{name},{set_name},hnswlib,1,{ef},{r:.5f},{qps:.1f}")

    def merge(path, header, new_rows):
        keep = []
        if os.path.exists(path):
            with open(path) as f:
                keep = [l.rstrip("\n") for l in f.readlines()[1:] if not l.startswith(name + ",")]
        with open(path, "w") as f:
            f.write(header + "\n")
            for l in keep + new_rows:
                f.write(l + "\n")
        print("wrote", path)

    merge(os.path.join(out_dir, "hnswlib-peer.csv"),
          "dataset,query_set,impl,threads,ef,recall_at_10,qps", rows)
    merge(os.path.join(out_dir, "hnswlib-peer-build.csv"),
          "dataset,rows,build_seconds_2t_runs,build_seconds_2t_min",
          [f"{name},{n},{' '.join(f'{b:.2f}' for b in builds)},{min(builds):.2f}"])


if __name__ == "__main__":
    main()
