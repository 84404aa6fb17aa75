def validate(text):
    lines = text.split("\n")
    n = int(lines[0])
    assert 1 <= n <= 10_000, "1 <= n <= 10^4"
    assert len(lines) >= n + 1, "fewer lines than n"
    for line in lines[1:n + 1]:
        for token in line.split():
            assert abs(int(token)) <= 2**62, "numbers fit in 63 bits"
