// Drives the PostgreSQL JDBC driver's prepared statements (server-side named
// statements S_n, batches, fetch-size portals, threads, errors, DDL) against a
// JDBC URL and prints what it saw as sorted key=value lines, one scenario per
// argument after the URL. Used by test_prepared_jdbc_node.py:
//   java -cp /usr/share/java/postgresql.jar Prepared.java URL basic fetch ...
// A scenario that throws unexpectedly reports SCENARIO.failed=... and the
// others still run, so one failure does not hide the rest.
import java.sql.BatchUpdateException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.postgresql.PGStatement;

public class Prepared {
    static String url;
    static final Map<String, String> out = new TreeMap<>();

    static synchronized void put(String key, Object value) {
        out.put(key, String.valueOf(value));
    }

    static Connection connect() throws SQLException {
        return DriverManager.getConnection(url, "postgres", "");
    }

    static void exec(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute(sql);
        }
    }

    static long scalar(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(sql)) {
            r.next();
            return r.getLong(1);
        }
    }

    static String state(SQLException e) {
        return e.getSQLState() == null ? "null:" + e.getMessage() : e.getSQLState();
    }

    /** Column names and all rows of a result: "a,b|1,7|2,7". */
    static String table(ResultSet r) throws SQLException {
        ResultSetMetaData md = r.getMetaData();
        StringJoiner cols = new StringJoiner(",");
        for (int i = 1; i <= md.getColumnCount(); i++) cols.add(md.getColumnName(i));
        StringJoiner all = new StringJoiner("|");
        all.add(cols.toString());
        while (r.next()) {
            StringJoiner row = new StringJoiner(",");
            for (int i = 1; i <= md.getColumnCount(); i++) row.add(r.getString(i));
            all.add(row.toString());
        }
        return all.toString();
    }

    static boolean serverPrepared(PreparedStatement p) throws SQLException {
        return p.unwrap(PGStatement.class).isUseServerPrepare();
    }

    // A batch insert of 100 rows, then a grouped SELECT run 14 times: past
    // prepareThreshold both are named server statements.
    static void basic(Connection c) throws SQLException {
        exec(c, "CREATE TABLE items(id int PRIMARY KEY, grp int NOT NULL, v text NOT NULL)");
        try (PreparedStatement ins = c.prepareStatement("INSERT INTO items VALUES (?, ?, ?)")) {
            for (int i = 0; i < 100; i++) {
                ins.setInt(1, i);
                ins.setInt(2, i % 7);
                ins.setString(3, "v" + i);
                ins.addBatch();
            }
            put("basic.inserted", Arrays.stream(ins.executeBatch()).sum());
        }
        try (PreparedStatement sel = c.prepareStatement(
                "SELECT count(*), sum(id), max(v) FROM items WHERE grp = ?")) {
            for (int round = 0; round < 2; round++) {
                StringJoiner groups = new StringJoiner(";");
                for (int g = 0; g < 7; g++) {
                    sel.setInt(1, g);
                    try (ResultSet r = sel.executeQuery()) {
                        r.next();
                        groups.add(r.getInt(1) + ":" + r.getLong(2) + ":" + r.getString(3));
                    }
                }
                put("basic.round" + round, groups);
            }
            put("basic.server_prepared", serverPrepared(sel));
        }
    }

    // autocommit off + setFetchSize(10): JDBC binds a named portal and
    // executes it 10 rows at a time (PortalSuspended, Execute again). In the
    // middle of each portal another prepared statement runs.
    static void fetch(Connection c) throws SQLException {
        c.setAutoCommit(false);
        try (PreparedStatement sel = c.prepareStatement("SELECT id, v FROM items WHERE id >= ? ORDER BY id");
             PreparedStatement other = c.prepareStatement("SELECT count(*) FROM items WHERE id < ?")) {
            sel.setFetchSize(10);
            for (int k = 0; k < 6; k++) {
                sel.setInt(1, k * 5);
                long rows = 0, sum = 0, mid = -1;
                boolean textsMatch = true;
                try (ResultSet r = sel.executeQuery()) {
                    while (r.next()) {
                        rows++;
                        sum += r.getInt(1);
                        textsMatch &= r.getString(2).equals("v" + r.getInt(1));
                        if (rows == 15) {  // second chunk of the portal: run something else
                            other.setInt(1, r.getInt(1));
                            try (ResultSet o = other.executeQuery()) {
                                o.next();
                                mid = o.getLong(1);
                            }
                        }
                    }
                }
                c.commit();
                put("fetch." + k, rows + ":" + sum + ":" + mid + ":" + textsMatch);
            }
            put("fetch.server_prepared", serverPrepared(sel));
        } finally {
            c.setAutoCommit(true);
        }
    }

    static String batch(PreparedStatement p, int... ids) throws SQLException {
        for (int id : ids) {
            p.setInt(1, id);
            p.addBatch();
        }
        try {
            return "ok:" + Arrays.stream(p.executeBatch()).sum();
        } catch (BatchUpdateException e) {
            SQLException cause = e.getNextException() != null ? e.getNextException() : e;
            return "error:" + state(cause) + ":" + e.getUpdateCounts().length;
        }
    }

    static String rows(Connection c) throws SQLException {
        return scalar(c, "SELECT count(*) FROM uniq") + ":" + scalar(c, "SELECT coalesce(sum(id), 0) FROM uniq");
    }

    // A unique violation in the middle of a batch, then more statements on
    // the same connection, in autocommit mode and inside a transaction.
    static void batcherr(Connection c) throws SQLException {
        exec(c, "CREATE TABLE uniq(id int PRIMARY KEY)");
        try (PreparedStatement ins = c.prepareStatement("INSERT INTO uniq VALUES (?)");
             PreparedStatement sel = c.prepareStatement("SELECT count(*) FROM uniq WHERE id < ?")) {
            put("batcherr.warm", batch(ins, 1000, 1001, 1002, 1003, 1004, 1005));
            put("batcherr.auto", batch(ins, 1, 2, 3, 4, 5, 3, 6, 7));
            put("batcherr.auto_rows", rows(c));
            put("batcherr.auto_again", batch(ins, 10, 11, 12, 13, 14, 15, 16, 17));
            put("batcherr.auto_again_rows", rows(c));
            c.setAutoCommit(false);
            put("batcherr.tx", batch(ins, 20, 21, 10, 22));
            try {
                sel.setInt(1, 100);
                sel.executeQuery().close();
                put("batcherr.tx_after_error", "ok");
            } catch (SQLException e) {
                put("batcherr.tx_after_error", state(e));
            }
            c.rollback();
            put("batcherr.tx_again", batch(ins, 20, 21, 22));
            c.commit();
            c.setAutoCommit(true);
            put("batcherr.tx_rows", rows(c));
            // Plain statements in a batch: different texts, error in the middle.
            try (Statement s = c.createStatement()) {
                s.addBatch("INSERT INTO uniq VALUES (100)");
                s.addBatch("INSERT INTO uniq VALUES (1000)");
                s.addBatch("INSERT INTO uniq VALUES (101)");
                try {
                    s.executeBatch();
                    put("batcherr.plain", "ok");
                } catch (BatchUpdateException e) {
                    put("batcherr.plain", "error:" + state(e.getNextException() != null ? e.getNextException() : e));
                }
            }
            StringJoiner counts = new StringJoiner(",");
            for (int limit : new int[] {15, 25, 200, 2000, 15, 25, 200}) {
                sel.setInt(1, limit);
                try (ResultSet r = sel.executeQuery()) {
                    r.next();
                    counts.add(String.valueOf(r.getLong(1)));
                }
            }
            put("batcherr.counts", counts);
            put("batcherr.final_rows", rows(c));
        }
    }

    static String run(PreparedStatement p) {
        try (ResultSet r = p.executeQuery()) {
            return table(r);
        } catch (SQLException e) {
            return "error:" + state(e);
        }
    }

    // DDL between uses of a server-prepared SELECT *: ALTER TABLE ADD COLUMN,
    // then the same statement on this connection and on another one, in
    // autocommit mode and inside a transaction.
    static void ddl(Connection c) throws SQLException {
        exec(c, "CREATE TABLE d(a int)");
        exec(c, "INSERT INTO d VALUES (1)");
        try (Connection c2 = connect();
             PreparedStatement p1 = c.prepareStatement("SELECT * FROM d");
             PreparedStatement p2 = c2.prepareStatement("SELECT * FROM d");
             PreparedStatement ping = c.prepareStatement("SELECT 1")) {
            Set<String> before = new LinkedHashSet<>();  // the distinct answers
            for (int i = 0; i < 6; i++) before.add(run(p1) + " " + run(p2));
            put("ddl.before", String.join(";", before));
            put("ddl.server_prepared", serverPrepared(p1) + "," + serverPrepared(p2));
            exec(c, "ALTER TABLE d ADD COLUMN b int DEFAULT 7");
            for (int i = 0; i < 3; i++) put("ddl.auto_c1_" + i, run(p1));
            for (int i = 0; i < 3; i++) put("ddl.auto_c2_" + i, run(p2));
            // Inside a transaction of c: the DDL comes from c2 after c began
            // (c must not touch d before, or the ALTER would wait for it).
            c.setAutoCommit(false);
            run(ping);
            exec(c2, "ALTER TABLE d ADD COLUMN c text DEFAULT 'x'");
            for (int i = 0; i < 2; i++) put("ddl.tx_" + i, run(p1));
            c.rollback();
            put("ddl.tx_after_rollback", run(p1));
            c.commit();
            c.setAutoCommit(true);
            put("ddl.after_c2", run(p2));
        }
    }

    static final int ROLLBACK_CONNECTIONS = 4, ROLLBACK_CYCLES = 7;

    // Errors inside transactions, each followed by rollback() and more work,
    // on several connections in turn (they share the pool's servers). JDBC
    // prepares its own BEGIN/ROLLBACK/COMMIT as named statements from their
    // first use, whatever prepareThreshold, so it parses ROLLBACK while the
    // transaction is aborted.
    static void rollbacks(Connection setup) throws SQLException {
        List<Connection> conns = new ArrayList<>();
        List<PreparedStatement> divs = new ArrayList<>();
        List<StringJoiner> seen = new ArrayList<>();
        boolean[] stuck = new boolean[ROLLBACK_CONNECTIONS];
        try {
            for (int j = 0; j < ROLLBACK_CONNECTIONS; j++) {
                Connection c = connect();
                conns.add(c);
                c.setAutoCommit(false);
                divs.add(c.prepareStatement("SELECT 100 / ?"));
                seen.add(new StringJoiner(","));
            }
            for (int i = 0; i < ROLLBACK_CYCLES; i++) {
                for (int j = 0; j < ROLLBACK_CONNECTIONS; j++) {
                    if (stuck[j]) continue;
                    Connection c = conns.get(j);
                    PreparedStatement div = divs.get(j);
                    String step = "query";
                    try {
                        String failed;
                        div.setInt(1, 0);
                        try (ResultSet r = div.executeQuery()) {
                            r.next();
                            failed = "no error " + r.getInt(1);
                        } catch (SQLException e) {
                            failed = state(e);
                        }
                        step = "rollback";
                        c.rollback();
                        step = "query after rollback";
                        div.setInt(1, i + j + 1);
                        try (ResultSet r = div.executeQuery()) {
                            r.next();
                            seen.get(j).add(failed + ":" + r.getInt(1));
                        }
                        step = "commit";
                        c.commit();
                    } catch (SQLException e) {
                        // The connection may be stuck in its aborted transaction,
                        // holding a server: close it so the others can go on.
                        seen.get(j).add("cycle " + i + " " + step + " failed: " + state(e) + " " + e.getMessage());
                        stuck[j] = true;
                        c.close();
                    }
                }
            }
        } finally {
            for (int j = 0; j < conns.size(); j++) {
                put("rollbacks.c" + j, seen.get(j));
                conns.get(j).close();
            }
        }
    }

    static final int THREADS = 8, ITERATIONS = 24;

    // THREADS connections, each its own thread, interleaving transactions over
    // a small pool. Each thread prepares its statements in a different order,
    // so the same client-side name S_n means different statements on
    // different connections. Iteration i: i%4==0 a transaction, 1 autocommit
    // statements, 2 a transaction that also reads a fetch-size portal, 3 a
    // transaction rolled back. One statement's text is the thread's own, so
    // only its client ever parses it: on the other server it must be parsed
    // again.
    static void threads(Connection setup) throws Exception {
        exec(setup, "CREATE TABLE tlog(thread int, iter int, val int, PRIMARY KEY (thread, iter))");
        exec(setup, "CREATE TABLE tcount(thread int PRIMARY KEY, n int NOT NULL)");
        exec(setup, "INSERT INTO tcount SELECT g, 0 FROM generate_series(0, " + (THREADS - 1) + ") g");
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        List<Future<String>> results = new ArrayList<>();
        for (int t = 0; t < THREADS; t++) {
            final int thread = t;
            results.add(pool.submit(() -> worker(thread)));
        }
        StringJoiner problems = new StringJoiner("; ");
        for (Future<String> f : results) {
            String p = f.get();
            if (!p.isEmpty()) problems.add(p);
        }
        pool.shutdown();
        put("threads.problems", problems.length() == 0 ? "none" : problems);
        try (Statement s = setup.createStatement();
             ResultSet r = s.executeQuery("SELECT l.thread, count(*), sum(l.val), min(c.n) FROM tlog l"
                     + " JOIN tcount c USING (thread) GROUP BY l.thread ORDER BY l.thread")) {
            while (r.next()) put("threads.t" + r.getInt(1), r.getLong(2) + ":" + r.getLong(3) + ":" + r.getLong(4));
        }
    }

    static String worker(int thread) {
        String[] texts = {
            "INSERT INTO tlog VALUES (?, ?, ?)",
            "UPDATE tcount SET n = n + ? WHERE thread = ? RETURNING n",
            "SELECT count(*), coalesce(sum(val), 0) FROM tlog WHERE thread = ?",
            "SELECT val FROM tlog WHERE thread = ? ORDER BY iter",
            "SELECT count(*) FROM tlog WHERE thread = ? AND val >= " + thread * 1000,
        };
        PreparedStatement[] ps = new PreparedStatement[texts.length];
        StringJoiner problems = new StringJoiner(", ");
        try (Connection c = connect()) {
            for (int k = 0; k < texts.length; k++) {  // rotated order
                int q = (k + thread) % texts.length;
                ps[q] = c.prepareStatement(texts[q]);
            }
            ps[3].setFetchSize(10);
            long committedN = 0, committedRows = 0, committedSum = 0;
            for (int i = 0; i < ITERATIONS; i++) {
                int kind = i % 4;
                int val = thread * 1000 + i;
                c.setAutoCommit(kind == 1);
                ps[0].setInt(1, thread);
                ps[0].setInt(2, i);
                ps[0].setInt(3, val);
                ps[0].executeUpdate();
                ps[1].setInt(1, i);
                ps[1].setInt(2, thread);
                long n;
                try (ResultSet r = ps[1].executeQuery()) {
                    r.next();
                    n = r.getLong(1);
                }
                ps[2].setInt(1, thread);
                long rows, sum;
                try (ResultSet r = ps[2].executeQuery()) {
                    r.next();
                    rows = r.getLong(1);
                    sum = r.getLong(2);
                }
                ps[4].setInt(1, thread);
                long own;
                try (ResultSet r = ps[4].executeQuery()) {
                    r.next();
                    own = r.getLong(1);
                }
                if (n != committedN + i || rows != committedRows + 1 || sum != committedSum + val || own != rows) {
                    problems.add("thread " + thread + " iter " + i + ": n=" + n + " rows=" + rows + "/" + own + " sum=" + sum
                            + " expected " + (committedN + i) + "/" + (committedRows + 1) + "/" + (committedSum + val));
                }
                if (kind == 2) {  // the portal sees this transaction's rows too
                    ps[3].setInt(1, thread);
                    long seen = 0, seenSum = 0;
                    try (ResultSet r = ps[3].executeQuery()) {
                        while (r.next()) {
                            seen++;
                            seenSum += r.getInt(1);
                        }
                    }
                    if (seen != rows || seenSum != sum) {
                        problems.add("thread " + thread + " iter " + i + ": portal " + seen + "/" + seenSum);
                    }
                }
                if (kind == 3) {
                    c.rollback();
                } else {
                    if (kind != 1) c.commit();
                    committedN += i;
                    committedRows++;
                    committedSum += val;
                }
            }
            c.setAutoCommit(true);
            for (PreparedStatement p : ps) {
                if (!serverPrepared(p)) problems.add("thread " + thread + ": a statement was never server-prepared");
            }
        } catch (Exception e) {
            problems.add("thread " + thread + ": " + e);
        }
        return problems.toString();
    }

    public static void main(String[] args) throws Exception {
        url = args[0];
        try (Connection c = connect()) {
            for (String scenario : Arrays.copyOfRange(args, 1, args.length)) {
                try {
                    switch (scenario) {
                        case "basic": basic(c); break;
                        case "fetch": fetch(c); break;
                        case "batcherr": batcherr(c); break;
                        case "ddl": ddl(c); break;
                        case "threads": threads(c); break;
                        case "rollbacks": rollbacks(c); break;
                        default: throw new IllegalArgumentException("unknown scenario " + scenario);
                    }
                } catch (Exception e) {
                    put(scenario + ".failed", e.toString().replace('\n', ' '));
                    try {
                        if (!c.getAutoCommit()) {
                            c.rollback();
                            c.setAutoCommit(true);
                        }
                    } catch (SQLException again) {
                        put(scenario + ".cleanup_failed", again.toString().replace('\n', ' '));
                    }
                }
            }
        }
        for (Map.Entry<String, String> e : out.entrySet()) System.out.println(e.getKey() + "=" + e.getValue());
    }
}
