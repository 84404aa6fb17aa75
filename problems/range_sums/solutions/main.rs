use std::fmt::Write as _;
use std::io::{self, Read, Write};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut it = input.split_ascii_whitespace().map(|t| t.parse::<i64>().unwrap());
    let (n, q) = (it.next().unwrap() as usize, it.next().unwrap() as usize);
    let mut prefix = vec![0i64; n + 1];
    for i in 1..=n {
        prefix[i] = prefix[i - 1] + it.next().unwrap();
    }
    let mut out = String::new();
    for _ in 0..q {
        let (l, r) = (it.next().unwrap() as usize, it.next().unwrap() as usize);
        writeln!(out, "{}", prefix[r] - prefix[l - 1]).unwrap();
    }
    io::stdout().write_all(out.as_bytes()).unwrap();
}
