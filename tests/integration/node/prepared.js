// Prepared statements of node-postgres (`pg`, named queries) and postgres.js
// (`postgres`, default prepare: true) from a pool of 10 connections, many
// concurrent calls, transactions and errors. Prints one JSON object with the
// raw results; test_prepared_jdbc_node.py computes what they must be.
//   node prepared.js pg|postgres|postgres-ddl HOST PORT DB
'use strict';
const [driver, host, port, database] = process.argv.slice(2);
const N = 200;          // concurrent calls per kind
const TX = 20;          // concurrent transactions
const range = (n) => Array.from({ length: n }, (_, i) => i);

// What the program has seen so far. If it hangs (a connection left waiting
// for ever), the watchdog prints that with the step it hung in and exits, so
// the test fails fast and says where.
let out = {};
let step = 'start';
setTimeout(() => {
  console.log(JSON.stringify({ ...out, hung_at: step }));
  process.exit(0);
}, 20000).unref();

// Runs fn and returns its value, or the SQLSTATE of the error it threw.
async function outcome(fn) {
  try {
    return await fn();
  } catch (e) {
    if (!e.code) throw e;  // not a server error: a bug in this program or the driver
    return 'error:' + e.code;
  }
}

// Per group g: the distinct "count:sum" answers seen by the calls for g
// (all calls must agree).
function distinctByGroup(rows, groupOf) {
  const seen = {};
  rows.forEach((r, i) => {
    const g = groupOf(i);
    seen[g] = seen[g] || [];
    const v = `${r.n}:${r.s}`;
    if (!seen[g].includes(v)) seen[g].push(v);
  });
  return seen;
}

async function withPg() {
  const { Pool } = require('pg');
  const pool = new Pool({ host, port: Number(port), database, user: 'postgres', max: 10 });
  const q = (name, text, values, client = pool) => client.query({ name, text, values });
  const INS = 'INSERT INTO np VALUES ($1, $2) RETURNING id * 2 AS d';
  const SEL = 'SELECT count(*)::int AS n, coalesce(sum(id), 0)::int AS s FROM np WHERE grp = $1';
  const BUMP = 'UPDATE np SET grp = grp + 100 WHERE id = $1 RETURNING grp';
  const DIV = 'SELECT 100 / $1::int AS q';
  try {
    await pool.query('CREATE TABLE np(id int PRIMARY KEY, grp int NOT NULL)');
    // Each of the 10 pool clients parses 'ins' once, then binds it on
    // whichever server connection its next transaction gets.
    step = 'inserts';
    const ins = await Promise.all(range(N).map((i) => q('ins', INS, [i, i % 5])));
    out.doubled = ins.map((r) => r.rows[0].d);
    step = 'selects';
    const sel = await Promise.all(range(N).map((i) => q('sel', SEL, [i % 5])));
    out.groups = distinctByGroup(sel.map((r) => r.rows[0]), (i) => i % 5);
    step = 'transactions';
    // Transactions: a named UPDATE then a named SELECT that must see it;
    // every third one rolls back.
    out.in_tx = await Promise.all(range(TX).map(async (k) => {
      const c = await pool.connect();
      try {
        await c.query('BEGIN');
        const bumped = (await q('bump', BUMP, [k], c)).rows[0].grp;
        const seen = (await q('grp', 'SELECT grp FROM np WHERE id = $1', [k], c)).rows[0].grp;
        await c.query(k % 3 === 0 ? 'ROLLBACK' : 'COMMIT');
        return [bumped, seen];
      } finally {
        c.release();
      }
    }));
    step = 'errors';
    // Errors in named queries on one client, which must stay usable.
    const c = await pool.connect();
    try {
      out.errors = [];
      out.errors.push(await outcome(async () => (await q('div', DIV, [0], c)).rows[0].q));
      out.errors.push(await outcome(async () => (await q('div', DIV, [4], c)).rows[0].q));
      out.errors.push(await outcome(async () => (await q('ins', INS, [0, 0], c)).rows[0].d));  // duplicate
      out.errors.push(await outcome(async () => (await q('ins', INS, [1000, 0], c)).rows[0].d));
      // Parse fails (no such table): the name stays free, the driver parses again.
      const MISS = 'SELECT count(*)::int AS n FROM np_later WHERE id < $1';
      out.errors.push(await outcome(async () => (await q('miss', MISS, [10], c)).rows[0].n));
      await c.query('CREATE TABLE np_later AS SELECT generate_series(1, 20) AS id');
      out.errors.push(await outcome(async () => (await q('miss', MISS, [10], c)).rows[0].n));
      // An error inside a transaction block, then ROLLBACK and reuse.
      await c.query('BEGIN');
      out.errors.push(await outcome(async () => (await q('div', DIV, [0], c)).rows[0].q));
      out.errors.push(await outcome(async () => (await q('sel', SEL, [1], c)).rows[0].n));
      await c.query('ROLLBACK');
      out.errors.push(await outcome(async () => (await q('div', DIV, [5], c)).rows[0].q));
    } finally {
      c.release();
    }
    step = 'concurrent errors';
    // Many concurrent named calls, every tenth failing.
    out.divided = await Promise.all(range(N).map((i) => outcome(async () => (await q('div', DIV, [i % 10])).rows[0].q)));
    out.final = (await q('sel', SEL, [0])).rows[0];
    out.bumped = Number((await pool.query('SELECT count(*) AS n FROM np WHERE grp >= 100')).rows[0].n);
  } finally {
    await pool.end();
  }
  return out;
}

