#include <cstdio>
#include <vector>

int main() {
    int n, q;
    std::scanf("%d %d", &n, &q);
    std::vector<int> prefix(n + 1, 0);  // wrong: sums overflow 32 bits
    for (int i = 1; i <= n; ++i) {
        int x;
        std::scanf("%d", &x);
        prefix[i] = prefix[i - 1] + x;
    }
    while (q--) {
        int l, r;
        std::scanf("%d %d", &l, &r);
        std::printf("%d\n", prefix[r] - prefix[l - 1]);
    }
}
