# Wraps around like a 32-bit integer.
import sys

lines = sys.stdin.read().split("\n")
for line in lines[1:int(lines[0]) + 1]:
    s = sum(map(int, line.split())) & 0xFFFFFFFF
    print(s - (1 << 32) if s >= 1 << 31 else s)
