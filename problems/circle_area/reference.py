import math
import sys

for line in sys.stdin:
    if line.strip():
        print(f"{math.pi * float(line) ** 2:.12f}")
