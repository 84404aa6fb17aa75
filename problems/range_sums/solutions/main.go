package main

import (
	"bufio"
	"os"
	"strconv"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	in.Split(bufio.ScanWords)
	next := func() int64 {
		in.Scan()
		v, _ := strconv.ParseInt(in.Text(), 10, 64)
		return v
	}
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	n, q := int(next()), int(next())
	prefix := make([]int64, n+1)
	for i := 1; i <= n; i++ {
		prefix[i] = prefix[i-1] + next()
	}
	for ; q > 0; q-- {
		l, r := next(), next()
		out.WriteString(strconv.FormatInt(prefix[r]-prefix[l-1], 10))
		out.WriteByte('\n')
	}
}
