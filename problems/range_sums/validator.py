def validate(text):
    lines = text.split("\n")
    n, q = map(int, lines[0].split())
    assert 1 <= n <= 10**5 and 1 <= q <= 10**5, "1 <= n, q <= 10^5"
    a = list(map(int, lines[1].split()))
    assert len(a) == n, "n numbers on the second line"
    assert all(abs(x) <= 10**9 for x in a), "|a_i| <= 10^9"
    assert len(lines) >= q + 2, "q query lines"
    for line in lines[2:q + 2]:
        left, right = map(int, line.split())
        assert 1 <= left <= right <= n, "1 <= l <= r <= n"
