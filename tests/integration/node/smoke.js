// Drives node-postgres (`pg`) or postgres.js (`postgres`) against HOST PORT DB
// and prints one JSON line with what it saw. Used by test_drivers.py.
'use strict';
const [driver, host, port, database, prepare] = process.argv.slice(2);

async function withPg() {
  const { Client } = require('pg');
  const client = new Client({ host, port: Number(port), database, user: 'postgres' });
  await client.connect();
  const out = {};
  out.sum = (await client.query('SELECT $1::int + $2::int AS s', [40, 2])).rows[0].s;
  await client.query('CREATE TABLE IF NOT EXISTS node_pg(id int primary key, v text)');
  await client.query('BEGIN');
  for (let i = 0; i < 50; i++) await client.query('INSERT INTO node_pg VALUES ($1, $2)', [i, 'v' + i]);
  await client.query('COMMIT');
  await client.query('BEGIN');
  await client.query("INSERT INTO node_pg VALUES (1000, 'rolled back')");
  await client.query('ROLLBACK');
  out.count = Number((await client.query('SELECT count(*) AS n FROM node_pg')).rows[0].n);
  try {
    await client.query('SELECT 1/0');
  } catch (e) {
    out.error = e.code;
  }
  out.after_error = (await client.query("SELECT 'ok' AS s")).rows[0].s;
  await client.end();
  return out;
}

async function withPostgresJs() {
  const postgres = require('postgres');
  const sql = postgres({ host, port: Number(port), database, username: 'postgres', prepare: prepare === 'prepare', max: 1 });
  const out = {};
  out.sum = (await sql`SELECT ${40}::int + ${2}::int AS s`)[0].s;
  await sql`CREATE TABLE IF NOT EXISTS node_pgjs(id int primary key, v text)`;
  await sql.begin(async (tx) => {
    for (let i = 0; i < 50; i++) await tx`INSERT INTO node_pgjs VALUES (${i}, ${'v' + i})`;
  });
  try {
    await sql.begin(async (tx) => {
      await tx`INSERT INTO node_pgjs VALUES (1000, 'rolled back')`;
      throw new Error('abort');
    });
  } catch (e) { /* rolled back */ }
  out.count = Number((await sql`SELECT count(*) AS n FROM node_pgjs`)[0].n);
  try {
    await sql`SELECT 1/0`;
  } catch (e) {
    out.error = e.code;
  }
  out.after_error = (await sql`SELECT 'ok' AS s`)[0].s;
  await sql.end();
  return out;
}

(driver === 'pg' ? withPg() : withPostgresJs())
  .then((out) => { console.log(JSON.stringify(out)); })
  .catch((e) => { console.error(e.stack || String(e)); process.exit(1); });
