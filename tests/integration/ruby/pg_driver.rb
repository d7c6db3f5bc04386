# Ruby pg (ruby-pg) scenarios for test_php_ruby.py: named statements
# (PG::Connection#prepare / #exec_prepared), unnamed ones (#exec_params), SQL
# DEALLOCATE, the errors PostgreSQL gives for names, and pipeline mode. Several
# threads, each with its own connection (ruby-pg releases the GVL while it
# waits for the server, so they run at once). Prints one JSON object with the
# raw results; the test computes what they must be.
#   ruby pg_driver.rb SCENARIO HOST PORT DB THREADS
require 'json'
require 'pg'

scenario, host, port, dbname, threads = ARGV
THREADS = Integer(threads)
$step = {}
$out = {}

# A hang (a connection left waiting for ever) prints what was seen so far and
# the steps each thread was in, so the test fails fast and says where.
Thread.new do
  sleep 40
  puts JSON.generate($out.merge('hung_at' => $step))
  exit! 0
end

def connect(host, port, dbname, app)
  PG.connect(host: host, port: Integer(port), dbname: dbname, user: 'postgres',
             application_name: app, connect_timeout: 10)
end

# The block's value, or "error:SQLSTATE" of the server error it raised.
def outcome
  yield
rescue PG::Error => e
  sqlstate = e.result&.error_field(PG::PG_DIAG_SQLSTATE)
  raise unless sqlstate  # not a server error: a bug here or in the driver
  "error:#{sqlstate}"
end

def row(result)
  result.values.first&.map { |v| v.nil? ? 'null' : v }&.join(':') || 'no row'
end

# 5: prepare / exec_prepared / exec_params / DEALLOCATE ------------------------
# Table rb_items (id int PRIMARY KEY, grp int NOT NULL), created by the test.
def prepared(c, k)
  out = {}
  $step[k] = 'inserts'
  c.prepare('ins', 'INSERT INTO rb_items (id, grp) VALUES ($1, $2) RETURNING id * 2')
  c.prepare('sel', 'SELECT count(*), coalesce(sum(id), 0) FROM rb_items WHERE id / 1000 = $1 AND grp = $2')
  # 15 autocommit transactions, then 3 explicit ones of 5.
  out['doubled'] = (0...30).map do |i|
    c.exec('BEGIN') if i >= 15 && i % 5 == 0
    v = c.exec_prepared('ins', [k * 1000 + i, i % 5]).getvalue(0, 0)
    c.exec('COMMIT') if i >= 15 && i % 5 == 4
    v
  end
  $step[k] = 'selects'
  out['groups'] = (0...3).map do |round|
    c.exec('BEGIN') if round.odd?
    r = (0...5).map { |g| row(c.exec_prepared('sel', [k, g])) }
    c.exec('COMMIT') if round.odd?
    r
  end
  # Unnamed statements between named ones, in and out of transactions.
  $step[k] = 'exec_params'
  out['params'] = (0...10).map do |i|
    c.exec('BEGIN') if i == 5
    v = [row(c.exec_params('SELECT $1::int + $2::int, $3::text', [i, k, "p#{k}"])),
         row(c.exec_prepared('sel', [k, i % 5]))].join('|')
    c.exec('COMMIT') if i == 9
    v
  end
  # The same text with different parameter types: two statements.
  $step[k] = 'typed'
  c.prepare('int', 'SELECT $1 AS v', [23])
  c.prepare('txt', 'SELECT $1 AS v', [25])
  out['typed'] = %w[int txt].map do |name|
    d = c.describe_prepared(name)
    "#{d.paramtype(0)},#{d.ftype(0)}"
  end
  out['typed'] += [outcome { c.exec_prepared('int', ['7']).getvalue(0, 0) },
                   outcome { c.exec_prepared('txt', ["x#{k}"]).getvalue(0, 0) },
                   outcome { c.exec_prepared('int', ["x#{k}"]).getvalue(0, 0) },  # 22P02
                   # binary parameter and result
                   outcome { c.exec_prepared('int', [{ value: [k].pack('N'), format: 1 }], 1).getvalue(0, 0).unpack1('N') }]
  $step[k] = 'names'
  names = []
  # The same name again: PostgreSQL's 42P05; the statement keeps its text.
  names << outcome { c.prepare('ins', 'SELECT 1'); 'prepared' }
  names << outcome { c.exec_prepared('ins', [k * 1000 + 100, 0]).getvalue(0, 0) }
  names << outcome { c.exec_prepared('nope', [1]).getvalue(0, 0) }  # 26000
  names << outcome { c.exec('DEALLOCATE nope'); 'deallocated' }      # 26000
  names << outcome { c.describe_prepared('nope').nfields }           # 26000
  names << outcome { (0...c.describe_prepared('sel').nfields).map { |i| c.describe_prepared('sel').fname(i) }.join(',') }
  # DEALLOCATE through SQL, then the name prepared again with another text.
  names << outcome { c.exec('DEALLOCATE sel'); 'deallocated' }
  names << outcome { row(c.exec_prepared('sel', [k, 0])) }           # 26000
  names << outcome do
    c.prepare('sel', 'SELECT count(*), coalesce(max(id), 0), $2::int AS g FROM rb_items WHERE id / 1000 = $1 AND grp = $2')
    'prepared'
  end
  names << outcome { row(c.exec_prepared('sel', [k, 1])) }
  # 42P05 inside a transaction aborts it like any error; after ROLLBACK the
  # first statement of that name is still there.
  c.exec('BEGIN')
  names << outcome { c.exec_prepared('ins', [k * 1000 + 101, 1]).getvalue(0, 0) }
  names << outcome { c.prepare('ins', 'SELECT 2'); 'prepared' }
  names << outcome { c.exec_prepared('ins', [k * 1000 + 102, 2]).getvalue(0, 0) }  # 25P02
  c.exec('ROLLBACK')
  names << outcome { c.exec_prepared('ins', [k * 1000 + 103, 3]).getvalue(0, 0) }
  # DEALLOCATE in an aborted transaction is refused (25P02): the statement
  # survives the ROLLBACK.
  c.exec('BEGIN')
  names << outcome { c.exec('SELECT 1 / 0') }
  names << outcome { c.exec('DEALLOCATE sel'); 'deallocated' }
  c.exec('ROLLBACK')
  names << outcome { row(c.exec_prepared('sel', [k, 2])) }
  # DEALLOCATE is not transactional: rolled back, the statement stays gone.
  c.exec('BEGIN')
  names << outcome { c.exec('DEALLOCATE sel'); 'deallocated' }
  c.exec('ROLLBACK')
  names << outcome { row(c.exec_prepared('sel', [k, 2])) }           # 26000
  # A prepare in an aborted transaction fails and creates nothing; a prepare
  # in a transaction that rolls back stays.
  c.exec('BEGIN')
  names << outcome { c.exec('SELECT 1 / 0') }
  names << outcome { c.prepare('late', 'SELECT $1::int - 1'); 'prepared' }  # 25P02
  c.exec('ROLLBACK')
  names << outcome { c.exec_prepared('late', [k]).getvalue(0, 0) }  # 26000
  c.exec('BEGIN')
  names << outcome { c.prepare('late', 'SELECT $1::int - 2'); 'prepared' }
  c.exec('ROLLBACK')
  names << outcome { c.exec_prepared('late', [k]).getvalue(0, 0) }
  # DEALLOCATE ALL drops every name of this connection only.
  names << outcome { c.exec('DEALLOCATE ALL'); 'deallocated' }
  names << outcome { c.exec_prepared('ins', [k * 1000 + 104, 4]).getvalue(0, 0) }  # 26000
  names << outcome { c.exec_prepared('late', [k]).getvalue(0, 0) }                 # 26000
  c.prepare('ins', 'INSERT INTO rb_items (id, grp) VALUES ($1, $2) RETURNING id * 2')
  names << outcome { c.exec_prepared('ins', [k * 1000 + 105, 0]).getvalue(0, 0) }
  out['names'] = names
  $step[k] = 'final'
  out['final'] = row(c.exec_params('SELECT count(*), sum(id) FROM rb_items WHERE id / 1000 = $1', [k]))
  out
