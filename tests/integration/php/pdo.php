<?php
// PHP PDO (pdo_pgsql) scenarios for test_php_ruby.py. Each run is one worker
// (the test starts several at once) and prints one JSON object with the raw
// results; the test computes what they must be from the data the workers
// insert.
//   php pdo.php SCENARIO MODE HOST PORT DB K
// MODE is how PDO talks to the server:
//   default    pdo_pgsql's default: server-side statements pdo_stmt_XXXXXXXX
//              (PQprepare at the first execute, PQexecPrepared, and
//              "DEALLOCATE pdo_stmt_XXXXXXXX" as a simple query when the
//              PDOStatement is destroyed)
//   emulate    PDO::ATTR_EMULATE_PREPARES => true: values quoted into the
//              text, sent as simple queries
//   unnamed    PDO::PGSQL_ATTR_DISABLE_PREPARES => true: PQexecParams (the
//              unnamed statement)
// Progress goes to stderr, so a run the test has to kill says where it hung.
declare(strict_types=1);

[, $scenario, $mode, $host, $port, $dbname, $k] = $argv;
$k = (int)$k;

function step(string $name): void {
    fwrite(STDERR, "step: $name\n");
}

function connect(string $mode, string $host, string $port, string $dbname, string $app): PDO {
    $options = [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION, PDO::ATTR_TIMEOUT => 10];
    if ($mode === 'emulate') {
        $options[PDO::ATTR_EMULATE_PREPARES] = true;
    } elseif ($mode === 'unnamed') {
        $options[PDO::PGSQL_ATTR_DISABLE_PREPARES] = true;
    } elseif ($mode !== 'default') {
        throw new InvalidArgumentException("unknown mode $mode");
    }
    // pdo_pgsql passes the DSN's key=value pairs on to libpq.
    return new PDO("pgsql:host=$host;port=$port;dbname=$dbname;application_name=$app",
                   'postgres', null, $options);
}

// Executes $stmt and returns its first row as "a:b:c" (NULL as "null").
function one(PDOStatement $stmt, array $params = []): string {
    $stmt->execute($params);
    $row = $stmt->fetch(PDO::FETCH_NUM);
    $stmt->closeCursor();
    if ($row === false) return 'no row';
    return implode(':', array_map(fn($v) => $v === null ? 'null' : (string)$v, $row));
}

// The value of $fn, or "error:SQLSTATE" of the server error it threw.
function outcome(callable $fn): string {
    try {
        return (string)$fn();
    } catch (PDOException $e) {
        return 'error:' . ($e->errorInfo[0] ?? $e->getCode());
    }
}

// A statement that lives only while this function runs: PDO deallocates it
// when the function returns.
function scoped(PDO $db, int $x): string {
    $stmt = $db->prepare('SELECT ?::int + 1000');
    return one($stmt, [$x]);
}

