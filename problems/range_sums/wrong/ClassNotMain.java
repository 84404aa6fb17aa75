// Wrong: the judge compiles Main.java, so a public class must be called Main.
public class Solution {
    public static void main(String[] args) {
        System.out.println(0);
    }
}
