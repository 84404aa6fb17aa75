def running_mean(xs):
    out, total = [], 0
    for n, x in enumerate(xs, 1):
        total += x
        out.append(float(total // n))
    return tuple(out)
