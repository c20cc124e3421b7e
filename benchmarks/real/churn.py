"""python3 workload of real_bench.py (run with PYTHONMALLOC=malloc, so every object
comes from the allocator under test): records of strings built, sorted, indexed,
dumped to JSON and loaded back.  argv[1]: records per round.  Output: a digest of
everything computed, then "maps <file>" for every mapped file (the preload check)
and the VmHWM line of /proc/self/status (the peak RSS)."""
import hashlib
import json
import random
import sys

n = int(sys.argv[1])
rnd = random.Random(1)
words = ["".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(3, 12))) for _ in range(5000)]
digest = hashlib.sha256()
for r in range(4):
    recs = [{"id": i, "name": rnd.choice(words) + str(i), "tags": [rnd.choice(words) for _ in range(i % 6)],
             "score": i * 0.25} for i in range(n)]
    recs.sort(key=lambda d: (d["name"], d["id"]))
    index = {}
    for d in recs:
        for t in d["tags"]:
            index.setdefault(t, []).append(d["id"])
    text = json.dumps(recs, sort_keys=True)
    back = json.loads(text)
    counts = {}
    for w in " ".join(d["name"] for d in back).split():
        counts[w[:4]] = counts.get(w[:4], 0) + 1
    digest.update(text.encode())
    digest.update(repr(sorted((k, len(v)) for k, v in index.items())).encode())
    digest.update(repr(sorted(counts.items())).encode())
    del recs, index, text, back, counts
print("python", n, digest.hexdigest())
with open("/proc/self/maps") as f:
    for line in f:
        if "/" in line:
            print("maps", line[line.index("/"):].rstrip("\n"))
with open("/proc/self/status") as f:
    print(next(line for line in f if line.startswith("VmHWM:")).rstrip("\n"))
