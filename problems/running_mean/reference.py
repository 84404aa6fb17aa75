def running_mean(xs: list[float]) -> tuple[float, ...]:
    out = []
    total = 0.0
    for n, x in enumerate(xs, 1):
        total += x
        out.append(total / n)
    return tuple(out)
