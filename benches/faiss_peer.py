#!/usr/bin/env python3
"""faiss peer for benches/benches/ivf.rs: IndexIVFFlat and IndexIVFScalarQuantizer (QT_8bit)
(and QT_fp16 for IVF-F16) on the same data, same nlist, same k-means budget (10 iterations, 48 points per centroid,
spherical, inner product on unit vectors = cosine ranking), built with 2 OpenMP threads,
searched with 1 thread over the same nprobe sweep. Writes docs/bench/ivf-faiss-peer.csv
(same columns as docs/bench/ivf-recall-qps.csv) and docs/bench/ivf-faiss-peer-build.csv,
then prints QPS ratios at equal recall against ivf-recall-qps.csv (run the Rust bench
first, right before this script, on the same machine). faiss gets every query in one
`index.search` call, like `mnemodb-ivf-*` (one `search_batch` call on a 1-thread pool);
`mnemodb-ivf-flat-1by1` is one `search` call per query.

    pip install faiss-cpu numpy
    MNEMODB_DATASET=/work/shared/datasets/wordnet-minilm-50k python3 benches/faiss_peer.py
"""
import os
import sys
import time

import faiss
import numpy as np

NPROBES = [1, 2, 4, 8, 12, 16, 32, 64]
REPS = 3
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "docs", "bench")


def fvecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].view(np.float32).copy()


def ivecs(path):
    a = np.fromfile(path, dtype=np.int32)
    d = a[0]
    return a.reshape(-1, d + 1)[:, 1:].copy()


def recall10(found, truth):
    hit = 0
    for f, t in zip(found, truth):
        hit += len(set(f[:10].tolist()) & set(t[:10].tolist()))
    return hit / (10 * len(truth))


def build(kind, base, nlist):
    d = base.shape[1]
    quantizer = faiss.IndexFlatIP(d)
    if kind == "ivf-flat":
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    elif kind == "ivf-f16":
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, d, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
        )
    else:
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
    index.cp.niter = 10
    index.cp.max_points_per_centroid = 48
    index.cp.spherical = True
    index.cp.seed = 0x5EED
    t = time.perf_counter()
    index.train(base)
    train = time.perf_counter() - t
    t = time.perf_counter()
    index.add(base)
    add = time.perf_counter() - t
    return index, quantizer, train, add


def qps_at(rows, target):
    """QPS at recall `target` by linear interpolation over the sweep (None if never reached)."""
    rows = sorted(rows)
    for (r0, q0), (r1, q1) in zip(rows, rows[1:]):
        if r0 <= target <= r1 and r1 > r0:
            return q0 + (q1 - q0) * (target - r0) / (r1 - r0)
    for r, q in rows:
        if abs(r - target) < 1e-9:
            return q
    return None


def main():
    ddir = os.environ.get("MNEMODB_DATASET")
    if not ddir:
        sys.exit("set MNEMODB_DATASET")
    name = os.path.basename(os.path.normpath(ddir))
    base = fvecs(os.path.join(ddir, "base.fvecs"))
    sets = [("query", fvecs(os.path.join(ddir, "query.fvecs")), ivecs(os.path.join(ddir, "groundtruth.ivecs")))]
    if os.path.exists(os.path.join(ddir, "ood_query.fvecs")):
        sets.append(("ood_query", fvecs(os.path.join(ddir, "ood_query.fvecs")),
                     ivecs(os.path.join(ddir, "ood_groundtruth.ivecs"))))
    nlist = min(900, max(1, round(4 * len(base) ** 0.5)))
    print(f"faiss {faiss.__version__}, {name}: {base.shape[0]} x {base.shape[1]}, nlist {nlist}")
    rec = ["dataset,query_set,impl,threads,nprobe,recall_at_10,qps"]
    bld = ["dataset,impl,threads,nlist,train_s,add_s,total_s,code_bytes_per_vector"]
    curves = {}
    for kind in ["ivf-flat", "ivf-sq8", "ivf-f16"]:
        faiss.omp_set_num_threads(2)
        index, _q, train, add = build(kind, base, nlist)
        code = index.code_size
        print(f"{kind}: train {train:.2f} s, add {add:.2f} s (2 threads), {code} code bytes/vector (+8 id)")
        bld.append(f"{name},faiss-{kind},2,{nlist},{train:.3f},{add:.3f},{train + add:.3f},{code}")
        faiss.omp_set_num_threads(1)
        for sname, q, gt in sets:
            for nprobe in NPROBES:
                index.nprobe = nprobe
                best = float("inf")
                for _ in range(REPS):
                    t = time.perf_counter()
                    _, ids = index.search(q, 10)
                    best = min(best, time.perf_counter() - t)
                r = recall10(ids, gt)
                qps = len(q) / best
                curves.setdefault((sname, f"faiss-{kind}"), []).append((r, qps))
                rec.append(f"{name},{sname},faiss-{kind},1,{nprobe},{r:.5f},{qps:.1f}")
                print(f"  {sname:<9} nprobe {nprobe:>3}: recall@10 {r:.4f}, {qps:>8.0f} QPS")
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "ivf-faiss-peer.csv"), "w") as f:
        f.write("\n".join(rec) + "\n")
    with open(os.path.join(OUT, "ivf-faiss-peer-build.csv"), "w") as f:
        f.write("\n".join(bld) + "\n")
    ours = os.path.join(OUT, "ivf-recall-qps.csv")
    if os.path.exists(ours):
        for line in open(ours).read().splitlines()[1:]:
            f = line.split(",")
            if f[0] == name:
                curves.setdefault((f[1], f[2]), []).append((float(f[5]), float(f[6])))
        print("\nsingle-thread QPS at equal recall@10 (interpolated), mnemodb / faiss:")
        for sname, _, _ in sets:
            for target in [0.80, 0.85, 0.90]:
                parts = []
                for ours_k, theirs_k in [
                    ("mnemodb-ivf-flat", "faiss-ivf-flat"),
                    ("mnemodb-ivf-flat-1by1", "faiss-ivf-flat"),
                    ("mnemodb-ivf-flat-centroids", "faiss-ivf-flat"),
                    ("mnemodb-ivf-sq8", "faiss-ivf-sq8"),
                    ("mnemodb-ivf-f16", "faiss-ivf-f16"),
                ]:
                    a = qps_at(curves.get((sname, ours_k), []), target)
                    b = qps_at(curves.get((sname, theirs_k), []), target)
                    if a and b:
                        parts.append(f"{ours_k}: {a:.0f} vs {b:.0f} = {a / b:.2f}x")
                    else:
                        parts.append(f"{ours_k}: n/a")
                print(f"  {sname:<9} recall {target:.2f}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