// 1/2: prepared statements ----------------------------------------------------
// Table pdo_items (id int PRIMARY KEY, grp int, v text), created by the test.
function prepared(PDO $db, int $k): array {
    $out = ['emulate' => $db->getAttribute(PDO::ATTR_EMULATE_PREPARES)];
    $n = 40;
    step('inserts');
    // Prepared once, executed 40 times: 20 autocommit transactions, then 4
    // explicit transactions of 5.
    $ins = $db->prepare('INSERT INTO pdo_items (id, grp, v) VALUES (?, ?, ?)');
    for ($i = 0; $i < $n; $i++) {
        $block = $i >= $n / 2 && $i % 5 === 0;
        if ($block) $db->beginTransaction();
        $ins->execute([$k * 1000 + $i, $i % 5, sprintf('v%d-%02d', $k, $i)]);
        if ($i >= $n / 2 && $i % 5 === 4) $db->commit();
    }
    step('selects');
    // Named placeholders (PDO rewrites them to $1, $2): per group, once in
    // autocommit and once inside a transaction, three rounds.
    $sel = $db->prepare('SELECT count(*), sum(id), max(v) FROM pdo_items WHERE id / 1000 = :k AND grp = :g');
    $out['groups'] = [];
    for ($round = 0; $round < 3; $round++) {
        $row = [];
        for ($g = 0; $g < 5; $g++) $row[] = one($sel, ['k' => $k, 'g' => $g]);
        $db->beginTransaction();
        for ($g = 0; $g < 5; $g++) $row[] = one($sel, ['k' => $k, 'g' => $g]);
        $db->commit();
        $out['groups'][] = $row;
    }
    step('errors');
    // An error inside a transaction, the transaction's later statements
    // refused, rollBack(), then the same prepared statements again.
    $div = $db->prepare('SELECT 100 / ?::int');
    $out['tx_error'] = [];
    for ($j = 0; $j < 3; $j++) {
        $db->beginTransaction();
        $ins->execute([$k * 1000 + 900 + $j, 0, 'rolled back']);
        $out['tx_error'][] = outcome(fn() => one($div, [0]));
        $out['tx_error'][] = outcome(fn() => $ins->execute([$k * 1000 + 950 + $j, 0, 'refused']) ? 'ok' : 'false');
        // A statement whose first execute (its PQprepare) meets the aborted
        // transaction: it fails, and is prepared again after the rollback.
        $late = $db->prepare('SELECT ?::int - 1');
        $out['tx_error'][] = outcome(fn() => one($late, [$j]));
        $db->rollBack();
        $out['tx_error'][] = outcome(fn() => one($div, [$j + 1]));
        $out['tx_error'][] = outcome(fn() => one($late, [$j]));
        unset($late);
    }
    step('recreate');
    // The same text prepared, used and destroyed again and again (each
    // PDOStatement is a new pdo_stmt_N that is deallocated on unset).
    $out['recreated'] = [];
    for ($j = 0; $j < 12; $j++) {
        $stmt = $db->prepare('SELECT ?::int * 3, ?::text');
        $v = one($stmt, [$j, "r$k"]);
        if ($j % 3 === 0) {
            $db->beginTransaction();
            $v .= '|' . one($stmt, [$j + 1, "t$k"]);
            $db->commit();
        }
        $out['recreated'][] = $v;
        unset($stmt);
    }
    $out['scoped'] = [];
    for ($j = 0; $j < 6; $j++) $out['scoped'][] = scoped($db, $k * 10 + $j);
    // Two live statements with the same text; destroying one leaves the
    // other working.
    $a = $db->prepare('SELECT ?::int + 7');
    $b = $db->prepare('SELECT ?::int + 7');
    $twins = [one($a, [1]), one($b, [2])];
    unset($a);
    $twins[] = one($b, [3]);
    $db->beginTransaction();
    $twins[] = one($b, [4]);
    $db->commit();
    $out['twins'] = $twins;
    // A statement destroyed while its transaction is aborted: PostgreSQL
    // refuses the DEALLOCATE (25P02, which PDO ignores), so the statement
    // outlives its PDOStatement; the same text prepared after the rollback
    // is a new statement.
    $db->beginTransaction();
    $dead = $db->prepare('SELECT ?::int * 5');
    $aborted = [one($dead, [1]), outcome(fn() => one($div, [0]))];
    unset($dead);
    $db->rollBack();
    $again = $db->prepare('SELECT ?::int * 5');
    $aborted[] = one($again, [7]);
    $out['aborted_dealloc'] = $aborted;
    step('final');
    // PDO::query() is a statement of its own too (prepared, run, destroyed).
    $out['final'] = implode(':', $db->query("SELECT count(*), sum(id) FROM pdo_items WHERE id / 1000 = $k")
                                    ->fetch(PDO::FETCH_NUM));
    return $out;
}

// 3: lastInsertId() -----------------------------------------------------------
// Tables pdo_seq (id serial) and pdo_ident (id identity), created by the test.
// PDO reads the id in a statement of its own after the INSERT: lastInsertId()
// is "SELECT LASTVAL()" (a simple query), lastInsertId($seq) is
// "SELECT CURRVAL($1)" through PQexecParams. Returns the ids in the order of
// i (or "error:SQLSTATE"); the test compares them with the rows the worker
// inserted.
function lastid(PDO $db, int $k): array {
    $n = 60;
    $seq = $db->prepare('INSERT INTO pdo_seq (who, i) VALUES (?, ?)');
    $ident = $db->prepare('INSERT INTO pdo_ident (who, i) VALUES (?, ?)');
    $out = ['seq' => [], 'ident' => []];
    for ($i = 0; $i < $n; $i++) {
        step("lastid $i");
        $tx = $i % 4 === 3;  // every fourth INSERT in an explicit transaction, read after COMMIT
        if ($tx) $db->beginTransaction();
        $seq->execute([$k, $i]);
        if ($tx) $db->commit();
        $out['seq'][] = outcome(fn() => $i % 2 ? $db->lastInsertId() : $db->lastInsertId('pdo_seq_id_seq'));
        if ($tx) $db->beginTransaction();
        $ident->execute([$k, $i]);
        if ($tx) $db->commit();
        $out['ident'][] = outcome(fn() => $i % 2 ? $db->lastInsertId('pdo_ident_id_seq') : $db->lastInsertId());
    }
    return $out;
}

