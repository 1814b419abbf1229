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
	"time"
	"unicode/utf8"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

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
	db      *sql.DB
	dialect Dialect
	now     func() time.Time
	policy  intel.TLPPolicy
	log     *slog.Logger
}

// Open connects to the database named by opts.DSN and applies any pending
// migrations (on PostgreSQL under a session advisory lock, so replicas
// starting together do not race).
func Open(ctx context.Context, opts Options) (*Store, error) {
	s := &Store{now: opts.Now, policy: opts.TLPPolicy, log: opts.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	var err error
	switch {
	case opts.DSN == "":
		return nil, intel.Errorf(intel.EINVALID, "store: no database given: want a SQLite file path or a postgres:// URL")
	case strings.HasPrefix(opts.DSN, "postgres://"), strings.HasPrefix(opts.DSN, "postgresql://"):
		s.dialect = Postgres
		s.db, err = sql.Open("pgx", opts.DSN)
		if err == nil {
			s.db.SetMaxOpenConns(16)
			s.db.SetMaxIdleConns(16)
		}
	default:
		s.dialect = SQLite
		s.db, err = openSQLite(opts.DSN)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", s.dialect, redactDSN(err, opts.DSN))
	}
	if err := s.db.PingContext(ctx); err != nil {
		s.db.Close()
		return nil, fmt.Errorf("store: connect to %s: %w", s.dialect, redactDSN(err, opts.DSN))
	}
	if err := s.migrate(ctx); err != nil {
		s.db.Close()
		return nil, err
	}
	return s, nil
}

func openSQLite(dsn string) (*sql.DB, error) {
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
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("bad SQLite options %q: %w", query, err)
	}
	// WAL lets readers run beside the one writer; synchronous=NORMAL is
	// durable across process crashes in WAL mode; immediate transactions take
	// the write lock up front so that two writers queue instead of deadlocking.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "foreign_keys(1)",
		"synchronous(NORMAL)", "cache_size(-65536)", "temp_store(MEMORY)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
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
func (s *Store) Close() error { return s.db.Close() }

// Dialect tells which database the store uses.
func (s *Store) Dialect() Dialect { return s.dialect }

// DB returns the underlying handle, for the health check and for tests.
func (s *Store) DB() *sql.DB { return s.db }

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

// placeholders returns "($n,$n+1,…),(…)" for rows×cols parameters starting at $start.
func placeholders(rows, cols, start int) string {
	var b strings.Builder
	n := start
	for r := 0; r < rows; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := 0; c < cols; c++ {
			if c > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "$%d", n)
			n++
		}
		b.WriteByte(')')
	}
	return b.String()
}

// list returns "$start,…" for n parameters.
func list(n, start int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "$%d", start+i)
	}
	return b.String()
}

// chunks calls f for consecutive slices of at most size elements.
func chunks[T any](s []T, size int, f func([]T) error) error {
	for len(s) > 0 {
		n := min(size, len(s))
		if err := f(s[:n]); err != nil {
			return err
		}
		s = s[n:]
	}
	return nil
}
