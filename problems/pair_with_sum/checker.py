"""Custom checker: python checker.py INPUT OUTPUT ANSWER; exit 0 accepts, 1 rejects."""
import sys


def reject(why):
    print(why)
    sys.exit(1)


with open(sys.argv[1]) as f:
    n, t = map(int, f.readline().split())
    a = list(map(int, f.readline().split()))
with open(sys.argv[3]) as f:
    exists = f.read().split() != ["-1"]
with open(sys.argv[2], errors="replace") as f:
    got = f.read().split()
if got == ["-1"]:
    if exists:
        reject("a pair exists, got -1")
    sys.exit(0)
if len(got) != 2 or not all(g.lstrip("-").isdigit() for g in got):
    reject(f"expected two positions or -1, got {' '.join(got)[:80]!r}")
i, j = map(int, got)
if not (1 <= i <= n and 1 <= j <= n and i != j):
    reject(f"positions {i} {j} are not two different positions in 1..{n}")
if a[i - 1] + a[j - 1] != t:
    reject(f"a[{i}] + a[{j}] = {a[i - 1] + a[j - 1]}, not {t}")
if not exists:
    reject("found a pair the reference did not")
sys.exit(0)
