import sys

lines = sys.stdin.read().split("\n")
n = int(lines[0])
print("\n".join(str(sum(map(int, line.split()))) for line in lines[1:n + 1]))