function postgresJs() {
  const postgres = require('postgres');
  // prepare is true by default: every query is a named server statement.
  return postgres({ host, port: Number(port), database, username: 'postgres', max: 10, onnotice: () => {} });
}

async function withPostgresJs() {
  const sql = postgresJs();
  try {
    await sql`CREATE TABLE pj(id int PRIMARY KEY, grp int NOT NULL)`;
    step = 'inserts';
    const ins = await Promise.all(range(N).map((i) => sql`INSERT INTO pj VALUES (${i}, ${i % 5}) RETURNING id * 2 AS d`));
    out.doubled = ins.map((r) => r[0].d);
    step = 'selects';
    const sel = await Promise.all(range(N).map((i) =>
      sql`SELECT count(*)::int AS n, coalesce(sum(id), 0)::int AS s FROM pj WHERE grp = ${i % 5}`));
    out.groups = distinctByGroup(sel.map((r) => r[0]), (i) => i % 5);
    step = 'mixed types';
    // Different parameter types for the same text are different statements.
    const mixed = await Promise.all(range(N).map((i) => (i % 2
      ? sql`SELECT ${String(i)}::text || 'x' AS v`
      : sql`SELECT ${i}::int * 3 AS v`)));
    out.mixed = mixed.map((r) => r[0].v);
    step = 'transactions';
    // sql.begin: every third transaction throws and is rolled back.
    out.in_tx = await Promise.all(range(TX).map((k) => sql.begin(async (tx) => {
      const [{ grp: bumped }] = await tx`UPDATE pj SET grp = grp + 100 WHERE id = ${k} RETURNING grp`;
      const [{ grp: seen }] = await tx`SELECT grp FROM pj WHERE id = ${k}`;
      if (k % 3 === 0) throw Object.assign(new Error('rolled back on purpose'), { result: [bumped, seen] });
      return [bumped, seen];
    }).catch((e) => {
      if (!e.result) throw e;
      return e.result;
    })));
    step = 'errors';
    // Errors, then the same statements again.
    out.errors = [];
    out.errors.push(await outcome(async () => (await sql`SELECT 100 / ${0}::int AS q`)[0].q));
    out.errors.push(await outcome(async () => (await sql`SELECT 100 / ${4}::int AS q`)[0].q));
    out.errors.push(await outcome(async () => (await sql`INSERT INTO pj VALUES (${0}, 0) RETURNING id * 2 AS d`)[0].d));
    out.errors.push(await outcome(async () => (await sql`INSERT INTO pj VALUES (${1000}, 0) RETURNING id * 2 AS d`)[0].d));
    out.errors.push(await outcome(() => sql.begin(async (tx) => {
      await tx`INSERT INTO pj VALUES (${2000}, 0)`;
      return (await tx`SELECT 100 / ${0}::int AS q`)[0].q;
    })));
    out.errors.push(await outcome(() => sql.begin(async (tx) => {
      await tx`INSERT INTO pj VALUES (${2001}, 0)`;
      return (await tx`SELECT 100 / ${5}::int AS q`)[0].q;
    })));
    // A server error in each of many concurrent transactions: each of the
    // 10 connections ends its aborted transaction with its (named) ROLLBACK.
    step = 'concurrent failing transactions';
    await sql`CREATE TABLE pj_log(k int)`;
    out.failed_tx = await Promise.all(range(TX).map((k) => outcome(() => sql.begin(async (tx) => {
      await tx`INSERT INTO pj_log VALUES (${k})`;
      return (await tx`SELECT 100 / ${k % 2}::int AS q`)[0].q;
    }))));
    out.logged = (await sql`SELECT k FROM pj_log ORDER BY k`).map((r) => r.k);
    step = 'concurrent errors';
    out.divided = await Promise.all(range(N).map((i) => outcome(async () => (await sql`SELECT 100 / ${i % 10}::int AS q`)[0].q)));
    out.final = (await sql`SELECT count(*)::int AS n, coalesce(sum(id), 0)::int AS s FROM pj WHERE grp = ${0}`)[0];
    out.bumped = (await sql`SELECT count(*)::int AS n FROM pj WHERE grp >= 100`)[0].n;
  } finally {
    await sql.end();
  }
  return out;
}

// ALTER TABLE ADD COLUMN between uses of SELECT * prepared on several
// connections of the pool: postgres.js prepares again after PostgreSQL's
// "cached plan must not change result type" and retries by itself. Each
// connection is reserved and runs one query at a time: with 40 concurrent
// calls, pipelined several per connection, postgres.js 3.4.9 hung in that
// retry on a direct connection too.
async function withPostgresJsDdl() {
  const sql = postgresJs();
  out = { before: [], after: [], again: [] };
  const CONNS = 6;
  try {
    await sql`CREATE TABLE pd(a int)`;
    await sql`INSERT INTO pd VALUES (1)`;
    const conns = await Promise.all(range(CONNS).map(() => sql.reserve()));
    const round = async (key) => {
      for (const [j, c] of conns.entries()) out[key].push(JSON.stringify((await c`SELECT *, ${j}::int AS i FROM pd`)[0]));
    };
    step = 'before';
    await round('before');
    await sql`ALTER TABLE pd ADD COLUMN b int DEFAULT 7`;
    step = 'after';
    await round('after');
    step = 'again';
    await round('again');
    conns.forEach((c) => c.release());
  } finally {
    await sql.end();
  }
  return out;
}

const run = { pg: withPg, postgres: withPostgresJs, 'postgres-ddl': withPostgresJsDdl }[driver];
run()
  .then((out) => { console.log(JSON.stringify(out)); })
  .catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
