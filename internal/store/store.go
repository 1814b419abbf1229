package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite"

	"github.com/flintcti/flint/internal/intel"
)

//go:embed migrations
var migrations embed.FS

// Dialect names the database behind a Store.
type Dialect string

// Supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Options configure Open.
type Options struct {
	// DSN is a postgres:// or postgresql:// URL for PostgreSQL, or the path of
	// a SQLite file (created if missing; "file:" URIs are accepted too).
	DSN string
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// TLPPolicy chooses how an object's effective TLP follows from its sources'.
	TLPPolicy intel.TLPPolicy
	// Logger receives migration and slow-path messages; discarded when nil.
	Logger *slog.Logger
}

// Store is Flint's intelligence store.
type Store struct {
	db      *sql.DB // writes, and reads inside transactions
	rdb     *sql.DB // reads outside transactions (SQLite: a pool of small-cache, query-only connections; PostgreSQL: db)
	stmts   stmtCache
	rstmts  stmtCache
	texts   sync.Map // [3]int{rows, cols, start} → placeholder text
	dialect Dialect
	now     func() time.Time
	policy  intel.TLPPolicy
	log     *slog.Logger
	// pageGate lets one page transaction at a time into SQLite's writer, in
	// the order they asked: SQLite's own lock is taken by polling, and a
	// poll that begins its next transaction as soon as it commits could
	// keep another channel's waiting past the busy timeout.
	pageGate chan struct{}
	limits   sync.Map // key → *rate.Limiter: SQLite's rate limits (rate.go)
}

