use std::io::{self, Read};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let v: Vec<i64> = input.split_ascii_whitespace().map(|t| t.parse().unwrap()).collect();
    let (n, q) = (v[0] as usize, v[1] as usize);
    // Wrong: one slot short, so a query that ends at n panics (index out of bounds).
    let mut prefix = vec![0i64; n];
    for i in 1..=n {
        prefix[i] = prefix[i - 1] + v[1 + i];
    }
    for k in 0..q {
        let (l, r) = (v[2 + n + 2 * k] as usize, v[3 + n + 2 * k] as usize);
        println!("{}", prefix[r] - prefix[l - 1]);
    }
}
