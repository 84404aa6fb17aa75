def generate(rng):
    n = rng.randint(1, 200)
    rows = [" ".join(str(rng.randint(-2**40, 2**40)) for _ in range(rng.randint(0, 20)))
            for _ in range(n)]
    return f"{n}\n" + "\n".join(rows) + "\n"
