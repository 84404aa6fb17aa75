use std::io::{self, Read};

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).unwrap();
    let mut it = input.split_ascii_whitespace();
    let n: usize = it.next().unwrap().parse().unwrap();
    let q: usize = it.next().unwrap().parse().unwrap();
    // Wrong: i32 sums wrap around in a release build.
    let mut prefix = vec![0i32; n + 1];
    for i in 1..=n {
        prefix[i] = prefix[i - 1].wrapping_add(it.next().unwrap().parse::<i32>().unwrap());
    }
    for _ in 0..q {
        let l: usize = it.next().unwrap().parse().unwrap();
        let r: usize = it.next().unwrap().parse().unwrap();
        println!("{}", prefix[r].wrapping_sub(prefix[l - 1]));
    }
}
