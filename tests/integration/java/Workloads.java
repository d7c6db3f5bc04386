// Flyway-style migrations over JDBC, run by test_workloads.py on PostgreSQL directly and through
// pgmux. Two migrators start together; each polls pg_try_advisory_lock (a PreparedStatement, as
// Flyway does), and the winner applies the pending migrations, one transaction each (SET LOCAL
// lock_timeout, DDL and data, a schema_history row), as the role its init SQL sets, while holding
// the session lock; then it unlocks. The other migrator gets the lock afterwards and finds nothing
// left to do. Meanwhile a reader (Hibernate-like: serializable isolation set on the connection, a
// read-only transaction) queries the table and must never see a migration half applied. At the end
// another connection takes the lock at once: nothing was left behind.
// Prints key=value lines, sorted.
//   java -cp postgresql.jar Workloads.java JDBC_URL ROLE
import java.sql.*;
import java.util.*;
import java.util.concurrent.*;

public class Workloads {
    static final long KEY = 7_342_001L;
    static final String[] MIGRATIONS = {
        "CREATE TABLE app.customer (id int PRIMARY KEY, name text)",
        "ALTER TABLE app.customer ADD COLUMN email text; CREATE INDEX customer_email ON app.customer (email)",
        "INSERT INTO app.customer SELECT g, 'c' || g, 'c' || g || '@example.com' FROM generate_series(1, 50) g",
        "UPDATE app.customer SET email = upper(email) WHERE id % 2 = 0",
    };
    static String url, role;
    static volatile boolean migrating = true;

    static Connection open(String app) throws SQLException {
        Properties p = new Properties();
        p.setProperty("user", "postgres");
        p.setProperty("ApplicationName", app);
        return DriverManager.getConnection(url, p);
    }

    static long one(PreparedStatement ps, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) ps.setObject(i + 1, args[i]);
        try (ResultSet r = ps.executeQuery()) {
            r.next();
            Object v = r.getObject(1);
            return v instanceof Boolean ? ((Boolean) v ? 1 : 0) : ((Number) v).longValue();
        }
    }

    // "name:applied:pid_stable:unlocked:waited:user"
    static String migrate(String name, CountDownLatch start) throws Exception {
        try (Connection c = open(name)) {
            Statement s = c.createStatement();
            s.execute("SET ROLE " + role);  // Flyway's initSql
            PreparedStatement lock = c.prepareStatement("SELECT pg_try_advisory_lock(?)");
            start.countDown();
            start.await();
            boolean waited = false;
            while (one(lock, KEY) == 0) {
                waited = true;
                Thread.sleep(20);
            }
            PreparedStatement pid = c.prepareStatement("SELECT pg_backend_pid()");
            long myPid = one(pid);
            boolean pidStable = true;
            s.execute("CREATE TABLE IF NOT EXISTS app.schema_history (version int PRIMARY KEY, "
                      + "installed_by text, app text)");
            PreparedStatement done = c.prepareStatement("SELECT count(*) FROM app.schema_history WHERE version = ?");
            PreparedStatement record = c.prepareStatement(
                "INSERT INTO app.schema_history VALUES (?, current_user, current_setting('application_name'))");
            int applied = 0;
            c.setAutoCommit(false);
            for (int v = 1; v <= MIGRATIONS.length; v++) {
                if (one(done, v) > 0) {
                    c.commit();
                    continue;
                }
                s.execute("SET LOCAL lock_timeout = '5s'");
                s.execute(MIGRATIONS[v - 1]);
                record.setInt(1, v);
                record.executeUpdate();
                c.commit();
                applied++;
                Thread.sleep(40);  // the reader and the other migrator run meanwhile
                pidStable &= one(pid) == myPid;
                c.commit();
            }
            c.setAutoCommit(true);
            long unlocked = one(c.prepareStatement("SELECT pg_advisory_unlock(?)"), KEY);
            ResultSet u = s.executeQuery("SELECT current_user");
            u.next();
            return name + ":" + applied + ":" + pidStable + ":" + (unlocked == 1) + ":" + waited + ":"
                + (u.getString(1).equals(role) ? "role" : u.getString(1));
        }
    }

    // "polls:anomalies:isolation:read_only_error"
    static String read() throws Exception {
        try (Connection c = open("reader")) {
            c.setTransactionIsolation(Connection.TRANSACTION_SERIALIZABLE);
            PreparedStatement q = c.prepareStatement(
                "SELECT (SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('app.customer') "
                + "AND attname = 'email'), (SELECT count(*) FROM app.schema_history), "
                + "current_setting('transaction_isolation')");
            int polls = 0, anomalies = 0;
            String iso = "";
            while (migrating || polls < 3) {
                try (ResultSet r = q.executeQuery()) {
                    r.next();
                    // Migration 2 adds the column and its history row in one transaction.
                    if ((r.getLong(1) == 1) != (r.getLong(2) >= 2)) anomalies++;
                    iso = r.getString(3);
                } catch (SQLException e) {
                    if (!"42P01".equals(e.getSQLState())) throw e;  // before migration 1
                }
                polls++;
                Thread.sleep(15);
            }
            c.setAutoCommit(false);
            c.setReadOnly(true);
            String roError = "none";
            try {
                c.createStatement().execute("DELETE FROM app.customer");
            } catch (SQLException e) {
                roError = e.getSQLState();
            }
            c.rollback();
            return (polls > 3) + ":" + anomalies + ":" + iso + ":" + roError;
        }
    }

    public static void main(String[] a) throws Exception {
        url = a[0];
        role = a[1];
        Map<String, String> out = new TreeMap<>();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        CountDownLatch start = new CountDownLatch(2);
        Future<String> reader = pool.submit(Workloads::read);
        List<Future<String>> migrators = new ArrayList<>();
        for (String name : new String[] {"migrator1", "migrator2"}) migrators.add(pool.submit(() -> migrate(name, start)));
        List<String> results = new ArrayList<>();
        for (Future<String> f : migrators) results.add(f.get(60, TimeUnit.SECONDS));
        migrating = false;
        out.put("reader", reader.get(60, TimeUnit.SECONDS));
        pool.shutdown();
        // Exactly one migrator applied everything; the other waited for the lock and applied none.
        results.sort(Comparator.comparing((String r) -> r.split(":")[1]));
        out.put("idle_migrator", results.get(0).substring(results.get(0).indexOf(':') + 1));
        out.put("busy_migrator", results.get(1).substring(results.get(1).indexOf(':') + 1));
        try (Connection c = open("after")) {
            out.put("lock_free", String.valueOf(one(c.prepareStatement("SELECT pg_try_advisory_lock(?)"), KEY)));
            one(c.prepareStatement("SELECT pg_advisory_unlock(?)"), KEY);
            ResultSet r = c.createStatement().executeQuery(
                "SELECT string_agg(version || '/' || installed_by || '/' || app, ',' ORDER BY version), "
                + "(SELECT count(*) || '/' || count(*) FILTER (WHERE email = upper(email)) FROM app.customer) "
                + "FROM app.schema_history");
            r.next();
            String busy = results.get(1).split(":")[0];
            out.put("history", r.getString(1).replace(role, "role").replace(busy, "busy"));
            out.put("customers", r.getString(2));
        }
        out.forEach((k, v) -> System.out.println(k + "=" + v));
    }
}