// Open connects to the database named by opts.DSN and applies any pending
// migrations (on PostgreSQL under a session advisory lock, so replicas
// starting together do not race).
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{now: opts.Now, policy: opts.TLPPolicy, log: opts.Logger, pageGate: make(chan struct{}, 1)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	switch {
	case opts.DSN == "":
		return nil, intel.Errorf(intel.EINVALID, "no database given: want a SQLite file path or a postgres:// URL")
	case strings.HasPrefix(opts.DSN, "postgres://"), strings.HasPrefix(opts.DSN, "postgresql://"):
		s.dialect = Postgres
		s.db, err = openPostgres(opts.DSN)
		s.rdb = s.db
	default:
		s.dialect = SQLite
		if s.db, err = openSQLite(opts.DSN, false); err == nil {
			if s.rdb, err = openSQLite(opts.DSN, true); err != nil {
				s.db.Close()
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", s.dialect, redactDSN(err, opts.DSN))
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.closeDBs()
		return nil, s.damaged(fmt.Errorf("store: connect to %s: %w", s.dialect, redactDSN(err, opts.DSN)))
	}
	if err := s.migrate(ctx); err != nil {
		s.closeDBs()
		return nil, s.damaged(err)
	}
	if err := s.QuickCheck(ctx); err != nil {
		s.closeDBs()
		return nil, err
	}
	return s, nil
}

func openPostgres(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	// Always plan with the real parameters. Batched statements look up
	// hundreds of keys at once; a generic plan made while a table was still
	// empty would scan it on every later page.
	cfg.RuntimeParams["plan_cache_mode"] = "force_custom_plan"
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	return db, nil
}

// openSQLite opens the writer pool, or with readOnly the reader pool: query
// only, with a quarter of the cache, so that many concurrent API reads do not
// each grow a writer-sized cache.
func openSQLite(dsn string, readOnly bool) (*sql.DB, error) {
	path := strings.TrimPrefix(dsn, "sqlite://")
	path, query, _ := strings.Cut(strings.TrimPrefix(path, "file:"), "?")
	if path == "" || path == ":memory:" {
		return nil, errors.New("a SQLite database needs a file path (WAL does not work in memory)")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
	}
	// Created readable by its owner only, whatever the umask and the
	// directory: SQLite gives its -wal and -shm files the database file's mode.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	} else if !errors.Is(err, os.ErrExist) {
		return nil, err
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("bad SQLite options %q: %w", query, err)
	}
	// WAL lets readers run beside the one writer; synchronous=NORMAL is
	// durable across process crashes in WAL mode; immediate transactions take
	// the write lock up front so that two writers queue instead of deadlocking.
	// Pages are SQLite's default 4 KiB. (A page_size pragma here would do
	// nothing: the driver runs these sorted by name, and the size of a
	// database in WAL mode is fixed. 8 KiB pages, set before WAL, measured
	// no faster for a 1M-indicator ingest.)
	pragmas := []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)",
		"synchronous(NORMAL)", "cache_size(-65536)", "temp_store(MEMORY)", "wal_autocheckpoint(16384)"}
	conns := 8
	if readOnly {
		pragmas = []string{"busy_timeout(10000)", "cache_size(-16384)", "temp_store(MEMORY)", "query_only(1)"}
		conns = 4
	}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if !readOnly {
		q.Set("_txlock", "immediate")
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// redactDSN keeps a PostgreSQL password out of an error message.
func redactDSN(err error, dsn string) error {
	u, perr := url.Parse(dsn)
	if perr != nil || u.User == nil {
		return err
	}
	if pw, ok := u.User.Password(); ok && pw != "" && strings.Contains(err.Error(), pw) {
		return errors.New(strings.ReplaceAll(err.Error(), pw, "xxxxx"))
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations/"+string(s.dialect))
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	dialect := goose.DialectSQLite3
	if s.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker()
		if err != nil {
			return fmt.Errorf("store: migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, s.db, sub, opts...)
	if err != nil {
		return fmt.Errorf("store: migrations: %w", err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("store: migrate %s: %w", s.dialect, err)
	}
	for _, r := range res {
		s.log.Info("store: migrated", "dialect", s.dialect, "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// Close closes the database.
func (s *Store) Close() error {
	s.stmts.close()
	s.rstmts.close()
	return s.closeDBs()
}

func (s *Store) closeDBs() error {
	if s.rdb != nil && s.rdb != s.db {
		s.rdb.Close()
	}
	return s.db.Close()
}

// stmtCache keeps prepared statements by SQL text. Batched statements differ
// only by their number of rows, so a handful of texts serve every page, and
// preparing a statement of thousands of parameters costs as much as running it.
// A full cache takes no more texts (they run unprepared) and never closes a
// statement another goroutine may be using.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

const stmtCacheMax = 256

// get returns the cached statement for query, preparing it on db; nil (and
// no error) when the cache is full.
func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[query]; ok {
		return st, nil
	}
	if len(c.m) >= stmtCacheMax {
		return nil, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// txQuery runs a cached prepared statement inside tx, or outside any
// transaction on the read pool when tx is nil.
func (s *Store) txQuery(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	if tx == nil {
		st, err := s.rstmts.get(ctx, s.rdb, query)
		switch {
		case err != nil:
			return nil, err
		case st == nil:
			return s.rdb.QueryContext(ctx, query, args...)
		}
		return st.QueryContext(ctx, args...)
	}
	st, err := s.stmts.get(ctx, s.db, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return tx.QueryContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
}

// txExec runs a cached prepared statement inside tx.
func (s *Store) txExec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmts.get(ctx, s.db, query)
	switch {
	case err != nil:
		return nil, err
	case st == nil:
		return tx.ExecContext(ctx, query, args...)
	}
	return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
}

// Dialect tells which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// PoolStats returns the statistics of the store's connection pools by
// name: "write" (writes, and reads in transactions) and, on SQLite,
// "read" (the query-only connections).
func (s *Store) PoolStats() map[string]sql.DBStats {
	out := map[string]sql.DBStats{"write": s.db.Stats()}
	if s.rdb != s.db {
		out["read"] = s.rdb.Stats()
	}
	return out
}

// Size returns the database's size on disk in bytes (on SQLite after a
// checkpoint has moved the write-ahead log into the file).
func (s *Store) Size(ctx context.Context) (int64, error) {
	var n int64
	if s.dialect == Postgres {
		err := s.db.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&n)
		return n, err
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return 0, err
	}
	err := s.db.QueryRowContext(ctx, `SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&n)
	return n, err
}

// micros converts a time to the stored form: Unix microseconds, NULL for zero.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

// vkeyMax is the longest value stored as its own key. PostgreSQL's btree
// entries must stay under about 2.7 kB, so longer values (URLs with huge
// query strings, extracted configs) are keyed by a prefix and their SHA-256;
// the prefix keeps prefix search working.
const vkeyMax = 512

// Vkey returns the unique key stored for a normalised value.
func Vkey(value string) string {
	if len(value) <= vkeyMax {
		return value
	}
	cut := 256
	for cut > 0 && !utf8.RuneStart(value[cut]) {
		cut--
	}
	sum := sha256.Sum256([]byte(value))
	return value[:cut] + "\x1fsha256:" + hex.EncodeToString(sum[:])
}

// Optimize refreshes the planner's statistics; run it after large loads.
func (s *Store) Optimize(ctx context.Context) error {
	if s.dialect == Postgres {
		if _, err := s.db.ExecContext(ctx, `ANALYZE`); err != nil {
			return fmt.Errorf("store: optimize: %w", err)
		}
		return nil
	}
	// ANALYZE samples each index (analysis_limit rows of it, as SQLite
	// advises for PRAGMA optimize) instead of reading all of it: a whole
	// read of a million-object store took 1.5 s of a 40 s load.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: optimize: %w", err)
	}
	defer conn.Close()
	// Other connections keep the statistics they loaded with the schema: a
	// read connection of the API planned a vulnerability search by figures
	// from before the vulnerabilities were loaded and scanned every object
	// (70 ms instead of 3). A schema change makes every connection reload
	// the schema, and the statistics with it, before its next statement; an
	// empty table created and dropped is the cheapest one.
	for _, stmt := range []string{`PRAGMA analysis_limit = 1000`, `PRAGMA optimize = 0x10002`, `PRAGMA analysis_limit = 0`,
		`CREATE TABLE IF NOT EXISTS reload_statistics (x INTEGER)`, `DROP TABLE reload_statistics`} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("store: optimize: %w", err)
		}
	}
	return nil
}
