package main

import (
	"bufio"
	"fmt"
	"os"
)

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	var n, q int
	fmt.Fscan(in, &n, &q)
	prefix := make([]int32, n+1) // wrong: sums overflow 32 bits
	for i := 1; i <= n; i++ {
		var x int32
		fmt.Fscan(in, &x)
		prefix[i] = prefix[i-1] + x
	}
	for ; q > 0; q-- {
		var l, r int
		fmt.Fscan(in, &l, &r)
		fmt.Fprintln(out, prefix[r]-prefix[l-1])
	}
}
