import java.util.Scanner;

public class Main {
    public static void main(String[] args) {
        Scanner in = new Scanner(System.in);
        int n = in.nextInt(), q = in.nextInt();
        int[] prefix = new int[n + 1];  // wrong: sums overflow 32 bits
        for (int i = 1; i <= n; i++) prefix[i] = prefix[i - 1] + in.nextInt();
        StringBuilder out = new StringBuilder();
        for (int i = 0; i < q; i++) {
            int l = in.nextInt(), r = in.nextInt();
            out.append(prefix[r] - prefix[l - 1]).append('\n');
        }
        System.out.print(out);
    }
}