// Two PDO connections of one program, taking turns: A inserts, B inserts,
// then each asks for its id.
function lastid_pair(string $mode, string $host, string $port, string $dbname, int $k): array {
    $a = connect($mode, $host, $port, $dbname, 'php-pair-a');
    $b = connect($mode, $host, $port, $dbname, 'php-pair-b');
    $out = ['a' => [], 'b' => []];
    for ($i = 0; $i < 10; $i++) {
        step("pair $i");
        $a->exec("INSERT INTO pdo_seq (who, i) VALUES (1, $i)");
        $b->exec("INSERT INTO pdo_seq (who, i) VALUES (2, $i)");
        $out['a'][] = outcome(fn() => $i % 2 ? $a->lastInsertId() : $a->lastInsertId('pdo_seq_id_seq'));
        $out['b'][] = outcome(fn() => $i % 2 ? $b->lastInsertId() : $b->lastInsertId('pdo_seq_id_seq'));
    }
    return $out;
}

// Another client at the same time: prepared reads, no sequences.
function reader(PDO $db, int $k): array {
    $stmt = $db->prepare('SELECT count(*) FROM pdo_seq WHERE i >= ?');
    for ($i = 0; $i < 400; $i++) {
        one($stmt, [$i % 60]);
        if ($i % 50 === 0) step("reader $i");
    }
    return ['reads' => $i];
}

// 4: session settings ---------------------------------------------------------
// SET search_path and SET TIME ZONE once (simple queries), then many
// transactions that depend on them. Each worker makes two schemas of its own,
// each with a table acct, and switches between them.
const ZONES = ['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Kolkata'];

function settings(PDO $db, int $k): array {
    $zone = ZONES[$k % count(ZONES)];
    $out = [];
    step('schemas');
    foreach (['a', 'b'] as $s) {
        $db->exec("CREATE SCHEMA w{$k}{$s}");
        $db->exec("SET search_path TO w{$k}{$s}, public");
        $db->exec('CREATE TABLE acct (id serial PRIMARY KEY, amount int NOT NULL)');
    }
    $db->exec("SET search_path TO w{$k}a, public");
    $db->exec("SET TIME ZONE '$zone'");
    // Unqualified names resolve through the search_path set above.
    $ins = $db->prepare('INSERT INTO acct (amount) VALUES (?)');
    for ($j = 0; $j < $k + 3; $j++) $ins->execute([$k * 10 + $j]);
    $probe = $db->prepare("SELECT count(*), sum(amount), current_schema(), current_setting('TimeZone'), "
                          . "?::timestamptz::text FROM acct");
    $at = '2024-01-15 12:00:00+00';
    step('reads');
    $seen = [];
    for ($r = 0; $r < 10; $r++) {
        if ($r % 2) $db->beginTransaction();
        $seen[one($probe, [$at])] = true;
        $seen[one($db->prepare("SELECT count(*), sum(amount), current_schema(), current_setting('TimeZone'), "
                               . "'$at'::timestamptz::text FROM acct"))] = true;
        if ($r % 2) $db->commit();
    }
    $out['a'] = array_keys($seen);
    // SET inside a transaction that rolls back is undone; SET LOCAL lasts
    // until the end of its transaction.
    $db->beginTransaction();
    $db->exec("SET TIME ZONE 'Asia/Tokyo'");
    $inside = one($probe, [$at]);
    $db->rollBack();
    $out['rolled_back_set'] = [$inside, one($probe, [$at])];
    $db->beginTransaction();
    $db->exec("SET LOCAL TIME ZONE 'Pacific/Auckland'");
    $inside = one($probe, [$at]);
    $db->commit();
    $out['set_local'] = [$inside, one($probe, [$at])];
    step('switch');
    // Another schema: the statement prepared earlier now reads the other
    // table (PostgreSQL re-plans it for the new search_path).
    $db->exec("SET search_path TO w{$k}b, public");
    for ($j = 0; $j < 2; $j++) $ins->execute([$k * 100 + $j]);
    $seen = [];
    for ($r = 0; $r < 6; $r++) {
        if ($r % 2) $db->beginTransaction();
        $seen[one($probe, [$at])] = true;
        if ($r % 2) $db->commit();
    }
    $out['b'] = array_keys($seen);
    $db->exec('RESET search_path');
    $db->exec('RESET TIME ZONE');
    $out['reset'] = outcome(fn() => one($probe, [$at]));  // no acct in public
    $out['reset_zone'] = one($db->prepare("SELECT current_setting('TimeZone')"));
    return $out;
}

try {
    if ($scenario === 'lastid_pair') {
        $out = lastid_pair($mode, $host, $port, $dbname, $k);
    } else {
        $db = connect($mode, $host, $port, $dbname, "php-$scenario-$k");
        $out = match ($scenario) {
            'prepared' => prepared($db, $k),
            'lastid' => lastid($db, $k),
            'reader' => reader($db, $k),
            'settings' => settings($db, $k),
        };
    }
} catch (Throwable $e) {
    // Not a provoked error: report it, the test fails on it.
    $out = ['unexpected' => get_class($e) . ': ' . $e->getMessage() . ' at line ' . $e->getLine()];
}
echo json_encode($out), "\n";
