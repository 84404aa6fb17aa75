const data = require("fs").readFileSync(0, "utf8").split(/\s+/).filter(Boolean).map(Number);
const [n, q] = data;
// Sums stay below 2^53 (10^5 * 10^9), so doubles hold them exactly.
const prefix = new Array(n + 1).fill(0);
for (let i = 1; i <= n; i++) prefix[i] = prefix[i - 1] + data[1 + i];
const out = [];
for (let k = 0, at = 2 + n; k < q; k++, at += 2) {
  out.push(prefix[data[at + 1]] - prefix[data[at] - 1]);
}
process.stdout.write(out.join("\n") + "\n");
