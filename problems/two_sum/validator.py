def validate(nums, target):
    assert isinstance(nums, list) and 2 <= len(nums) <= 100_000, "2..1e5 numbers"
    assert all(isinstance(x, int) and abs(x) <= 2 * 10**9 for x in nums), "ints within 2e9"
    seen = {}
    pairs = 0
    for x in nums:
        pairs += seen.get(target - x, 0)
        seen[x] = seen.get(x, 0) + 1
    assert pairs == 1, f"{pairs} pairs add up to the target, expected exactly one"
