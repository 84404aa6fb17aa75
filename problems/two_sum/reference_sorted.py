def two_sum(nums: list[int], target: int) -> tuple[int, int]:
    order = sorted(range(len(nums)), key=nums.__getitem__)
    lo, hi = 0, len(order) - 1
    while lo < hi:
        s = nums[order[lo]] + nums[order[hi]]
        if s == target:
            i, j = order[lo], order[hi]
            return (min(i, j), max(i, j))
        if s < target:
            lo += 1
        else:
            hi -= 1
    raise ValueError("no pair")
