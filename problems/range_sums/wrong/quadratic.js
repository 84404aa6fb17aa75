const data = require("fs").readFileSync(0, "utf8").split(/\s+/).filter(Boolean).map(Number);
const [n, q] = data;
const a = data.slice(2, 2 + n);
const out = [];
// Wrong: sums every range afresh, O(n * q): too slow on large inputs.
for (let k = 0, at = 2 + n; k < q; k++, at += 2) {
  let s = 0;
  for (let i = data[at] - 1; i < data[at + 1]; i++) s += a[i];
  out.push(s);
}
console.log(out.join("\n"));
