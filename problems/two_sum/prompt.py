def two_sum(nums: list[int], target: int) -> tuple[int, int]:
    """Return the indices (i, j), i < j, of the two numbers in nums that add up to target.

    Exactly one pair adds up to target.
    >>> two_sum([2, 7, 11, 15], 9)
    (0, 1)
    """
