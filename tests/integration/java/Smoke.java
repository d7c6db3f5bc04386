// Drives the PostgreSQL JDBC driver against a JDBC URL and prints one line of
// key=value pairs. Run as a single-file program:
//   java -cp /usr/share/java/postgresql.jar Smoke.java URL
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;

public class Smoke {
    public static void main(String[] args) throws Exception {
        StringBuilder out = new StringBuilder();
        try (Connection c = DriverManager.getConnection(args[0], "postgres", "")) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TABLE IF NOT EXISTS jdbc_t(id int primary key, v text)");
            }
            c.setAutoCommit(false);
            try (PreparedStatement p = c.prepareStatement("INSERT INTO jdbc_t VALUES (?, ?)")) {
                for (int i = 0; i < 50; i++) {
                    p.setInt(1, i);
                    p.setString(2, "v" + i);
                    p.executeUpdate();
                }
            }
            c.commit();
            try (PreparedStatement p = c.prepareStatement("INSERT INTO jdbc_t VALUES (?, ?)")) {
                for (int i = 100; i < 110; i++) {
                    p.setInt(1, i);
                    p.setString(2, "batch");
                    p.addBatch();
                }
                p.executeBatch();
            }
            c.rollback();
            c.setAutoCommit(true);
            try (PreparedStatement p = c.prepareStatement("SELECT count(*), sum(id) FROM jdbc_t WHERE id < ?")) {
                for (int i = 0; i < 10; i++) {  // past prepareThreshold: server-side statement
                    p.setInt(1, 1000);
                    try (ResultSet r = p.executeQuery()) {
                        r.next();
                        out.append(i == 0 ? "count=" + r.getInt(1) + " sum=" + r.getInt(2) : "");
                    }
                }
            }
            try (Statement s = c.createStatement()) {
                s.executeQuery("SELECT 1/0");
            } catch (SQLException e) {
                out.append(" error=").append(e.getSQLState());
            }
            try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("SELECT 'ok'")) {
                r.next();
                out.append(" after_error=").append(r.getString(1));
            }
        }
        System.out.println(out);
    }
}
