def running_mean(xs: list[float]) -> tuple[float, ...]:
    """Return the mean of each prefix of xs, as a tuple.

    >>> running_mean([1, 2, 3, 4])
    (1.0, 1.5, 2.0, 2.5)
    """
