import sys
from itertools import accumulate

data = sys.stdin.buffer.read().split()
n, q = int(data[0]), int(data[1])
prefix = [0, *accumulate(map(int, data[2:2 + n]))]
bounds = iter(map(int, data[2 + n:]))
# Wrong: leaves a_l out of the sum.
print("\n".join(str(prefix[r] - prefix[l]) for l, r in zip(bounds, bounds)))
