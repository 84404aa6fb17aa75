# Correct but O(n^2): too slow for the generated inputs of 20,000 numbers.
def two_sum(nums, target):
    for i in range(len(nums)):
        for j in range(i + 1, len(nums)):
            if nums[i] + nums[j] == target:
                return (i, j)
