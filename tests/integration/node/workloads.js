// Knex / Sequelize / TypeORM-style node-postgres and postgres.js usage, run by test_workloads.py on
// PostgreSQL directly and through pgmux; prints one JSON object of what the program saw (the test
// compares the two and checks the values it can compute).
//   node workloads.js HOST PORT DB
'use strict';
const [host, port, database] = process.argv.slice(2);
const { Pool } = require('pg');
const postgres = require('postgres');
const range = (n) => Array.from({ length: n }, (_, i) => i);

let step = 'start';
setTimeout(() => {  // a hang fails fast and says where
  console.log(JSON.stringify({ hung_at: step }));
  process.exit(0);
}, 40000).unref();

// The SQLSTATE of a server error, or the value.
async function outcome(fn) {
  try {
    return await fn();
  } catch (e) {
    if (!e.code) throw e;
    return 'error:' + e.code;
  }
}

async function nodePostgres(out) {
  // Two pools of 10 with a time zone set by a connect hook (Knex's afterCreate), over pgmux's 2.
  const pool = (zone) => {
    const p = new Pool({ host, port: Number(port), database, user: 'postgres', max: 10 });
    p.on('connect', (c) => c.query(`SET TIME ZONE '${zone}'`));
    return p;
  };
  const tokyo = pool('Asia/Tokyo');
  const ny = pool('America/New_York');
  try {
    step = 'types';
    await tokyo.query(`CREATE TABLE ev (id int PRIMARY KEY, at timestamptz, amount numeric(14, 4), data bytea,
                       tags text[], doc jsonb, n bigint)`);
    const ins = await Promise.all(range(40).map((i) => (i % 2 ? tokyo : ny).query(
      `INSERT INTO ev VALUES ($1, $2, $3, $4, $5, $6, $7)
       RETURNING at, at::text AS at_text, current_setting('TimeZone') AS tz, amount::text AS amount,
                 data, tags, doc, n::text AS n`,
      [i, new Date(Date.UTC(2024, 5, 1, 12, 0, i)), `${i}.5001`, Buffer.from([i, 255, 0]), ['x', `y,${i}`, null],
        { i, s: 'é"\\' }, `${9007199254740993n + BigInt(i)}`])));
    out.types = ins.map(({ rows: [r] }) => [r.at.toISOString(), r.at_text, r.tz, r.amount, r.data.toString('hex'),
      r.tags, r.doc, r.n]);

    step = 'transactions';
    // One pool client through a failing transaction, ROLLBACK, and reuse (TypeORM's query runner).
    const c = await tokyo.connect();
    const tx = [];
    try {
      await c.query('START TRANSACTION');
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      await c.query("SET LOCAL TIME ZONE 'UTC'");
      tx.push((await c.query("SELECT at::text AS t, current_setting('transaction_isolation') AS iso FROM ev WHERE id = 1")).rows[0]);
      await c.query('SAVEPOINT trx2');  // Knex's nested transaction
      tx.push(await outcome(async () => (await c.query('INSERT INTO ev (id) VALUES (1)')).rowCount));
      await c.query('ROLLBACK TO SAVEPOINT trx2');
      tx.push((await c.query('UPDATE ev SET n = -1 WHERE id = 1')).rowCount);
      tx.push(await outcome(async () => (await c.query('SELECT 1 / 0 AS x')).rows[0].x));
      tx.push(await outcome(async () => (await c.query('SELECT 1 AS x')).rows[0].x));  // 25P02
      await c.query('ROLLBACK');
      tx.push((await c.query("SELECT at::text AS t, n::text AS n, current_setting('transaction_isolation') AS iso FROM ev WHERE id = 1")).rows[0]);
      // Sequelize-style isolation for the connection's following transactions.
      await c.query('SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE');
    } finally {
      c.release();
    }
    // Other pool clients run meanwhile; the released client keeps its session settings.
    await Promise.all(range(30).map((i) => ny.query('SELECT $1::int AS i', [i])));
    const again = await tokyo.connect();
    try {
      await again.query('BEGIN');
      tx.push((await again.query("SELECT current_setting('transaction_isolation') AS iso")).rows.map((r) => r.iso));
      await again.query('COMMIT');
    } finally {
      again.release();
    }
    out.tx = tx;
    out.zones = (await Promise.all([tokyo, ny].map((p) => p.query("SELECT current_setting('TimeZone') AS z")))).map((r) => r.rows[0].z);
  } finally {
    await tokyo.end();
    await ny.end();
  }
}

async function postgresJs(out) {
  // Startup parameters, prepare: true (named statements), 4 connections.
  const sql = postgres({ host, port: Number(port), database, username: 'postgres', max: 4, onnotice: () => {},
    connection: { TimeZone: 'Europe/Paris', application_name: 'pjs' } });
  const listenSql = postgres({ host, port: Number(port), database, username: 'postgres', max: 1, onnotice: () => {} });
  try {
    step = 'postgres.js queries';
    out.pjs = await Promise.all(range(20).map(async (i) => (await sql`
      SELECT at::text AS t, current_setting('application_name') AS app, ${`k${i}`}::text AS k
      FROM ev WHERE id = ${i}`)[0]));
    step = 'postgres.js transactions';
    out.pjsTx = await sql.begin(async (tx) => {
      await tx`SET LOCAL statement_timeout = '3s'`;
      const inner = await outcome(() => tx.savepoint(async (sp) => {
        await sp`UPDATE ev SET n = 0 WHERE id = 2`;
        await sp`SELECT 1 / 0`;
      }));
      const [{ n }] = await tx`SELECT n::text AS n FROM ev WHERE id = 2`;
      return [(await tx`SHOW statement_timeout`)[0].statement_timeout, inner, n];
    });
    out.pjsAfter = (await sql`SHOW statement_timeout`)[0].statement_timeout;
    step = 'postgres.js listen';
    const heard = [];
    const { unlisten } = await listenSql.listen('pjs_chan', (payload) => heard.push(payload));
    for (const i of range(5)) await sql.notify('pjs_chan', `p${i}`);
    await sql.begin(async (tx) => { await tx`SELECT pg_notify('pjs_chan', 'in tx')`; });
    await outcome(() => sql.begin(async (tx) => {
      await tx`SELECT pg_notify('pjs_chan', 'rolled back')`;
      await tx`SELECT 1 / 0`;
    }));
    for (let t = 0; t < 100 && heard.length < 6; t++) await new Promise((r) => setTimeout(r, 50));
    await unlisten();
    out.heard = heard;
  } finally {
    await sql.end();
    await listenSql.end();
  }
}

(async () => {
  const out = {};
  await nodePostgres(out);
  await postgresJs(out);
  console.log(JSON.stringify(out));
})().catch((e) => {
  console.log(JSON.stringify({ failed_at: step, error: String(e), code: e.code }));
  process.exit(0);
});
