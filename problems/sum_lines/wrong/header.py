# Prints a header nobody asked for.
import sys

lines = sys.stdin.read().split("\n")
print("sums:")
for line in lines[1:int(lines[0]) + 1]:
    print(sum(map(int, line.split())))
