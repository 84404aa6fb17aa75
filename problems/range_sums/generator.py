def generate(rng):
    # About a third of the inputs are large, with long ranges: a program that sums each
    # range afresh (O(n q)) runs out of time on them.
    if rng.random() < 0.35:
        n = q = 100_000
        a = [rng.randint(-10**9, 10**9) for _ in range(n)]
        queries = [(rng.randint(1, n // 4), rng.randint(3 * n // 4, n)) for _ in range(q)]
    else:
        n, q = rng.randint(1, 50), rng.randint(1, 50)
        bound = rng.choice([10, 10**9])
        a = [rng.randint(-bound, bound) for _ in range(n)]
        queries = []
        for _ in range(q):
            left = rng.randint(1, n)
            queries.append((left, rng.randint(left, n)))
    lines = [f"{n} {q}", " ".join(map(str, a)), *(f"{l} {r}" for l, r in queries)]
    return "\n".join(lines) + "\n"
