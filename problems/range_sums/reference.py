import sys
from itertools import accumulate


def main() -> None:
    data = sys.stdin.buffer.read().split()
    n, q = int(data[0]), int(data[1])
    prefix = [0, *accumulate(map(int, data[2:2 + n]))]
    bounds = iter(map(int, data[2 + n:2 + n + 2 * q]))
    sys.stdout.write("".join(f"{prefix[r] - prefix[l - 1]}\n" for l, r in zip(bounds, bounds)))


main()
