#include <cstdio>

int main() {
    int n, q
    std::scanf("%d %d", &n, &q);
}