end

# 6: pipeline mode ------------------------------------------------------------
# Three Syncs in flight: named executions (one prepared inside the pipeline),
# a division by zero in the second segment, an unnamed statement in the
# third. Rounds alternate between outside and inside a transaction block.
def pipeline(c, k)
  $step[k] = 'prepare'
  c.prepare('dbl', 'SELECT $1::int * 2')
  out = []
  6.times do |round|
    $step[k] = "round #{round}"
    in_tx = round.odd?
    c.exec('BEGIN') if in_tx
    c.enter_pipeline_mode
    name = "div#{round}"
    c.send_prepare(name, 'SELECT 100 / $1::int')
    3.times { |i| c.send_query_prepared('dbl', [k * 100 + round * 10 + i]) }
    c.pipeline_sync
    c.send_query_prepared(name, [round + 1])
    c.send_query_prepared(name, [0])
    c.send_query_prepared('dbl', [round])
    c.pipeline_sync
    c.send_query_prepared(name, [4])
    c.send_query_params('SELECT $1::text || $2::text', ["r#{round}", "k#{k}"])
    c.send_query_prepared('dbl', [-round])
    c.pipeline_sync
    results = []
    syncs = 0
    while syncs < 3
      r = c.get_result
      next if r.nil?
      results << case r.result_status
                 when PG::PGRES_PIPELINE_SYNC then syncs += 1; 'sync'
                 when PG::PGRES_TUPLES_OK then r.getvalue(0, 0)
                 when PG::PGRES_COMMAND_OK then 'ok'
                 when PG::PGRES_PIPELINE_ABORTED then 'aborted'
                 when PG::PGRES_FATAL_ERROR then "error:#{r.error_field(PG::PG_DIAG_SQLSTATE)}"
                 else r.res_status(r.result_status)
                 end
    end
    c.exit_pipeline_mode
    # The error aborted the block opened before the pipeline.
    results << c.transaction_status.to_s
    c.exec('ROLLBACK') if in_tx
    # The statement the pipeline prepared is usable afterwards.
    results << c.exec_prepared(name, [20]).getvalue(0, 0)
    out << results
  end
  out
end

begin
  unless %w[prepared pipeline].include?(scenario)
    raise ArgumentError, "unknown scenario #{scenario}"
  end
  if scenario == 'pipeline' && !PG::Connection.instance_methods.include?(:enter_pipeline_mode)
    # ruby-pg older than 1.3, or built against libpq older than 14.
    $out['unsupported'] = "pipeline mode needs ruby-pg >= 1.3 with libpq >= 14 (have #{PG::VERSION})"
  else
    workers = (0...THREADS).map do |k|
      Thread.new do
        c = connect(host, port, dbname, "ruby-#{scenario}-#{k}")
        begin
          send(scenario, c, k)
        ensure
          c.close
        end
      end
    end
    workers.each_with_index { |t, k| $out["t#{k}"] = t.value }
  end
rescue StandardError => e
  # Not a provoked error: report it, the test fails on it.
  $out['unexpected'] = "#{e.class}: #{e.message} at #{e.backtrace&.first}"
end
puts JSON.generate($out)
